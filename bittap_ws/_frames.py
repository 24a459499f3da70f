"""
WebSocket frames (RFC 6455), read and written by the connection itself.

websocket-client opens the connection: TCP, TLS, proxies and the opening
handshake. Once it is open, :class:`~bittap_ws.connection.Connection` reads
and writes frames with this module, because each call through
websocket-client's own frame layer costs several microseconds of Python
(three reads per frame, an object and a validation pass per frame, an
``os.urandom()`` call and two arrays per frame sent) and the reader thread
sits on the critical path of every request.

:class:`FrameReader` cuts the bytes of one or more ``recv()`` calls into
messages, reassembling fragmented ones. :func:`build_frame` makes one masked
client frame. Both are pure: no sockets, no threads.

Protocol violations raise websocket-client's
:exc:`~websocket.WebSocketProtocolException`, with the checks
websocket-client makes.

"""

from __future__ import annotations

import os
import struct
from typing import List, Tuple

from websocket import ABNF, WebSocketProtocolException

__all__ = ["FrameReader", "MaskKeys", "build_frame", "mask"]

OP_CONT = ABNF.OPCODE_CONT
OP_TEXT = ABNF.OPCODE_TEXT
OP_BINARY = ABNF.OPCODE_BINARY
OP_CLOSE = ABNF.OPCODE_CLOSE
OP_PING = ABNF.OPCODE_PING
OP_PONG = ABNF.OPCODE_PONG

_OPCODES = frozenset(ABNF.OPCODES)
_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack

Message = Tuple[int, bytes]


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


class FrameReader:
    """
    Turn the bytes received from the server into messages.

    :meth:`feed` returns every message completed by the bytes given so far,
    as ``(opcode, payload)`` pairs: text and binary messages, reassembled
    from their fragments, and control frames (ping, pong, close) as they
    come. Bytes of an incomplete frame are kept until the rest arrives;
    they are only joined once the frame is complete, so a large message
    received in many pieces is copied once.

    """

    __slots__ = ("_buf", "_parts", "_size", "_need", "_fragments", "_fragments_opcode")

    def __init__(self) -> None:
        # Unparsed bytes: _buf, then the pieces in _parts (_size bytes),
        # which are only worth joining once there are _need bytes. _parts
        # is empty whenever _buf is.
        self._buf = b""
        self._parts: list[bytes] = []
        self._size = 0
        self._need = 0
        # The payloads of a fragmented message received so far.
        self._fragments: list[bytes] | None = None
        self._fragments_opcode = 0

    def feed(self, data: bytes) -> list[Message]:
        """
        Add ``data`` to the stream; return the messages it completes.

        Raises:
            WebSocketProtocolException: If the server broke the protocol.
                The stream cannot be trusted after that.

        """
        if self._buf:
            size = len(self._buf) + self._size + len(data)
            if size < self._need:
                self._parts.append(data)
                self._size += len(data)
                return []
            data = b"".join([self._buf, *self._parts, data])
            self._parts = []
            self._size = 0
        elif len(data) > 2 and data[0] == 0x81 and self._fragments is None:
            # The usual case: exactly one whole, unmasked text frame.
            length = data[1]
            if length < 126:
                if len(data) == 2 + length:
                    return [(OP_TEXT, data[2:])]
            elif length == 126 and len(data) == 4 + int.from_bytes(data[2:4], "big"):
                return [(OP_TEXT, data[4:])]
        messages: list[Message] = []
        end = len(data)
        pos = 0
        need = 0
        while end - pos >= 2:
            b1 = data[pos]
            b2 = data[pos + 1]
            start = pos + 2
            length = b2 & 0x7F
            if length == 126:
                if end - start < 2:
                    break
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                if end - start < 8:
                    break
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            key = b""
            if b2 & 0x80:
                # Servers must not mask; websocket-client accepts it anyway.
                if end - start < 4:
                    break
                key = data[start : start + 4]
                start += 4
            stop = start + length
            if stop > end:
                need = stop - pos
                break
            payload = data[start:stop]
            if key:
                payload = mask(key, payload)
            pos = stop
            self._frame(b1, payload, messages)
        # An incomplete header (need == 0) is parsed again when anything
        # comes; an incomplete payload once all of it has come.
        self._need = need
        self._buf = data[pos:] if pos else data
        return messages

    def _frame(self, b1: int, payload: bytes, messages: list[Message]) -> None:
        fin = b1 & 0x80
        opcode = b1 & 0x0F
        if b1 & 0x70:
            raise WebSocketProtocolException("rsv is not implemented, yet")
        if opcode == OP_TEXT or opcode == OP_BINARY:
            if self._fragments is not None:
                raise WebSocketProtocolException("Illegal frame")
            if fin:
                messages.append((opcode, payload))
            else:
                self._fragments = [payload]
                self._fragments_opcode = opcode
        elif opcode == OP_CONT:
            if self._fragments is None:
                raise WebSocketProtocolException("Illegal frame")
            self._fragments.append(payload)
            if fin:
                messages.append((self._fragments_opcode, b"".join(self._fragments)))
                self._fragments = None
        elif opcode in _OPCODES:
            # Control frames are rare: let websocket-client check them.
            ABNF(fin >> 7, 0, 0, 0, opcode, 0, payload).validate(skip_utf8_validation=True)
            messages.append((opcode, payload))
        else:
            raise WebSocketProtocolException(f"Invalid opcode {opcode!r}")
