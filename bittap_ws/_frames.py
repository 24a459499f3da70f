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
messages, reassembling fragmented ones; :mod:`bittap_ws._masking` makes the
client's frames. Both are pure: no sockets, no threads.

The reader is strict: whatever RFC 6455 says a client must not accept from
a server raises :exc:`FrameError`, with the close code the client should
fail the connection with:

* 1002 (protocol error): a masked frame; RSV bits set (no extension is ever
  negotiated); a reserved opcode; a control frame that is fragmented or
  longer than 125 bytes; a continuation frame with no message to continue,
  or a new data message while a fragmented one is still open; a 64-bit
  length with its most significant bit set; a close frame with a 1-byte
  payload or a close code that may not be sent (section 7.4).
* 1007 (invalid data): a text message, or a close reason, that is not
  valid UTF-8. Text is checked as it arrives, fragment by fragment and,
  within a frame, ``recv()`` by ``recv()``, so an invalid sequence fails as
  soon as its bytes arrive, not once its message or frame is complete.
* 1009 (message too big): a message longer than ``max_size``, found from
  the length a frame header declares, before its payload is buffered.

Lengths in a longer encoding than needed (say, 5 in a 16-bit length) are
accepted: RFC 6455 5.2 asks senders for the minimal encoding but does not
ask receivers to check it, and doing so would protect nothing.

"""

from __future__ import annotations

import codecs

from ._framecheck import (
    CLOSE_INVALID_DATA,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    Message,
    check_close,
    check_header,
)

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameError",
    "FrameReader",
    "Message",
]

# The decoder a text message is decoded with as its bytes come, looked up
# once: the lookup costs as much as making the decoder.
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")

# Payloads at least this long are decoded straight from the receive buffer:
# slicing them out first would cost more than the decoding itself.
_DECODE_IN_PLACE = 65536

class FrameReader:
    """
    Turn the bytes received from the server into messages.

    :meth:`feed` returns every message completed by the bytes given so far:
    text and binary messages, reassembled from their fragments, and control
    frames (ping, pong, close) as they come. Bytes of an incomplete frame
    are kept until the rest arrives; they are only joined once the frame is
    complete, so a large message received in many pieces is copied once.
    The payload of an incomplete text frame is the exception: it is decoded
    as it arrives, each byte once, and its text kept instead.

    Memory stays bounded by ``max_size``: a frame is checked against it as
    soon as its header is read, before any of its payload is kept.

    Args:
        max_size: The longest message accepted, in bytes (of its payload,
            summed over its fragments); :obj:`None` for no limit.

    """

    __slots__ = (
        "_max",
        "_buf",
        "_parts",
        "_size",
        "_need",
        "_opcode",
        "_fragments",
        "_texts",
        "_total",
        "_decoder",
        "_left",
        "_fin",
        "_error",
    )

    def __init__(self, max_size: int | None = 2**24) -> None:
        # A 64-bit length above 2**63 - 1 is an error of its own: no
        # declared length reaches 2**63.
        self._max = 1 << 63 if max_size is None else max_size
        # Unparsed bytes: _buf, then the pieces in _parts (_size bytes),
        # which are only worth joining once there are _need bytes. _parts
        # is empty whenever _buf is.
        self._buf = b""
        self._parts: list[bytes] = []
        self._size = 0
        self._need = 0
        # The fragmented message under way, if any: its opcode (0 if none,
        # -1 once the reader is dead, which keeps it off the short way in
        # feed()); the payloads of its fragments so far (binary) or their
        # text (text, decoded as they come, with the UTF-8 decoder that holds
        # a code point split between two fragments); their total length in
        # bytes.
        self._opcode = 0
        self._fragments: list[bytes] = []
        self._texts: list[str] = []
        self._total = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        # The text frame whose payload is being decoded as it comes, if any:
        # how many bytes of it are still to come (0 if none), and whether it
        # ends its message. While one is, _opcode is OP_TEXT, even for a
        # single-frame message, and _total counts the whole frame.
        self._left = 0
        self._fin = False
        # Set once the server broke the protocol: the reader is dead.
        self._error: FrameError | None = None

    def feed(self, data: bytes) -> list[Message]:
        """
        Add ``data`` to the stream; return the messages it completes.

        Returns:
            The messages completed, in order: ``(OP_TEXT, str)`` for text
            messages, ``(opcode, bytes)`` for binary messages and control
            frames. Close frames are checked but returned as they are.

        Raises:
            FrameError: If the server broke the protocol. The messages
                completed before the bad frame are in its ``messages``. The
                stream cannot be trusted after that: every later call raises
                :exc:`FrameError` again, with no messages.

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
        elif len(data) > 2 and data[0] == 0x81 and not self._opcode:
            # The usual case: exactly one whole, unmasked text frame. (A
            # dead reader never comes here: its _opcode stays -1.)
            length = data[1]
            if length < 126:
                if len(data) == 2 + length and length <= self._max:
                    try:
                        return [(OP_TEXT, data[2:].decode())]
                    except UnicodeDecodeError:
                        pass  # reported below
            elif (
                length == 126
                and len(data) == 4 + int.from_bytes(data[2:4], "big")
                and len(data) - 4 <= self._max
            ):
                try:
                    return [(OP_TEXT, data[4:].decode())]
                except UnicodeDecodeError:
                    pass  # reported below
        if self._error is not None:
            raise FrameError(self._error.code, self._error.reason)
        messages: list[Message] = []
        try:
            self._parse(data, messages)
        except FrameError as exc:
            exc.messages = messages
            self._error = exc
            self._opcode = -1
            self._buf = b""
            self._parts = []
            self._fragments = []
            self._texts = []
            self._decoder = None
            raise
        return messages

    # Private methods

    def _parse(self, data: bytes, messages: list[Message]) -> None:
        """
        Read the frames in ``data``, the unparsed bytes so far, into
        ``messages``; keep what is left of it for later.

        """
        end = len(data)
        pos = 0
        need = 0
        max_size = self._max
        if self._left:
            pos = self._text_piece(data, 0, end, messages)
        while end - pos >= 2:
            b1 = data[pos]
            b2 = data[pos + 1]
            # Everything the first two bytes tell is checked at once, with a
            # short way for the usual final text or binary frame.
            if b2 & 0x80:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "masked frame from the server")
            if (b1 != 0x81 and b1 != 0x82) or self._opcode:
                check_header(b1, b2, self._opcode)
            start = pos + 2
            length = b2
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
                if length >> 63:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "64-bit length with the top bit set")
            # Before a byte of the payload is kept. Control frames are not
            # messages: 125 bytes at most, whatever max_size says. _total is
            # 0 unless a fragmented message is open.
            if length > max_size - self._total and not b1 & 0x08:
                raise FrameError(CLOSE_TOO_BIG, f"message over {max_size} bytes")
            stop = start + length
            if stop > end:
                opcode = b1 & 0x0F
                if opcode == OP_TEXT or (opcode == OP_CONT and self._opcode == OP_TEXT):
                    # Decode what came of the payload now, not once all of
                    # it has: invalid UTF-8 fails as soon as it arrives.
                    if opcode == OP_TEXT:
                        self._open_text()
                    self._total += length
                    self._left = length
                    self._fin = b1 & 0x80 != 0
                    pos = self._text_piece(data, start, end, messages)
                else:
                    need = stop - pos
                break
            pos = stop
            if b1 == 0x81:
                try:
                    if length < _DECODE_IN_PLACE:
                        text = data[start:stop].decode()
                    else:
                        text = str(memoryview(data)[start:stop], "utf-8")
                except UnicodeDecodeError:
                    raise FrameError(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message") from None
                messages.append((OP_TEXT, text))
            elif b1 == 0x82:
                messages.append((OP_BINARY, data[start:stop]))
            else:
                self._frame(b1, data[start:stop], messages)
        # An incomplete header (need == 0) is parsed again when anything
        # comes; an incomplete payload once all of it has come, unless it is
        # text: that is decoded as it comes, and nothing of it is kept here.
        self._need = need
        self._buf = data[pos:] if pos else data

    def _frame(self, b1: int, payload: bytes, messages: list[Message]) -> None:
        """
        Handle a frame other than a final text or binary one: a fragment or
        a control frame. Its header has been checked.

        """
        opcode = b1 & 0x0F
        fin = b1 & 0x80 != 0
        if opcode == OP_CONT:
            self._total += len(payload)
            if self._opcode == OP_TEXT:
                self._texts.append(self._decode_fragment(payload, fin))
            else:
                self._fragments.append(payload)
            if fin:
                self._end_message(messages)
        elif opcode == OP_TEXT:
            self._open_text()
            self._total = len(payload)
            self._texts.append(self._decode_fragment(payload, False))
        elif opcode == OP_BINARY:
            self._opcode = OP_BINARY
            self._total = len(payload)
            self._fragments = [payload]
        else:
            if opcode == OP_CLOSE:
                check_close(payload)
            messages.append((opcode, payload))

    def _open_text(self) -> None:
        """
        Start a text message, of one frame or more.

        """
        self._opcode = OP_TEXT
        self._decoder = _Utf8Decoder()
        self._texts = []

    def _text_piece(self, data: bytes, start: int, end: int, messages: list[Message]) -> int:
        """
        Decode the bytes of the text frame under way found in
        ``data[start:end]``: at most the ``_left`` still to come. If they
        finish the frame and it is final, add its message to ``messages``.

        Returns:
            Where the frame's bytes stop in ``data``.

        """
        stop = start + self._left
        if stop < end or start:
            piece = data[start : min(stop, end)]
        else:
            piece = data  # all of it: no copy
        if stop > end:
            self._left = stop - end
            self._texts.append(self._decode_fragment(piece, False))
            return end
        self._left = 0
        self._texts.append(self._decode_fragment(piece, self._fin))
        if self._fin:
            self._end_message(messages)
        return stop

    def _end_message(self, messages: list[Message]) -> None:
        """
        Add the message under way, now complete, to ``messages``.

        """
        message: Message
        if self._opcode == OP_TEXT:
            message = (OP_TEXT, "".join(self._texts))
        else:
            message = (OP_BINARY, b"".join(self._fragments))
        messages.append(message)
        self._opcode = 0
        self._fragments = []
        self._texts = []
        self._total = 0
        self._decoder = None

    def _decode_fragment(self, payload: bytes, final: bool) -> str:
        """
        Decode the next bytes of a text message, its last if ``final``: a
        fragment, or the part of one received so far.

        Raises:
            FrameError: If the text so far cannot be the start of valid
                UTF-8 or, at the end, is not valid UTF-8.

        """
        decoder = self._decoder
        assert decoder is not None
        try:
            text = decoder.decode(payload, final)
        except UnicodeDecodeError:
            raise FrameError(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message") from None
        if not final:
            # CPython's decoder waits for a third byte after ED A0-ED BF,
            # which can only make a surrogate, never valid UTF-8: fail now.
            pending = decoder.getstate()[0]
            if pending[:1] == b"\xed" and pending[1:2] >= b"\xa0":
                raise FrameError(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message")
        return text
