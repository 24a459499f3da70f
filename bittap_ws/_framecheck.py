"""
What RFC 6455 forbids a server to send, checked: the opcodes and close
codes, :exc:`FrameError` with the close code to fail the connection with,
and the checks of a frame's header and of a close frame's payload.

Pure: no sockets, no threads.

"""

from __future__ import annotations

from typing import Tuple, Union

__all__ = [
    "CLOSE_INVALID_DATA",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_TOO_BIG",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameError",
    "Message",
    "check_close",
    "check_header",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009

# Close codes a peer may send (RFC 6455 7.4.1 and the IANA registry): 1004
# is reserved, and 1005, 1006 and 1015 only ever stand for a missing code in
# an API; 3000-4999 belong to libraries, frameworks and applications.
_CLOSE_CODES = frozenset(range(1000, 1004)) | frozenset(range(1007, 1015))

#: One message: ``(OP_TEXT, str)``, or ``(opcode, bytes)`` for binary
#: messages and control frames.
Message = Tuple[int, Union[str, bytes]]


class FrameError(Exception):
    """
    The server broke RFC 6455: the connection must be failed.

    Attributes:
        code: The close code to fail the connection with: 1002 (protocol
            error), 1007 (invalid data) or 1009 (message too big).
        reason: What was wrong, in a few words; fit for a close frame.
        messages: The messages completed by the bytes before the bad frame,
            in order, which the caller should still handle.

    """

    def __init__(self, code: int, reason: str, messages: list[Message] | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.messages: list[Message] = [] if messages is None else messages

    def __str__(self) -> str:
        return f"{self.reason} (close code {self.code})"


def check_header(b1: int, b2: int, opened: int) -> None:
    """
    Check the first two bytes of a frame other than a final text or binary
    frame, or of any frame while the message ``opened`` is fragmented.

    Raises:
        FrameError: If the frame may not come.

    """
    opcode = b1 & 0x0F
    if b1 & 0x70:
        raise FrameError(CLOSE_PROTOCOL_ERROR, "RSV bits set without an extension")
    if opcode >= 0x8:
        if opcode > OP_PONG:
            raise FrameError(CLOSE_PROTOCOL_ERROR, f"reserved opcode {opcode}")
        if not b1 & 0x80:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "fragmented control frame")
        if b2 > 125:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "control frame over 125 bytes")
    elif opcode > OP_BINARY:
        raise FrameError(CLOSE_PROTOCOL_ERROR, f"reserved opcode {opcode}")
    elif opcode == OP_CONT:
        if not opened:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "continuation frame without a message")
    elif opened:
        raise FrameError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")


def check_close(payload: bytes) -> None:
    """
    Check the payload of a close frame: empty, or a valid close code and a
    UTF-8 reason.

    Raises:
        FrameError: If it is not.

    """
    if not payload:
        return
    if len(payload) == 1:
        raise FrameError(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code not in _CLOSE_CODES and not 3000 <= code <= 4999:
        raise FrameError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise FrameError(CLOSE_INVALID_DATA, "invalid UTF-8 in a close reason") from None
