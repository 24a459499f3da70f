"""
A monotonic deadline, shared by the connection and the client.

"""

from __future__ import annotations

import threading
import time

__all__ = ["Deadline"]


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
