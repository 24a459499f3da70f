import base64
import hashlib
import json

from websocket._abnf import frame_buffer

from bittap_ws import Client
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
