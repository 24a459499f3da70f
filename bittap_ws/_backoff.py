"""
Backoff between failed connection attempts.

The first retry waits about ``BACKOFF_INITIAL`` seconds, each further one
twice as long, up to ``BACKOFF_MAX``, each times a random factor in
[0.5, 1) so that many clients restarted together do not reconnect in step.
Exchanges of this family allow about 300 connection attempts per 5 minutes
per IP.

"""

from __future__ import annotations

import random
import time

from .errors import ConnectError

__all__ = ["BACKOFF_INITIAL", "BACKOFF_MAX", "Backoff"]

BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0


class Backoff:
    """
    How many attempts failed in a row, why the latest did, and when the
    next one may be made.

    """

    __slots__ = ("failures", "last_error", "_retry_at")

    def __init__(self) -> None:
        self.failures = 0
        self.last_error: ConnectError | None = None
        self._retry_at = 0.0

    def fail(self, error: ConnectError | None = None) -> None:
        """
        Count a failed attempt (``error``, if it could not connect at all)
        and delay the next one accordingly.

        """
        if error is not None:
            self.last_error = error
        self.failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (self.failures - 1))
        self._retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        """
        Forget the failures: a connection proved itself.

        """
        self.failures = 0

    def delay(self) -> float:
        """
        Seconds before the next attempt may be made; 0 if it may now.

        """
        if not self.failures:
            return 0.0
        return max(0.0, self._retry_at - time.monotonic())
