import os
import struct

import pytest
from websocket import ABNF
from websocket._abnf import frame_buffer

from bittap_ws._frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameReader,
)
from bittap_ws._masking import MaskKeys, build_frame, mask


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


HELLO = b"\x81\x05hello"  # one text frame, "hello"

# "κόσμε" in UTF-8, 11 bytes: the valid text of Autobahn's cases 6.4.x.
KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"


def violation(reader, *chunks):
    """Feed ``chunks`` one by one; return the FrameError the last one raises."""
    for chunk in chunks[:-1]:
        assert reader.feed(chunk) == []
    with pytest.raises(FrameError) as exc_info:
        reader.feed(chunks[-1])
    return exc_info.value


class TestFrameReader:
    @pytest.mark.parametrize("size", [0, 10, 125, 126, 200, 65535, 65536, 70000])
    def test_one_frame(self, size):
        """A whole text frame gives one message, its payload decoded to str."""
        payload = b"x" * size
        assert FrameReader().feed(server_frame(OP_TEXT, payload)) == [(OP_TEXT, "x" * size)]

    def test_text_is_decoded(self):
        """A text payload comes out as str, decoded from UTF-8."""
        assert FrameReader().feed(b"\x81\x07\xe2\x82\xac = 1") == [(OP_TEXT, "\u20ac = 1")]

    def test_binary_stays_bytes(self):
        """A binary payload comes out as bytes, as it came."""
        assert FrameReader().feed(b"\x82\x02\xff\x00") == [(OP_BINARY, b"\xff\x00")]

    def test_many_frames_in_one_read(self):
        """Several frames received at once all come out, in order."""
        data = b"".join(server_frame(OP_TEXT, b"%d" % n) for n in range(5))
        assert FrameReader().feed(data) == [(OP_TEXT, str(n)) for n in range(5)]

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
            assert messages == [(OP_BINARY, payload), (OP_TEXT, "next")]

    @pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
    def test_text_byte_by_byte_and_in_chunks(self, size):
        """A text frame of any length split anywhere, even inside a code point, decodes whole."""
        text = ("a\u20ac\U0001f600" * size)[:size]  # 1-, 3- and 4-byte code points
        data = server_frame(OP_TEXT, text.encode()) + server_frame(OP_TEXT, b"next")
        for chunk in (1, 7, 1000, 65536):
            if chunk == 1 and size > 70000:
                continue  # slow and no different
            reader = FrameReader()
            messages = []
            for start in range(0, len(data), chunk):
                messages += reader.feed(data[start : start + chunk])
            assert messages == [(OP_TEXT, text), (OP_TEXT, "next")]

    def test_byte_by_byte_gives_the_same_messages(self):
        """Valid frames of every kind fed one byte at a time give what one feed gives."""
        data = (
            b"\x81\x02hi"  # text
            b"\x01\x03\xe2\x82\xac\x89\x01p\x00\x01-\x80\x03\xe2\x82\xac"  # fragmented text, ping
            b"\x02\x01\x00\x80\x01\x01"  # fragmented binary
            b"\x81\x7e\x00\x80" + b"y" * 128  # 16-bit length
        ) + (
            b"\x8a\x00"  # pong
            b"\x88\x04\x03\xe8ok"  # close 1000 "ok"
        )
        expected = [
            (OP_TEXT, "hi"),
            (OP_PING, b"p"),
            (OP_TEXT, "\u20ac-\u20ac"),
            (OP_BINARY, b"\x00\x01"),
            (OP_TEXT, "y" * 128),
            (OP_PONG, b""),
            (OP_CLOSE, b"\x03\xe8ok"),
        ]
        assert FrameReader().feed(data) == expected
        reader = FrameReader()
        messages = []
        for i in range(len(data)):
            messages += reader.feed(data[i : i + 1])
        assert messages == expected

    def test_fragmented_message(self):
        """Fragments are joined into one message; control frames may come between."""
        reader = FrameReader()
        assert reader.feed(b"\x01\x02ab") == []
        assert reader.feed(b"\x89\x01p") == [(OP_PING, b"p")]
        assert reader.feed(b"\x00\x02cd") == []
        assert reader.feed(b"\x80\x02ef") == [(OP_TEXT, "abcdef")]

    def test_utf8_split_across_fragments(self):
        """A code point split between two fragments is put back together."""
        reader = FrameReader()
        assert reader.feed(b"\x01\x02a\xe2") == []
        assert reader.feed(b"\x00\x01\x82") == []
        assert reader.feed(b"\x80\x02\xacb") == [(OP_TEXT, "a\u20acb")]

    def test_utf8_split_across_feeds_in_a_frame(self):
        """A code point split between two reads of one frame is put back together."""
        reader = FrameReader()
        assert reader.feed(b"\x81\x05a\xe2") == []
        assert reader.feed(b"\x82") == []
        assert reader.feed(b"\xacb") == [(OP_TEXT, "a\u20acb")]

    def test_utf8_split_across_feeds_in_a_continuation(self):
        """A code point split between fragments, then between reads of a fragment, is whole."""
        reader = FrameReader()
        assert reader.feed(b"\x01\x02a\xf0") == []
        assert reader.feed(b"\x80\x04\x9f") == []
        assert reader.feed(b"\x98") == []
        assert reader.feed(b"\x80b") == [(OP_TEXT, "a\U0001f600b")]

    def test_text_in_pieces_is_not_buffered(self):
        """The payload of an incomplete text frame is decoded as it comes, not kept as bytes."""
        reader = FrameReader()
        assert reader.feed(b"\x81\x7e\x01\x00" + b"a" * 100) == []
        assert reader.feed(b"b" * 100) == []
        assert (reader._buf, reader._parts) == (b"", [])
        assert reader.feed(b"c" * 56 + HELLO) == [
            (OP_TEXT, "a" * 100 + "b" * 100 + "c" * 56),
            (OP_TEXT, "hello"),
        ]

    def test_non_minimal_lengths_are_accepted(self):
        """A length in a longer encoding than needed is read as it says."""
        data = (
            b"\x81\x7e\x00\x02hi"  # 2 in 16 bits
            b"\x81\x7f\x00\x00\x00\x00\x00\x00\x00\x02ok"  # 2 in 64 bits
        )
        assert FrameReader().feed(data) == [(OP_TEXT, "hi"), (OP_TEXT, "ok")]

    def test_control_frames(self):
        """Ping, pong and close frames come out as they are."""
        data = (
            b"\x89\x011"  # ping
            b"\x8a\x012"  # pong
            b"\x88\x05\x03\xe8bye"  # close 1000 "bye"
        )
        assert FrameReader().feed(data) == [
            (OP_PING, b"1"),
            (OP_PONG, b"2"),
            (OP_CLOSE, b"\x03\xe8bye"),
        ]

    def test_empty_close_frame(self):
        """A close frame without a code is valid."""
        assert FrameReader().feed(b"\x88\x00") == [(OP_CLOSE, b"")]

    @pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1014, 3000, 4999])
    def test_valid_close_codes(self, code):
        """Close codes RFC 6455 7.4 lets a peer send are accepted."""
        payload = code.to_bytes(2, "big")
        assert FrameReader().feed(b"\x88\x02" + payload) == [(OP_CLOSE, payload)]

    def test_message_of_max_size(self):
        """A message of exactly max_size bytes, fragmented or not, is accepted."""
        reader = FrameReader(max_size=5)
        assert reader.feed(HELLO) == [(OP_TEXT, "hello")]
        assert reader.feed(b"\x02\x03abc\x80\x02de") == [(OP_BINARY, b"abcde")]

    def test_no_limit(self):
        """With max_size=None, no length is too long."""
        reader = FrameReader(max_size=None)
        # 2**62 bytes declared: the reader waits for them.
        assert reader.feed(b"\x82\x7f\x40\x00\x00\x00\x00\x00\x00\x00") == []
        payload = b"z" * (2**24 + 1)
        assert FrameReader(max_size=None).feed(server_frame(OP_BINARY, payload)) == [
            (OP_BINARY, payload)
        ]


class TestFrameErrors:
    @pytest.mark.parametrize(
        "b1", [0xC1, 0xA1, 0x91, 0xF2, 0xC9], ids=["rsv1", "rsv2", "rsv3", "all", "ping"]
    )
    def test_rsv_bits(self, b1):
        """A frame with an RSV bit set fails with 1002: no extension was negotiated."""
        assert violation(FrameReader(), bytes((b1, 0x01)) + b"a").code == 1002

    @pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
    def test_reserved_opcode(self, opcode):
        """A frame with a reserved opcode fails with 1002."""
        assert violation(FrameReader(), bytes((0x80 | opcode, 0x00))).code == 1002

    def test_masked_frame(self):
        """A masked frame from the server fails with 1002 (RFC 6455 5.1)."""
        # "hi" masked with the key 01 02 03 04.
        exc = violation(FrameReader(), b"\x81\x82\x01\x02\x03\x04\x69\x6b")
        assert exc.code == 1002
        assert "masked" in exc.reason

    @pytest.mark.parametrize("b1", [0x09, 0x0A, 0x08], ids=["ping", "pong", "close"])
    def test_fragmented_control_frame(self, b1):
        """A control frame without FIN fails with 1002."""
        assert violation(FrameReader(), bytes((b1, 0x00))).code == 1002

    def test_control_frame_over_125_bytes(self):
        """A control frame longer than 125 bytes fails with 1002, from its header."""
        exc = violation(FrameReader(), b"\x89\x7e\x00\x7e")
        assert exc.code == 1002

    def test_continuation_without_a_message(self):
        """A continuation frame with no message under way fails with 1002."""
        assert violation(FrameReader(), b"\x80\x01a").code == 1002

    @pytest.mark.parametrize("b1", [0x81, 0x82, 0x01])
    def test_new_message_inside_a_fragmented_one(self, b1):
        """A new data frame while a fragmented message is open fails with 1002."""
        assert violation(FrameReader(), b"\x01\x01a", bytes((b1, 0x01)) + b"b").code == 1002

    def test_64_bit_length_with_top_bit_set(self):
        """A 64-bit length with its most significant bit set fails with 1002."""
        exc = violation(FrameReader(max_size=None), b"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00")
        assert exc.code == 1002

    def test_huge_length_fails_from_the_header(self):
        """A frame that declares 2**40 bytes fails with 1009 from its 10 header bytes."""
        reader = FrameReader()
        exc = violation(reader, b"\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00")
        assert exc.code == 1009
        assert not reader._buf

    def test_frame_over_max_size(self):
        """A single frame longer than max_size fails with 1009, from its header."""
        assert violation(FrameReader(max_size=4), HELLO[:2]).code == 1009

    def test_fragments_over_max_size(self):
        """A fragmented message fails with 1009 on the fragment that takes it over max_size."""
        reader = FrameReader(max_size=10)
        exc = violation(reader, b"\x01\x06abcdef", b"\x00\x04ghij", b"\x80\x01")
        assert exc.code == 1009

    @pytest.mark.parametrize(
        "data",
        [
            b"\x81\x01\xff",
            b"\x81\x7e\x00\x80" + b"a" * 127 + b"\xff",
            b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00" + b"a" * 65535 + b"\xff",
            b"\x81\x02ok\x81\x01\xff",
        ],
        ids=["7-bit", "16-bit", "64-bit", "second"],
    )
    def test_invalid_utf8(self, data):
        """A text message that is not UTF-8 fails with 1007, whatever its length."""
        assert violation(FrameReader(), data).code == 1007

    def test_surrogate(self):
        """An encoded surrogate (ED A0 80) is not UTF-8: 1007."""
        assert violation(FrameReader(), b"\x81\x03\xed\xa0\x80").code == 1007

    def test_invalid_utf8_fails_on_its_fragment(self):
        """Invalid UTF-8 in fragment 1 of 3 fails on fragment 1, not at the end."""
        assert violation(FrameReader(), b"\x01\x03a\xffb").code == 1007

    def test_surrogate_split_at_fragment_end(self):
        """A fragment that ends in the first two bytes of a surrogate fails at once."""
        assert violation(FrameReader(), b"\x01\x03a\xed\xa0").code == 1007

    @pytest.mark.parametrize(
        "feeds",
        [
            # F4 90 80 80 would be U+110000, past the last code point.
            (b"\x81\x15" + KOSME, b"\xf4\x90\x80\x80", b"edited"),
            # The same frame cut so that only the byte 90 makes it invalid.
            (b"\x81\x15" + KOSME + b"\xf4", b"\x90", b"\x80\x80edited"),
        ],
        ids=["sequence", "byte"],
    )
    def test_invalid_utf8_fails_on_its_piece_of_a_frame(self, feeds):
        """Invalid UTF-8 in the middle read of a text frame fails on that read, not the last."""
        assert len(b"".join(feeds)) == 2 + 0x15  # the three reads make the whole frame
        assert violation(FrameReader(), *feeds[:2]).code == 1007

    def test_invalid_utf8_fails_on_its_piece_of_a_continuation(self):
        """Invalid UTF-8 in the middle read of a continuation frame fails on that read."""
        feeds = (b"\x01\x01a\x80\x06b", b"\xf4\x90\x80\x80", b"c")
        assert len(b"".join(feeds)) == 3 + 2 + 6  # the three reads make both frames
        assert violation(FrameReader(), *feeds[:2]).code == 1007

    def test_surrogate_split_across_feeds_in_a_frame(self):
        """A read of a text frame that ends in the first two bytes of a surrogate fails at once."""
        assert violation(FrameReader(), b"\x81\x04a\xed", b"\xa0").code == 1007

    def test_truncated_utf8_at_frame_end_in_pieces(self):
        """A single text frame whose last read leaves a code point unfinished fails with 1007."""
        assert violation(FrameReader(), b"\x81\x02a", b"\xe2").code == 1007

    def test_truncated_utf8_at_message_end(self):
        """A text message whose last fragment leaves a code point unfinished fails with 1007."""
        assert violation(FrameReader(), b"\x01\x02a\xe2", b"\x80\x01\x82").code == 1007

    def test_close_frame_of_one_byte(self):
        """A close frame with a 1-byte payload fails with 1002."""
        assert violation(FrameReader(), b"\x88\x01\x03").code == 1002

    @pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
    def test_invalid_close_code(self, code):
        """A close code RFC 6455 7.4 does not let a peer send fails with 1002."""
        assert violation(FrameReader(), b"\x88\x02" + code.to_bytes(2, "big")).code == 1002

    def test_close_reason_not_utf8(self):
        """A close reason that is not UTF-8 fails with 1007."""
        assert violation(FrameReader(), b"\x88\x03\x03\xe8\xff").code == 1007

    def test_messages_before_the_bad_frame(self):
        """The messages completed before a bad frame in the same feed come with the error."""
        data = (
            b"\x81\x02hi"  # text
            b"\x89\x01p"  # ping
            b"\x02\x01\x00\x80\x01\x01"  # fragmented binary
            b"\x83\x00"  # reserved opcode 3
        ) + HELLO
        exc = violation(FrameReader(), data)
        assert exc.code == 1002
        assert exc.messages == [(OP_TEXT, "hi"), (OP_PING, b"p"), (OP_BINARY, b"\x00\x01")]

    def test_messages_before_the_bad_frame_across_feeds(self):
        """A frame completed by the feed that also brings a bad frame is in the error."""
        exc = violation(FrameReader(), b"\x81\x05hel", b"lo\x81\x01\xff")
        assert exc.code == 1007
        assert exc.messages == [(OP_TEXT, "hello")]

    def test_dead_after_an_error(self):
        """After a FrameError, every feed raises it again, with no messages."""
        reader = FrameReader()
        first = violation(reader, HELLO + b"\x80\x00")
        assert first.messages == [(OP_TEXT, "hello")]
        for data in (HELLO, b"\x82\x00", b""):
            again = violation(reader, data)
            assert (again.code, again.reason, again.messages) == (first.code, first.reason, [])

    def test_str(self):
        """A FrameError reads as its reason and close code."""
        assert str(FrameError(1009, "message over 10 bytes")) == (
            "message over 10 bytes (close code 1009)"
        )


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
        from bittap_ws._masking import _mask

        key = os.urandom(4)
        data = os.urandom(size)
        expected = ABNF.mask(key, data)
        assert mask(key, data) == expected
        assert _mask(key, data) == expected
        assert mask(key, mask(key, data)) == data
