"""
The JSON library: orjson when it is installed (the ``speedups`` extra),
else the standard library's, with the same behaviour where it matters.

"""

from __future__ import annotations

import json
from typing import Any, Callable

try:  # pragma: no cover - depends on the installed extras
    import orjson
except ImportError:  # pragma: no cover
    _HAVE_ORJSON = False
else:  # pragma: no cover
    _HAVE_ORJSON = True

__all__ = ["dumps", "loads"]

dumps: Callable[[Any], str]
loads: Callable[[str | bytes], Any]

# NaN and the infinities are not JSON: the stdlib encoder refuses them with
# allow_nan=False; orjson writes them as null, so encode_request() checks.
_stdlib_dumps = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode

if _HAVE_ORJSON:  # pragma: no cover - depends on the installed extras

    def dumps(value: Any) -> str:
        encoded: bytes = orjson.dumps(value)
        return encoded.decode()

    loads = orjson.loads
else:  # pragma: no cover
    dumps = _stdlib_dumps
    loads = json.loads
