"""
The local rate-limit guard.

A client that keeps sending after the server said "too many requests" gets
its IP banned. :class:`RateLimitGuard` remembers what the server said and
refuses calls locally until the server will accept them again:

* after a 429 or 418 answer with ``retryAfter``, until that moment;
* while the latest ``rateLimits`` show ``count >= limit`` for a window, until
  that window ends.

Windows are calendar-aligned, as the server counts them: a window of
``intervalNum`` times SECOND, MINUTE, HOUR or DAY starts at a whole multiple
of its length since the epoch (UTC). A 1 MINUTE window ends at the next whole
minute; a 10 SECOND window at the next multiple of 10 s.

Times are read from the local wall clock, :func:`time.time`, since windows
follow the calendar. :attr:`RateLimitGuard.offset` holds the server clock
minus the local clock; it is 0 until the client measures it with
:meth:`~bittap_ws.Client.clock_offset`.

This module does no I/O.

"""

from __future__ import annotations

import os
import threading
import weakref

import attrs

from .errors import RateLimitError
from .protocol import RateLimit

__all__ = ["INTERVAL_SECONDS", "RateLimitGuard", "window_end"]

#: The length of each interval unit, in seconds.
INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def window_end(interval: str, interval_num: int, now: float) -> float | None:
    """
    Return when the calendar-aligned window containing ``now`` ends.

    Args:
        interval: ``"SECOND"``, ``"MINUTE"``, ``"HOUR"`` or ``"DAY"``.
        interval_num: How many units the window spans.
        now: Seconds since the epoch.

    Returns:
        The end of the window, in seconds since the epoch, or :obj:`None`
        for an unknown unit or a non-positive ``interval_num``.

    """
    unit = INTERVAL_SECONDS.get(interval)
    if unit is None or interval_num <= 0:
        return None
    span = unit * interval_num
    return (now // span + 1) * span


@attrs.define(eq=False)
class RateLimitGuard:
    """
    Decides whether a call may be sent, from what the server said last.

    :meth:`check` sits on the path of every call: when nothing is blocked it
    reads one float and takes no lock. The updates take the lock only when a
    limit is reached or a block is in force.

    Attributes:
        offset: The server clock minus the local clock, in seconds.

    """

    offset: float = 0.0
    # _lock guards the fields below; _blocked_until is also read without it,
    # which is safe because it is only ever replaced as a whole.
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)
    # Local wall-clock time before which calls are refused: the later of
    # _retry_at and _window_until.
    _blocked_until: float = 0.0
    # From the latest retryAfter.
    _retry_at: float = 0.0
    # From the latest rateLimits: when the latest window at its limit ends,
    # and which limit that is.
    _window_until: float = 0.0
    _window_limit: RateLimit | None = None
    # When the request whose rateLimits set _window_until was sent; older
    # answers arriving later do not override it.
    _window_sent_at: float = float("-inf")
    _rate_limits: tuple[RateLimit, ...] = ()

    def __attrs_post_init__(self) -> None:
        _guards.add(self)

    # Public methods

    @property
    def blocked_until(self) -> float:
        """
        The local wall-clock time before which calls are refused.

        """
        return self._blocked_until

    def check(self, now: float, method: str = "") -> RateLimitError | None:
        """
        Tell whether a call may be sent at ``now``.

        Args:
            now: The local wall-clock time, :func:`time.time`.
            method: The method of the call, for the error.

        Returns:
            :obj:`None` when the call may be sent; otherwise the
            :exc:`RateLimitError` to raise, with ``retry_after`` set.

        """
        if now >= self._blocked_until:
            return None
        with self._lock:
            # Read again: another thread may have lifted the block.
            blocked_until = self._blocked_until
            if now >= blocked_until:
                return None
            limit = self._window_limit
            if limit is None or self._retry_at >= self._window_until:
                reason = "the server asked to wait (retryAfter)"
            else:
                reason = (
                    f"{limit.rate_limit_type} at {limit.count}/{limit.limit} "
                    f"per {limit.interval_num} {limit.interval}"
                )
            rate_limits = self._rate_limits
        return RateLimitError(
            429,
            None,
            f"refused locally, nothing sent: {reason}",
            retry_after=blocked_until - now,
            method=method,
            rate_limits=rate_limits,
        )

    def update_from_rate_limits(
        self, rate_limits: tuple[RateLimit, ...], sent_at: float
    ) -> None:
        """
        Record the ``rateLimits`` of an answer.

        The server counted the request at some time after it was sent, so
        windows are taken at ``sent_at``: a window that ended while the
        answer was on its way blocks nothing.

        Args:
            rate_limits: The ``rateLimits`` of the answer.
            sent_at: The local wall-clock time at which the request was sent.

        """
        until = 0.0
        at_limit = None
        server_sent_at = sent_at + self.offset
        for limit in rate_limits:
            if limit.count < limit.limit:
                continue
            end = window_end(limit.interval, limit.interval_num, server_sent_at)
            if end is not None and end - self.offset > until:
                until = end - self.offset
                at_limit = limit
        if until == 0.0 and self._window_until == 0.0:
            # The common case: no limit reached, and none was.
            return
        with self._lock:
            if sent_at < self._window_sent_at:
                return
            self._window_sent_at = sent_at
            self._window_until = until
            self._window_limit = at_limit
            self._rate_limits = rate_limits
            self._blocked_until = max(self._retry_at, until)

    def update_from_retry_after(self, retry_after_ms: int) -> None:
        """
        Record the ``retryAfter`` of a 429 or 418 answer.

        Args:
            retry_after_ms: When the server allows requests again, in
                milliseconds since the epoch on the server's clock.

        """
        retry_at = retry_after_ms / 1000 - self.offset
        with self._lock:
            if retry_at > self._retry_at:
                self._retry_at = retry_at
                self._blocked_until = max(retry_at, self._window_until)

    def seconds_until(self, retry_after_ms: int, now: float) -> float:
        """
        Return how many seconds from ``now`` a ``retryAfter`` value lies.

        Args:
            retry_after_ms: Milliseconds since the epoch, server clock.
            now: The local wall-clock time.

        Returns:
            The delay in seconds, never negative.

        """
        return max(0.0, retry_after_ms / 1000 - self.offset - now)

    def after_fork(self) -> None:
        """
        Replace the lock in a child process, where no other thread runs.

        """
        self._lock = threading.Lock()


_guards: weakref.WeakSet[RateLimitGuard] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for guard in list(_guards):
        guard.after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
