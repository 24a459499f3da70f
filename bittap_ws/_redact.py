"""
Redaction of secrets in frames before they are logged.

:func:`redact_frame` turns a frame into text that is safe to write to a log:
the value of every key that looks secret (``apiKey``, ``secretKey``,
``signature``, ``password``, ``listenKey``, ``token``...) is replaced with
``"***"``, at any depth, and so are the API key and the signature in the list
``params`` of a ``LOGIN`` request, ``[apiKey, timestamp, signature]``.

It is called only when the ``bittap_ws`` logger is enabled for DEBUG, or for
a rare frame worth a warning, so it favours thoroughness over speed.

"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["REDACTED", "redact", "redact_frame"]

#: What a secret is replaced with.
REDACTED = "***"

# Words that make a key secret, wherever it appears in a frame.
_SECRET_WORDS = "key|secret|signature|passw|passphrase|token|authorization|credential"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.IGNORECASE)

# Positions of the secrets in the list params of LOGIN:
# [apiKey, timestamp, signature].
_LOGIN_SECRETS = (0, 2)

# An HMAC-SHA256 signature in hex, or a bare secret of that shape.
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")

# "key": "value" or key=value pairs in a frame that is not JSON.
_SECRET_PAIR = re.compile(
    rf"""(?P<key>["']?[A-Za-z_]*(?:{_SECRET_WORDS})[A-Za-z_]*["']?\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\]]+)""",
    re.IGNORECASE,
)

#: How many characters of a frame are logged by default.
DEFAULT_LIMIT = 2000


def redact(value: Any) -> Any:
    """
    Return a copy of a decoded JSON value with its secrets replaced.

    Args:
        value: A value as returned by :func:`json.loads`.

    Returns:
        The same structure, with the value of every secret-looking key, and
        the secrets of a ``LOGIN`` request's list ``params``, replaced by
        :data:`REDACTED`.

    """
    if isinstance(value, dict):
        redacted = {
            key: REDACTED if _is_secret_key(key) else redact(item)
            for key, item in value.items()
        }
        method = value.get("method")
        params = value.get("params")
        if isinstance(method, str) and method.upper() == "LOGIN" and isinstance(params, list):
            redacted["params"] = [
                REDACTED if index in _LOGIN_SECRETS else redact(item)
                for index, item in enumerate(params)
            ]
        return redacted
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str) and _HEX_SIGNATURE.fullmatch(value):
        return REDACTED
    return value


def redact_frame(data: str | bytes, limit: int = DEFAULT_LIMIT) -> str:
    """
    Return a frame as text for a log, its secrets redacted.

    A JSON frame is decoded, redacted with :func:`redact` and encoded again.
    Any other frame has its ``key: value`` and ``key=value`` pairs with a
    secret-looking key redacted.

    Args:
        data: The frame's payload.
        limit: The most characters to return; a longer frame is cut and
            ends with how long it was.

    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        text = bytes(data).decode("utf-8", "replace")
    else:
        text = data
    try:
        text = json.dumps(
            redact(json.loads(text)), ensure_ascii=False, separators=(",", ":")
        )
    except (ValueError, RecursionError):  # not JSON, or absurdly deep
        text = _SECRET_PAIR.sub(_redact_pair, text)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)"
    return text


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _SECRET_KEY.search(key) is not None


def _redact_pair(match: re.Match[str]) -> str:
    return match.group("key") + REDACTED
