import os
import struct

import pytest
from websocket import ABNF, WebSocketProtocolException
from websocket._abnf import frame_buffer

from bittap_ws._frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    MaskKeys,
    build_frame,
    mask,
)


def server_frame(opcode, payload, fin=True, rsv=0, key=None):
    """A frame as a server sends it: unmasked unless a key is given."""
    n = len(payload)
    b1 = (0x80 if fin else 0) | rsv << 4 | opcode
    masked = 0x80 if key is not None else 0
    if n < 126:
        header = bytes((b1, masked | n))
    elif n < 65536:
        header = struct.pack("!BBH", b1, masked | 126, n)
    else:
        header = struct.pack("!BBQ", b1, masked | 127, n)
    if key is None:
        return header + payload
    return header + key + mask(key, payload)


class TestFrameReader:
    @pytest.mark.parametrize("size", [0, 10, 125, 126, 200, 65535, 65536])
    def test_one_frame(self, size):
        """A whole text frame gives one message."""
        payload = b"x" * size
        assert FrameReader().feed(server_frame(OP_TEXT, payload)) == [(OP_TEXT, payload)]

    def test_many_frames_in_one_read(self):
        """Several frames received at once all come out, in order."""
        data = b"".join(server_frame(OP_TEXT, b"%d" % n) for n in range(5))
        assert FrameReader().feed(data) == [(OP_TEXT, b"%d" % n) for n in range(5)]

    @pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
    def test_byte_by_byte_and_in_chunks(self, size):
        """A frame of any length split anywhere is put back together."""
        payload = os.urandom(size)
        data = server_frame(OP_BINARY, payload) + server_frame(OP_TEXT, b"next")
        for chunk in (1, 7, 1000, 65536):
            if chunk == 1 and size > 70000:
                continue  # slow and no different
            reader = FrameReader()
            messages = []
            for start in range(0, len(data), chunk):
                messages += reader.feed(data[start : start + chunk])
            assert messages == [(OP_BINARY, payload), (OP_TEXT, b"next")]

    def test_fragmented_message(self):
        """Fragments are joined into one message; control frames may come between."""
        reader = FrameReader()
        assert reader.feed(server_frame(OP_TEXT, b"ab", fin=False)) == []
        assert reader.feed(server_frame(OP_PING, b"p")) == [(OP_PING, b"p")]
        assert reader.feed(server_frame(OP_CONT, b"cd", fin=False)) == []
        assert reader.feed(server_frame(OP_CONT, b"ef")) == [(OP_TEXT, b"abcdef")]

    def test_masked_server_frame_is_unmasked(self):
        """A masked frame from the server is accepted, like websocket-client does."""
        frame = server_frame(OP_TEXT, b"hello, world", key=b"\x01\x02\x03\x04")
        assert FrameReader().feed(frame) == [(OP_TEXT, b"hello, world")]

    def test_control_frames(self):
        """Ping, pong and close frames come out as they are."""
        data = (
            server_frame(OP_PING, b"1")
            + server_frame(OP_PONG, b"2")
            + server_frame(OP_CLOSE, b"\x03\xe8bye")
        )
        assert FrameReader().feed(data) == [
            (OP_PING, b"1"),
            (OP_PONG, b"2"),
            (OP_CLOSE, b"\x03\xe8bye"),
        ]

    @pytest.mark.parametrize(
        "data",
        [
            server_frame(OP_TEXT, b"x", rsv=4),
            server_frame(3, b"x"),
            server_frame(OP_CONT, b"x"),
            server_frame(OP_TEXT, b"x", fin=False) + server_frame(OP_TEXT, b"y"),
            server_frame(OP_PING, b"x", fin=False),
            server_frame(OP_CLOSE, b"\x03"),
            server_frame(OP_CLOSE, b"\x00\x01"),
        ],
        ids=["rsv", "opcode", "cont", "interleaved", "fragmented-ping", "close-1", "close-code"],
    )
    def test_protocol_errors(self, data):
        """Frames that break the protocol raise WebSocketProtocolException."""
        with pytest.raises(WebSocketProtocolException):
            FrameReader().feed(data)


class TestBuildFrame:
    @pytest.mark.parametrize("size", [0, 1, 5, 125, 126, 65535, 65536, 100_000])
    def test_websocket_client_reads_it(self, size):
        """A built frame parses, with websocket-client, into the same payload."""
        payload = os.urandom(size)
        data = build_frame(OP_BINARY, payload, b"\xa1\xb2\xc3\xd4")
        chunks = [data]
        buffer = frame_buffer(lambda n: chunks.pop() if chunks else b"", True)
        frame = buffer.recv_frame()
        assert (frame.fin, frame.opcode, frame.data) == (1, OP_BINARY, payload)

    def test_same_bytes_as_websocket_client(self):
        """With the same mask key, the bytes are those websocket-client writes."""
        frame = ABNF.create_frame('{"id":"x","method":"time"}', OP_TEXT)
        frame.get_mask_key = lambda n: b"\x00\xff\x10\x01"
        expected = frame.format()
        assert build_frame(OP_TEXT, b'{"id":"x","method":"time"}', b"\x00\xff\x10\x01") == expected


class TestMaskKeys:
    def test_fresh_keys(self):
        """Keys are 4 random bytes and, over many batches, never repeat as a run."""
        keys = MaskKeys()
        drawn = [keys.next() for _ in range(10 * MaskKeys.BATCH)]
        assert all(len(key) == 4 for key in drawn)
        # 640 draws from 2**32 values: a repeat would almost surely be a bug.
        assert len(set(drawn)) == len(drawn)


class TestMask:
    @pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 100, 4097])
    def test_both_ways_agree_with_websocket_client(self, size):
        """Masking, with or without wsaccel, is websocket-client's XOR."""
        from bittap_ws._frames import _mask

        key = os.urandom(4)
        data = os.urandom(size)
        expected = ABNF.mask(key, data)
        assert mask(key, data) == expected
        assert _mask(key, data) == expected
        assert mask(key, mask(key, data)) == data
