"""
An echo client for the Autobahn TestSuite fuzzingserver, built on the frame
layer the client uses (bittap_ws._frames), to check it against RFC 6455.

websocket-client opens each connection, as it does for the client; every
frame after the handshake goes through FrameReader and build_frame, and a
FrameError fails the connection with its close code, as Connection does.

Not part of `make test`: see README.rst in this folder.

"""

from __future__ import annotations

import argparse
import json
import socket

import websocket

from bittap_ws._frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameReader,
)
from bittap_ws._masking import MaskKeys, build_frame

AGENT = "bittap-ws"


def echo(url: str, timeout: float = 60.0) -> None:
    """Echo every message received on ``url`` until the connection ends."""
    ws = websocket.create_connection(url, timeout=timeout)
    sock = ws.sock
    keys = MaskKeys()
    reader = FrameReader()

    def send(opcode: int, payload: bytes) -> None:
        sock.sendall(build_frame(opcode, payload, keys.next()))

    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            failure = None
            try:
                messages = reader.feed(data)
            except FrameError as exc:
                messages, failure = exc.messages, exc
            for opcode, payload in messages:
                if opcode == OP_TEXT:
                    assert isinstance(payload, str)
                    send(OP_TEXT, payload.encode())
                elif opcode == OP_BINARY:
                    assert isinstance(payload, bytes)
                    send(OP_BINARY, payload)
                elif opcode == OP_PING:
                    assert isinstance(payload, bytes)
                    send(OP_PONG, payload)
                elif opcode == OP_CLOSE:
                    assert isinstance(payload, bytes)
                    send(OP_CLOSE, payload[:2])
                    _drain(sock)
                    return
            if failure is not None:
                send(OP_CLOSE, failure.code.to_bytes(2, "big") + failure.reason.encode()[:123])
                _drain(sock)
                return
    except OSError:
        return  # the server cut the connection: part of some cases
    finally:
        sock.close()


def _drain(sock: socket.socket) -> None:
    """Wait, briefly, for the server to close the TCP connection first."""
    sock.settimeout(2.0)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass  # timed out or reset: the connection is over either way


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--server", default="ws://127.0.0.1:9001")
    args = parser.parse_args()
    ws = websocket.create_connection(f"{args.server}/getCaseCount")
    count = json.loads(ws.recv())
    ws.close()
    for case in range(1, count + 1):
        print(f"case {case}/{count}", flush=True)
        echo(f"{args.server}/runCase?case={case}&agent={AGENT}")
    websocket.create_connection(f"{args.server}/updateReports?agent={AGENT}").close()


if __name__ == "__main__":
    main()
