"""The search indexer beside the web workers, as the shipped gunicorn config runs it."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request

import sqlalchemy as sa
from sqlalchemy import orm

from directory.models import Initiative, SearchOutbox, Status


def _search(server, words: str) -> str:
    url = server("/recherche?" + urllib.parse.urlencode({"q": words}))
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def _wait_until_healthy(server) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(server("/sante"), timeout=30):
                return
        except urllib.error.HTTPError as error:
            error.close()
            assert time.monotonic() < deadline, f"never healthy:\n{server.log()[-3000:]}"
            time.sleep(0.5)


def test_a_saved_change_is_found_through_every_worker_once_the_indexer_applies_it(
    gunicorn_server,
):
    """gunicorn starts ``flask search worker``: a change recorded in the outbox (as a save in
    a web worker records it, without writing the index) reaches the search of the site."""
    server = gunicorn_server(workers=2)
    _wait_until_healthy(server)  # the indexer builds the missing index first
    engine = sa.create_engine(gunicorn_server.database_url)
    with orm.Session(engine) as session:
        initiative = session.scalar(
            sa.select(Initiative).where(Initiative.status == Status.PUBLISHED).limit(1)
        )
        initiative.title = "Zythologie solidaire en Camargue"
        # What a web worker's save leaves for the indexer (its own hook writes it too).
        session.commit()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pages = [_search(server, "zythologie") for _ in range(4)]  # both workers, likely
        # The title, its matched word highlighted (the query box holds the word in lower case).
        if all(re.search(r"Zythologie(</mark>)? solidaire", page) for page in pages):
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"never found by search:\n{server.log()[-3000:]}")
    with orm.Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) == 0
    engine.dispose()
    assert "Search indexer exited" not in server.log()
