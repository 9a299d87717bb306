"""Threat: guessing a password across workers when the counters are kept in Redis.

With ``REDIS_URL`` set, every worker and server must count in the same Redis (not in its own
memory, not in a fallback): at most 5 wrong passwords per account per minute with 2 workers.
Runs against the real Redis on 127.0.0.1:6379, each test under its own key prefix.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import redis
import sqlalchemy as sa
from requirements import require
from signin_client import add_account, attempts

from directory.config import sqlalchemy_url

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        answers = client.ping()
    except redis.RedisError:
        answers = False
    require("redis", answers, "Redis ne répond pas sur 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client):
    prefix = f"annuaire-test-{uuid.uuid4().hex}"
    yield prefix
    for key in redis_client.scan_iter(f"{prefix}:*"):
        redis_client.delete(key)


def test_limit_holds_across_two_workers(gunicorn_server, tmp_path, redis_client, prefix):
    server = gunicorn_server(
        workers=2,
        env={
            "REDIS_URL": REDIS_URL,
            "THROTTLE_KEY_PREFIX": prefix,
            "AUTH_RATE_LIMIT_PER_EMAIL": "5 per minute",
            "AUTH_RATE_LIMIT_PER_ADDRESS": "10000 per hour",
        },
    )
    add_account(gunicorn_server.database_url, tmp_path / "seed", "cible@example.org")

    assert attempts([server.url], "cible@example.org", 12) == Counter(wrong=5, limited=7)
    # Counted in Redis, under this test's prefix, and not in the database.
    keys = [key.decode() for key in redis_client.scan_iter(f"{prefix}:*")]
    assert any("login-email/cible@example.org" in key for key in keys), keys
    engine = sa.create_engine(sqlalchemy_url(gunicorn_server.database_url))
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM throttle_attempt")) == 0
    engine.dispose()
