"""
Checks of what the caller gives the client, as attrs validators, and the
weak references the client hands to the layers below it.

A bad argument is a :exc:`TypeError` or :exc:`ValueError` at once, before
anything is sent; the message names the argument, never a secret's value.

"""

from __future__ import annotations

import weakref
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from ._deadline import check_timeout
from ._redact import redact_url
from .errors import ConnectionClosed

__all__ = [
    "check_url",
    "optional_text",
    "positive",
    "positive_or_none",
    "size_or_none",
    "weakly",
]


def check_url(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"url must be a string, not {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL (ws:// or wss://): {redact_url(value)!r}")


def positive(instance: Any, attribute: Any, value: Any) -> None:
    check_timeout(value, attribute.name)


def size_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int or None, not {value!r}")
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, not {value!r}")


def optional_text(instance: Any, attribute: Any, value: Any) -> None:
    # The message names the field, never its value: it may be a secret.
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"{attribute.name} must be a non-empty str or None")


def positive_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None:
        positive(instance, attribute, value)


_T = TypeVar("_T")


def weakly(method: Callable[..., _T]) -> Callable[..., _T]:
    # A bound method, held weakly; calling it once its object is gone
    # raises ConnectionClosed.
    ref = weakref.WeakMethod(method)

    def call(*args: Any, **kwargs: Any) -> _T:
        bound = ref()
        if bound is None:
            raise ConnectionClosed("the client is gone")
        return bound(*args, **kwargs)

    return call
