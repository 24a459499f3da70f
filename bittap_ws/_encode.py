"""
Requests out: ids unique in a process, and the JSON text of a request.

Pure: no I/O, no threads. Whatever cannot be sent as JSON is refused here,
before anything is sent.

"""

from __future__ import annotations

import itertools
import math
import os
import re
from typing import Any, Mapping, Sequence

from ._json import dumps as _dumps

__all__ = ["REQUEST_ID_PATTERN", "encode_request", "new_request_id"]

REQUEST_ID_PATTERN = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")

# Request ids: a random prefix per process plus a counter. They are unique
# within a process, far cheaper than uuid4(), and match the pattern allowed
# by the server. A child process made by fork() draws a new prefix so that
# its ids never repeat its parent's.

_counter = itertools.count(1)
_prefix = ""


def _new_prefix() -> None:
    global _counter, _prefix
    _prefix = os.urandom(8).hex()
    _counter = itertools.count(1)


_new_prefix()
if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    """
    Return a new request id, unique in this process.

    It matches :data:`REQUEST_ID_PATTERN`.

    """
    return f"{_prefix}-{next(_counter)}"


def encode_request(
    request_id: str,
    method: str,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
) -> str:
    """
    Build the JSON text of a request.

    Args:
        request_id: The id of the request.
        method: The method to call.
        params: A mapping or a sequence of parameters, or :obj:`None` to
            leave ``params`` out of the frame.

    Raises:
        TypeError: If ``method`` is not a :class:`str`; if ``params`` is
            not a mapping, a sequence other than a string, or :obj:`None`,
            or holds values that JSON cannot represent.
        ValueError: If ``method`` is empty, or ``params`` holds a float
            that is not finite (NaN, infinity): JSON has no such numbers.

    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, not {type(method).__name__}")
    if not method:
        raise ValueError("method must not be empty")
    frame: dict[str, Any] = {"id": request_id, "method": method}
    if params is not None:
        if isinstance(params, Mapping):
            frame["params"] = dict(params)
        elif isinstance(params, Sequence) and not isinstance(
            params, (str, bytes, bytearray)
        ):
            frame["params"] = list(params)
        else:
            raise TypeError(
                f"params must be a mapping, a sequence or None, "
                f"not {type(params).__name__}"
            )
    try:
        text = _dumps(frame)
    except (TypeError, ValueError) as exc:
        if _has_non_finite(params):
            raise ValueError(_NON_FINITE) from None
        raise TypeError(f"params cannot be encoded as JSON: {exc}") from exc
    # A non-finite float comes out as null, if at all: only then is the
    # walk through params worth its cost.
    if "null" in text and _has_non_finite(params):
        raise ValueError(_NON_FINITE)
    return text


_NON_FINITE = "params hold a float that is not finite (NaN or infinity); JSON has none"


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        value = value.values()
    elif not isinstance(value, (list, tuple)) and not (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))
    ):
        return False
    try:
        return any(_has_non_finite(item) for item in value)
    except RecursionError:  # deeper than any encoder goes: it refused already
        return False
