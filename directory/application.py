"""The directory's Flask class: one canonical address for every link, no other Host served.

Every absolute link (``url_for(..., _external=True)``: mails, API links, feeds, embed snippets,
open-data files) is built from ``PUBLIC_URL``, inside a request as outside one, whatever the
``Host`` or ``X-Forwarded-Host`` the client sent. A request whose ``Host`` is not in
``TRUSTED_HOSTS`` (derived from ``PUBLIC_URL`` in ``config``) is answered 400 before any view or
``before_request`` hook runs, so a forged host can neither trigger a mail nor count against a
throttle.
"""

from __future__ import annotations

from flask import Flask, Request, request
from werkzeug.exceptions import SecurityError
from werkzeug.routing import MapAdapter

# Where a refused Host waits, on the WSGI environ, between routing and the first hook.
_REFUSED_HOST = "directory.refused_host"


class Directory(Flask):
    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        # Outside a request Flask binds to SERVER_NAME and PREFERRED_URL_SCHEME, which
        # config derives from PUBLIC_URL.
        if request is None:
            return super().create_url_adapter(None)
        server_name = self.config["SERVER_NAME"]
        try:
            adapter = super().create_url_adapter(request)
        except SecurityError as error:
            # The French error page still builds links: route with the canonical host.
            request.environ[_REFUSED_HOST] = error
            request.host = server_name
            adapter = self.url_map.bind_to_environ(
                request.environ, server_name=server_name, subdomain=""
            )
        adapter.server_name = server_name
        adapter.url_scheme = self.config["PREFERRED_URL_SCHEME"]
        return adapter

    def preprocess_request(self):
        refused = request.environ.get(_REFUSED_HOST)
        if refused is not None:
            raise refused
        return super().preprocess_request()
