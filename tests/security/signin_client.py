"""Sign-in over real HTTP, as an attacker's script does it, for the throttle tests and bench.

Every request goes on a new connection (urllib does not keep connections alive), so that
successive attempts are spread over the workers of a gunicorn server. Cookies are carried by
hand: the session cookie is ``Secure`` (and maybe ``__Host-``) in production, and a cookie jar
would not send it back over the plain http of a test server.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

WRONG_PASSWORD = "Adresse électronique ou mot de passe incorrect."
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]


@dataclass
class Visitor:
    """One client: its cookies, and the headers it sends with every request."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, path: str, data: dict[str, str] | None = None) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        headers = {"Connection": "close", **self.headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers)
        try:
            with _OPENER.open(request, timeout=60) as response:
                answer = Answer(response.status, response.read().decode(), dict(response.headers))
                set_cookies = response.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, error.read().decode(), dict(error.headers))
            set_cookies = error.headers.get_all("Set-Cookie") or []
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return answer

    def csrf_token(self, path: str) -> str:
        match = _CSRF.search(self.request(path).text)
        assert match, f"pas de jeton CSRF sur {path}"
        return match.group(1)

    def post_form(self, path: str, data: dict[str, str]) -> Answer:
        """Fetch the form page for its CSRF token, then post ``data`` with it."""
        return self.request(path, {**data, "csrf_token": self.csrf_token(path)})


def sign_in(base_url: str, email: str, password: str, **headers: str) -> Answer:
    """One sign-in attempt by a fresh visitor (its own cookies, new connections)."""
    visitor = Visitor(base_url, headers=dict(headers))
    return visitor.post_form("/connexion", {"email": email, "password": password})


def outcome(answer: Answer) -> str:
    """ "wrong" (the password was checked and refused), "limited" (429), "signed in" (302),
    "unavailable" (503), or the bare status for anything else."""
    if answer.status == 200 and WRONG_PASSWORD in answer.text:
        return "wrong"
    return {429: "limited", 302: "signed in", 503: "unavailable"}.get(
        answer.status, str(answer.status)
    )


def attempts(base_urls: list[str], email: str, count: int, password: str = "faux") -> Counter:
    """``count`` wrong passwords for ``email``, sent in turn to each of ``base_urls``."""
    return Counter(
        outcome(sign_in(base_urls[number % len(base_urls)], email, password))
        for number in range(count)
    )


def add_account(database_url: str, instance: Path, email: str) -> None:
    """An active account on ``database_url``, with the tests' password (factories)."""
    from factories import make_user

    from directory import create_app
    from directory.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SEARCH_INDEX_DIR": str(instance / "search-index"),
            "SECRET_KEY": "test-secret-key-not-for-production",
        }
    )
    with app.app_context():
        make_user(email=email)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
