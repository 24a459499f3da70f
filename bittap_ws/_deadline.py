"""
A monotonic deadline, shared by the connection and the client.

"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

__all__ = ["Deadline", "check_timeout"]


def check_timeout(value: Any, name: str = "timeout", *, zero: bool = False) -> float:
    """
    Return ``value``, a number of seconds to wait, after checking it.

    Args:
        value: The timeout.
        name: Its name, for the error message.
        zero: Whether 0 is allowed (don't wait at all).

    Raises:
        TypeError: If ``value`` is not a number.
        ValueError: If ``value`` is NaN, negative, zero without ``zero``,
            or greater than :data:`threading.TIMEOUT_MAX` (infinity
            included), which no lock or event of Python can wait for.

    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number of seconds, not NaN")
    if value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be positive, not {value!r}")
    if value > threading.TIMEOUT_MAX:
        raise ValueError(
            f"{name} must be at most {threading.TIMEOUT_MAX:g} s, not {value!r}"
        )
    return value


class Deadline:
    """
    A point in time, on the monotonic clock, by which an operation must end.

    Args:
        timeout: Seconds from now, or :obj:`None` for no deadline.

    """

    __slots__ = ("deadline",)

    def __init__(self, timeout: float | None) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """
        Seconds left before the deadline: never negative, :obj:`None` without one.

        """
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def acquire(self, lock: threading.Lock) -> bool:
        """
        Acquire ``lock``, waiting no longer than the deadline.

        Returns:
            :obj:`True` if the lock was acquired.

        """
        remaining = self.remaining()
        return lock.acquire(timeout=-1 if remaining is None else remaining)

    def expired(self) -> bool:
        """
        Tell whether the deadline has passed.

        """
        return self.deadline is not None and time.monotonic() >= self.deadline
