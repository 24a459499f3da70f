"""
The signature of a BitTap ``LOGIN`` request.

``LOGIN`` opens the private streams on a connection. Its ``params`` are a
list of three strings, ``[api_key, timestamp_ms, signature]``; BitTap
describes the signature as the timestamp "encrypted with the API secret".
This package reads that as the lower-case hex HMAC-SHA256 of the timestamp
string, keyed with the secret (:func:`sign_login`). BitTap publishes no test
vector, so the client lets its user replace the signer.

No function here puts the secret, the API key or a signature in an
exception message.

This module is pure: no I/O, no clock.

"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign_login", "login_params"]


def sign_login(api_secret: str, timestamp_ms: int) -> str:
    """
    Sign the timestamp of a ``LOGIN`` request.

    Args:
        api_secret: The API secret, used as the HMAC key in UTF-8.
        timestamp_ms: The timestamp sent with the request, in milliseconds
            since the epoch, in the server's clock. The message signed is
            ``str(timestamp_ms)``, exactly the text sent.

    Returns:
        The lower-case hex HMAC-SHA256, 64 characters.

    Raises:
        TypeError: ``api_secret`` is not a :class:`str`, or ``timestamp_ms``
            is not an :class:`int` (a :class:`bool` is refused).
        ValueError: ``api_secret`` is empty, or ``timestamp_ms`` is negative.

    """
    if not isinstance(api_secret, str):
        raise TypeError(f"api_secret must be a str, not {type(api_secret).__name__}")
    if not api_secret:
        raise ValueError("api_secret must not be empty")
    message = _timestamp_text(timestamp_ms)
    return hmac.new(api_secret.encode("utf-8"), message.encode("ascii"), hashlib.sha256).hexdigest()


def login_params(api_key: str, timestamp_ms: int, signature: str) -> list[str]:
    """
    The ``params`` of a ``LOGIN`` request: ``[api_key, "<ms>", signature]``.

    Args:
        api_key: The API key.
        timestamp_ms: The timestamp that was signed, in milliseconds.
        signature: The signature of ``timestamp_ms``, as returned by
            :func:`sign_login` or by a replacement signer.

    Returns:
        A new list of three strings, the timestamp written as ``str()``
        writes it.

    Raises:
        TypeError: ``api_key`` or ``signature`` is not a :class:`str`, or
            ``timestamp_ms`` is not an :class:`int` (a :class:`bool` is
            refused).
        ValueError: ``api_key`` or ``signature`` is empty, or
            ``timestamp_ms`` is negative.

    """
    for name, value in (("api_key", api_key), ("signature", signature)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        if not value:
            raise ValueError(f"{name} must not be empty")
    return [api_key, _timestamp_text(timestamp_ms), signature]


def _timestamp_text(timestamp_ms: object) -> str:
    # The timestamp as sent and signed; bool is an int subclass but never a
    # timestamp.
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int):
        raise TypeError(f"timestamp_ms must be an int, not {type(timestamp_ms).__name__}")
    if timestamp_ms < 0:
        raise ValueError(f"timestamp_ms must not be negative, got {timestamp_ms}")
    # int() first: an int subclass (an IntEnum) may write itself otherwise.
    return str(int(timestamp_ms))
