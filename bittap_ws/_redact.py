"""
Redaction of secrets in frames and URLs before they are logged or shown.

:func:`redact_frame` turns a frame into text that is safe to write to a log:
the value of every key that looks secret (``apiKey``, ``secretKey``,
``signature``, ``password``, ``listenKey``, ``token``..., or with ``sign``,
``sig``, ``hmac`` or ``auth`` as a whole word of its name: ``apiSign`` but
not ``signal``) is replaced with ``"***"``, at any depth, and so are
hex strings of 64, 96 or 128 digits (HMAC signatures) and the API key and
the signature in the list ``params`` of a ``LOGIN`` request,
``[apiKey, timestamp, signature]``.

It is called only when the ``bittap_ws`` logger is enabled for DEBUG, or for
a rare frame worth a warning, so it favours thoroughness over speed.

:func:`redact_url` turns a URL into text that is safe to show: in a repr,
an exception or a log. Every query value except ``format``'s, the userinfo
password (or a userinfo without one) and any fragment are replaced.

"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["REDACTED", "redact", "redact_frame", "redact_url"]

#: What a secret is replaced with.
REDACTED = "***"

# Words that make a key secret, wherever they appear in its name.
_SECRET_WORDS = "key|secret|signature|passw|passphrase|token|authorization|credential"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.IGNORECASE)

# Short words that make a key secret only as whole words of its name
# ("sign", "apiSign", "x-sig", "HMAC_SHA512"), not inside longer ones
# ("signal", "design", "author").
_SECRET_NAME_WORDS = frozenset({"sign", "sig", "hmac", "auth"})
# The words of a name: runs of letters in camelCase, snake_case or kebab-case.
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# Positions of the secrets in the list params of LOGIN:
# [apiKey, timestamp, signature].
_LOGIN_SECRETS = (0, 2)

# An HMAC-SHA256, -SHA384 or -SHA512 signature in hex, or a bare secret of
# that shape.
_HEX_SIGNATURE = re.compile(r"(?:[0-9a-fA-F]{32}){2,4}")
_HEX_IN_TEXT = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{32}){2,4}(?![0-9a-fA-F])")

# "key": "value" or key=value pairs in a frame that is not JSON; the key
# decides, in _redact_pair(), whether the value is secret.
_SECRET_PAIR = re.compile(
    r"""(?P<key>(?P<quote>["']?)(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?P=quote)\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\]]+)"""
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
        text = _HEX_IN_TEXT.sub(REDACTED, _SECRET_PAIR.sub(_redact_pair, text))
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)"
    return text


def redact_url(url: str) -> str:
    """
    Return ``url`` with its secrets replaced by :data:`REDACTED`: every
    query value but that of ``format``, a bare query word, the userinfo
    password (the whole userinfo when it has none) and the fragment.

    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{REDACTED}@{hostport}" if colon else f"{REDACTED}@{hostport}"
    if query:
        query = "&".join(_redact_query_item(item) for item in query.split("&"))
    return (
        f"{scheme}{sep}{netloc}{slash}{path}{question}{query}"
        f"{hash_}{REDACTED if fragment else ''}"
    )


# Query keys whose values are never secret.
_PUBLIC_QUERY_KEYS = frozenset({"format"})


def _redact_query_item(item: str) -> str:
    key, equals, value = item.partition("=")
    if not equals:
        return REDACTED if key else key
    if key.lower() in _PUBLIC_QUERY_KEYS:
        return item
    return f"{key}={REDACTED}"


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    if _SECRET_KEY.search(key) is not None:
        return True
    return any(word.lower() in _SECRET_NAME_WORDS for word in _NAME_WORD.findall(key))


def _redact_pair(match: re.Match[str]) -> str:
    if _is_secret_key(match.group("name")):
        return match.group("key") + REDACTED
    return match.group(0)
