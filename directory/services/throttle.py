"""Throttles that hold across workers and servers: sign-in, password reset, invitations, proposals.

``hit(limit, namespace, *identifiers)`` counts one event ("5 per minute;20 per hour") and says
whether it is allowed. The counters live where every worker and server sees them:

- in Redis when ``REDIS_URL`` is set (limits' moving window, keys under ``THROTTLE_KEY_PREFIX``);
- otherwise in the database (``throttle_attempt``, one row per allowed event, as django-axes
  does), written on a connection of its own so that it never mixes with the request's session.

Both count a moving window: at most N events in *any* period, with no doubling at the edge of
a fixed window. Refused events are not recorded: a flood costs no storage, and the limit frees
itself once the oldest counted event leaves the window.

Throttles fail closed: when the storage cannot be reached, ``ThrottleUnavailable`` is raised
(and logged) instead of letting every attempt through; the web layer answers 503.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from flask import current_app
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import ThrottleAttempt

log = logging.getLogger(__name__)

EXTENSION_KEY = "annuaire_throttle"
KEY_MAX = 255
# Expired rows are deleted by the first hit after this many seconds (per process).
PRUNE_EVERY = 60
# An unreachable Redis answers within this many seconds, so a refused sign-in stays quick.
REDIS_TIMEOUT = 2.0


class ThrottleUnavailable(Exception):
    """The counters cannot be read or written: the throttled action must be refused."""

    def __init__(self, namespace: str) -> None:
        super().__init__(f"compteurs de limitation indisponibles ({namespace})")
        self.namespace = namespace


class _Store(Protocol):
    name: str
    errors: tuple[type[Exception], ...]

    def hit(self, items: Sequence[RateLimitItem], namespace: str, identifiers: tuple) -> bool: ...


def hit(limit: str, namespace: str, *identifiers: str) -> bool:
    """Count one event against every limit of ``limit``; False when one of them is spent.

    ``namespace`` names the counter ("login-email"), ``identifiers`` whom it counts (an
    account, a client address...). Raises ``ThrottleUnavailable`` when the storage is down.
    Call it before the request writes anything: on SQLite the counter's own connection would
    wait for the request's write lock.
    """
    items = parse_many(limit)
    store = _store()
    try:
        return store.hit(items, namespace, tuple(str(part) for part in identifiers))
    except store.errors as error:
        log.error(
            "Limitation des tentatives indisponible (%s, %s) : la demande est refusée. %s",
            store.name,
            namespace,
            error,
        )
        raise ThrottleUnavailable(namespace) from error


def longest_period(limit: str) -> int:
    """Seconds after which every counter of ``limit`` is free again (for Retry-After)."""
    return max(item.get_expiry() for item in parse_many(limit))


def _store() -> _Store:
    """The app's store, made at first use from the configuration then."""
    app = current_app._get_current_object()
    store = app.extensions.get(EXTENSION_KEY)
    if store is None:
        url = app.config["REDIS_URL"]
        prefix = app.config["THROTTLE_KEY_PREFIX"]
        store = RedisStore(url, prefix) if url else DatabaseStore(db.engine)
        app.extensions[EXTENSION_KEY] = store
    return store


def counter_key(namespace: str, identifiers: tuple[str, ...]) -> str:
    """A readable key ("login-email/camille@example.org"), hashed when it would be too long."""
    key = "/".join((namespace, *identifiers))
    if len(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{namespace[: KEY_MAX - 72]}/sha256:{digest}"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class DatabaseStore:
    """Counters in ``throttle_attempt``, correct with any number of workers and servers.

    Each statement commits on its own (autocommit): the new event is committed *before* the
    events of the window are counted, so of N concurrent attempts the last one to commit sees
    all the others, and no more than the limit can be allowed. A refused event is deleted again.
    """

    name = "base de données"
    errors = (SQLAlchemyError,)

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.pruned_at = 0.0

    def hit(self, items: Sequence[RateLimitItem], namespace: str, identifiers: tuple) -> bool:
        key = counter_key(namespace, identifiers)
        now = _utcnow()
        periods = [timedelta(seconds=item.get_expiry()) for item in items]
        table = ThrottleAttempt.__table__
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            inserted = conn.execute(
                table.insert().values(key=key, at=now, expires_at=now + max(periods))
            )
            attempt_id = inserted.inserted_primary_key[0]
            counts = conn.execute(
                sa.select(
                    *(sa.func.count().filter(table.c.at > now - period) for period in periods)
                ).where(table.c.key == key, table.c.at > now - max(periods))
            ).one()
            allowed = all(count <= item.amount for count, item in zip(counts, items, strict=True))
            if not allowed:
                conn.execute(table.delete().where(table.c.id == attempt_id))
            self._prune(conn, now)
        return allowed

    def _prune(self, conn: sa.Connection, now: datetime) -> None:
        """Delete expired events, at most once a minute per process (one indexed DELETE)."""
        if time.monotonic() - self.pruned_at < PRUNE_EVERY:
            return
        self.pruned_at = time.monotonic()
        conn.execute(ThrottleAttempt.__table__.delete().where(ThrottleAttempt.expires_at < now))


class RedisStore:
    """Counters in Redis (limits' moving window), shared by every process that uses it."""

    name = "Redis"

    def __init__(self, url: str, prefix: str) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        storage = RedisStorage(
            url,
            key_prefix=prefix,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
            # One quick retry for a pooled connection dropped by a restart; no long backoff.
            retry=Retry(NoBackoff(), 1),
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.errors = (StorageError, *_as_tuple(storage.base_exceptions))

    def hit(self, items: Sequence[RateLimitItem], namespace: str, identifiers: tuple) -> bool:
        return all(self.limiter.hit(item, namespace, *identifiers) for item in items)


def _as_tuple(errors: type[Exception] | tuple[type[Exception], ...]) -> tuple:
    return errors if isinstance(errors, tuple) else (errors,)
