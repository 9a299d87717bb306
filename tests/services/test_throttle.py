"""The throttle service on its database counters (no Redis): moving window, pruning, keys."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from directory.extensions import db
from directory.models import ThrottleAttempt
from directory.models.base import utcnow
from directory.services import throttle


def _rows(key: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(ThrottleAttempt)
    if key is not None:
        query = query.where(ThrottleAttempt.key == key)
    return db.session.scalar(query)


def test_allows_the_limit_then_refuses_without_recording(app_ctx):
    assert [throttle.hit("3 per minute", "login-email", "a@example.org") for _ in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert _rows("login-email/a@example.org") == 3  # refused attempts cost no row
    assert throttle.hit("3 per minute", "login-email", "b@example.org")
    assert throttle.hit("3 per minute", "login-address", "a@example.org")


def test_every_limit_of_a_list_counts(app_ctx):
    allowed = [throttle.hit("5 per minute;2 per hour", "reset-email", "c") for _ in range(3)]
    assert allowed == [True, True, False]


def test_old_attempts_leave_the_window_and_are_pruned(app_ctx):
    past = utcnow() - timedelta(minutes=2)
    for _ in range(5):
        db.session.add(
            ThrottleAttempt(key="login-email/d", at=past, expires_at=past + timedelta(minutes=1))
        )
    db.session.commit()
    assert throttle.hit("5 per minute", "login-email", "d")
    db.session.expire_all()
    assert _rows("login-email/d") == 1  # the expired ones went at this first hit


def test_long_identifiers_make_a_bounded_key(app_ctx):
    identifier = "x" * 1000 + "@example.org"
    assert throttle.hit("1 per minute", "login-email", identifier)
    assert not throttle.hit("1 per minute", "login-email", identifier)
    key = throttle.counter_key("login-email", (identifier,))
    assert len(key) <= 255 and key.startswith("login-email/sha256:")
    assert _rows(key) == 1


def test_a_count_outlives_the_request_that_made_it(app_ctx):
    assert throttle.hit("1 per minute", "login-email", "e")
    db.session.add(ThrottleAttempt(key="pending", at=utcnow(), expires_at=utcnow()))
    db.session.flush()
    db.session.rollback()  # the request's own work is undone, the counter stays
    assert _rows("pending") == 0
    assert _rows("login-email/e") == 1
