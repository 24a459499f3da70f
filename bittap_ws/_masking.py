"""
The client's frames: final, and masked as RFC 6455 requires of a client,
with keys drawn in batches from the operating system's random source.

Pure: no sockets, no threads.

"""

from __future__ import annotations

import os
import struct
from typing import List

__all__ = ["MaskKeys", "build_frame", "mask"]

_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack


def _mask(key: bytes, data: bytes) -> bytes:
    """
    XOR ``data`` with the 4-byte ``key`` repeated; masking and unmasking
    are the same operation.

    """
    n = len(data)
    if not n:
        return b""
    pattern = (key * ((n + 3) >> 2))[:n]
    masked = int.from_bytes(data, "little") ^ int.from_bytes(pattern, "little")
    return masked.to_bytes(n, "little")


def _mask_wsaccel(key: bytes, data: bytes) -> bytes:
    """
    Like :func:`_mask`, in C, by wsaccel (the ``speedups`` extra).

    """
    return XorMaskerSimple(key).process(data)  # type: ignore[no-any-return]


try:  # pragma: no cover - depends on the installed extras
    from wsaccel.xormask import XorMaskerSimple
except ImportError:  # pragma: no cover
    mask = _mask
else:  # pragma: no cover
    mask = _mask_wsaccel


def build_frame(opcode: int, payload: bytes, key: bytes) -> bytes:
    """
    Build one final (unfragmented) client frame, masked with ``key``.

    """
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = _pack_16(0x80 | opcode, 0xFE, n)
    else:
        header = _pack_64(0x80 | opcode, 0xFF, n)
    return header + key + mask(key, payload)


class MaskKeys:
    """
    Mask keys drawn from the operating system's random source, 64 at a
    time: one ``os.urandom()`` call, which releases the GIL, per 64 frames.

    Not thread-safe: the connection draws keys under its send lock.

    """

    __slots__ = ("_keys",)

    BATCH = 64

    def __init__(self) -> None:
        self._keys: List[bytes] = []

    def next(self) -> bytes:
        """
        Return a fresh 4-byte key; a key is never handed out twice.

        """
        keys = self._keys
        if not keys:
            pool = os.urandom(4 * self.BATCH)
            keys = self._keys = [pool[i : i + 4] for i in range(0, len(pool), 4)]
        return keys.pop()
