import base64
import contextlib
import hashlib
import json
import os

import pytest
from websocket._abnf import frame_buffer

from bittap_ws import Client, ConnectionClosed
from bittap_ws._frames import OP_CLOSE

from .conftest import MS, wait_for
from .test_robustness import serve_raw

# RFC 6455 1.3: the server proves it read the handshake with this GUID.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_handshake(conn):
    """Read the client's opening handshake from ``conn`` and accept it."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        assert chunk, "the client left during the handshake"
        request += chunk
    headers = dict(
        line.split(b":", 1) for line in request.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    )
    key = next(
        value.strip() for name, value in headers.items() if name.lower() == b"sec-websocket-key"
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def raising_recv(conn):
    """A recv function for websocket-client's frame parser that raises at EOF."""

    def recv(bufsize):
        data = conn.recv(bufsize)
        if not data:
            raise ConnectionError("the client closed the connection")
        return data

    return recv


def test_answer_then_masked_frame_in_one_write():
    """An answer followed in the same TCP write by a masked frame is delivered; then 1002."""
    received = []

    def serve(conn, stop):
        conn.settimeout(2000 * MS)
        accept_handshake(conn)
        # Client frames are masked: websocket-client's parser unmasks them.
        frames = frame_buffer(raising_recv(conn), True)
        request = json.loads(frames.recv_frame().data)
        answer = json.dumps({"id": request["id"], "status": 200, "result": {"serverTime": 1234}})
        assert len(answer) < 126
        conn.sendall(
            bytes((0x81, len(answer)))
            + answer.encode()
            # "hi", masked with the key 01 02 03 04: servers must not mask.
            + b"\x81\x82\x01\x02\x03\x04\x69\x6b"
        )
        try:
            frame = frames.recv_frame()
        except ConnectionError:
            return  # no close frame came: the test fails on what was received
        received.append((frame.opcode, frame.data))

    port, stop = serve_raw(serve)
    try:
        client = Client(
            f"ws://127.0.0.1:{port}/",
            timeout=2000 * MS,
            connect_timeout=2000 * MS,
            ping_interval=None,
        )
        with client:
            assert client.time() == 1234
            assert wait_for(lambda: received)
            opcode, payload = received[0]
            assert opcode == OP_CLOSE
            assert int.from_bytes(payload[:2], "big") == 1002
            assert b"masked" in payload[2:]
            assert wait_for(lambda: "disconnected" in repr(client))
    finally:
        stop()


def resident_bytes():
    """The resident memory of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_raw(serve, **kwargs):
    """Connect a client to a raw server running ``serve(conn, frames)``; call ``time()``."""
    outcome = {}

    def handle(conn, stop):
        conn.settimeout(5000 * MS)
        accept_handshake(conn)
        frames = frame_buffer(raising_recv(conn), True)
        try:
            serve(conn, frames, outcome)
        except OSError as exc:
            outcome.setdefault("server error", exc)

    port, stop = serve_raw(handle)
    try:
        client = Client(f"ws://127.0.0.1:{port}/", timeout=5000 * MS, ping_interval=None, **kwargs)
        with client, pytest.raises(ConnectionClosed) as exc_info:
            client.time()
        outcome["error"] = exc_info.value
    finally:
        stop()
    return outcome


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_huge_declared_length_fails_at_the_header():
    """A frame declaring 2**40 bytes then streaming 100 MB fails with 1009; memory stays flat."""
    chunk = b"x" * 2**20

    def serve(conn, frames, outcome):
        frames.recv_frame()  # the request
        conn.sendall(b"\x81\x7f" + (2**40).to_bytes(8, "big"))
        sent = 0
        try:
            while sent < 100 * 2**20:
                conn.sendall(chunk)
                sent += len(chunk)
        finally:
            outcome["sent"] = sent

    before = resident_bytes()
    outcome = run_raw(serve)
    assert resident_bytes() - before < 32 * 2**20
    assert "1009" in str(outcome["error"].__cause__)
    assert outcome["sent"] < 100 * 2**20  # the client hung up long before


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_endless_fragmented_message_fails_at_max_size():
    """An endless fragmented message, kept alive by pongs, fails with 1009 past max_size."""
    fragment = b"x" * 60_000

    def serve(conn, frames, outcome):
        frames.recv_frame()  # the request
        conn.sendall(b"\x01\x7e" + len(fragment).to_bytes(2, "big") + fragment)
        for _ in range(2000):  # 120 MB in all, if nothing stops it
            conn.sendall(b"\x8a\x00" + b"\x00\x7e" + len(fragment).to_bytes(2, "big") + fragment)

    before = resident_bytes()
    outcome = run_raw(serve, max_size=2**20)
    assert resident_bytes() - before < 32 * 2**20
    assert "1009" in str(outcome["error"].__cause__)


def test_max_size_none_accepts_a_large_answer():
    """With max_size=None, an answer over the default limit is delivered."""
    received = {}

    def serve(conn, stop):
        conn.settimeout(5000 * MS)
        accept_handshake(conn)
        frames = frame_buffer(raising_recv(conn), True)
        request = json.loads(frames.recv_frame().data)
        padding = "x" * (2**24 + 10)
        answer = json.dumps({"id": request["id"], "status": 200, "result": {"pad": padding}})
        conn.sendall(b"\x81\x7f" + len(answer).to_bytes(8, "big") + answer.encode())
        received["sent"] = True
        with contextlib.suppress(OSError, ConnectionError):
            frames.recv_frame()

    port, stop = serve_raw(serve)
    try:
        with Client(f"ws://127.0.0.1:{port}/", timeout=10000 * MS, max_size=None) as client:
            response = client.request("big")
        assert len(response.result["pad"]) == 2**24 + 10
    finally:
        stop()


@pytest.mark.parametrize("max_size", [0, -1, 1.5, True, "big"])
def test_bad_max_size(max_size):
    """max_size must be a positive int or None."""
    with pytest.raises((TypeError, ValueError)):
        Client(max_size=max_size)
