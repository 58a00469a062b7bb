"""Failed password sign-ins slow the guesser down without letting anybody lock a known user out.

Counters live in Redis, keyed by hashes of the typed username (known or not: the answers must not tell them apart)
and of the client address (the *source*):

- per username and source: from ``max_failures`` failures on, each further attempt from that source waits, twice as
  long each time (30 s, 1 min, 2 min, ... at most ``lock_minutes``). A stranger slows down only their own source.
- per username from every source: past ``3 * max_failures`` failures (a guesser spread over many addresses), every
  *unknown* source waits likewise; a source that has signed in to this account before (a known source, kept 90
  days) is never delayed by other people's failures.

A success from a source clears that source's counters. Nothing here is a hard lock: the waits are short and grow
only with more failures. When Redis is unreachable the throttle lets attempts through (the per-address rate limit
still applies) and says so in the log.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

FIRST_WAIT = timedelta(seconds=30)
KNOWN_FOR = timedelta(days=90)
SPREAD_FACTOR = 3  # failures from all sources, in multiples of max_failures, before unknown sources wait


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, redis, *, max_failures: int, lock_minutes: int, prefix: str = "login"):
        self.redis = redis
        self.max_failures = max(1, max_failures)
        self.max_wait = timedelta(minutes=max(1, lock_minutes))
        self.prefix = prefix

    def _keys(self, username: str, source: str | None) -> dict[str, str]:
        user = _h(username.strip().lower())
        src = _h(source or "-")
        p = self.prefix
        return {
            "src_fail": f"{p}:fail:{user}:{src}",
            "src_wait": f"{p}:wait:{user}:{src}",
            "all_fail": f"{p}:fail:{user}",
            "all_wait": f"{p}:wait:{user}",
            "known": f"{p}:known:{user}",
            "src": src,
        }

    def _wait(self, failures: int, threshold: int) -> timedelta | None:
        if failures < threshold:
            return None
        return min(FIRST_WAIT * 2 ** min(failures - threshold, 20), self.max_wait)

    def wait_until(self, username: str, source: str | None, now: datetime | None = None) -> datetime | None:
        """When this source may try this username again, or None when it may now."""
        now = now or datetime.now(UTC)
        keys = self._keys(username, source)
        try:
            pipe = self.redis.pipeline()
            pipe.get(keys["src_wait"])
            pipe.get(keys["all_wait"])
            pipe.sismember(keys["known"], keys["src"])
            src_wait, all_wait, known = pipe.execute()
        except Exception:
            log.warning("login throttle unavailable", exc_info=True)
            return None
        candidates = [float(src_wait)] if src_wait else []
        if all_wait and not known:
            candidates.append(float(all_wait))
        until = max(candidates, default=None)
        if until is None or until <= now.timestamp():
            return None
        return datetime.fromtimestamp(until, UTC)

    def failed(self, username: str, source: str | None, now: datetime | None = None) -> datetime | None:
        """Count a failure; return when this source may try again, if it now has to wait."""
        now = now or datetime.now(UTC)
        keys = self._keys(username, source)
        window = int((self.max_wait + FIRST_WAIT).total_seconds()) * 2
        try:
            pipe = self.redis.pipeline()
            pipe.incr(keys["src_fail"])
            pipe.expire(keys["src_fail"], window)
            pipe.incr(keys["all_fail"])
            pipe.expire(keys["all_fail"], window)
            src_failures, _e1, all_failures, _e2 = pipe.execute()
            src_wait = self._wait(src_failures, self.max_failures)
            all_wait = self._wait(all_failures, SPREAD_FACTOR * self.max_failures)
            pipe = self.redis.pipeline()
            for key, wait in ((keys["src_wait"], src_wait), (keys["all_wait"], all_wait)):
                if wait is not None:
                    pipe.set(key, (now + wait).timestamp(), px=int(wait.total_seconds() * 1000))
            pipe.execute()
        except Exception:
            log.warning("login throttle unavailable", exc_info=True)
            return None
        return self.wait_until(username, source, now)

    def succeeded(self, username: str, source: str | None) -> None:
        """Clear this source's counters and remember it as a known source of the account."""
        keys = self._keys(username, source)
        try:
            pipe = self.redis.pipeline()
            pipe.delete(keys["src_fail"], keys["src_wait"])
            pipe.sadd(keys["known"], keys["src"])
            pipe.expire(keys["known"], int(KNOWN_FOR.total_seconds()))
            pipe.execute()
        except Exception:
            log.warning("login throttle unavailable", exc_info=True)
