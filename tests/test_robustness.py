import os
import socket
import ssl
import threading
import time
import types
import warnings

import pytest

from bittap_ws import Client, ConnectError, ConnectionClosed, RequestTimeout
from bittap_ws._transport import Attempt
from bittap_ws.protocol import Unroutable, decode

from .conftest import MS, wait_for


def test_deeply_nested_json_is_unroutable():
    """A frame nested too deep to parse is unroutable, not an error."""
    result = decode("[" * 100_000 + "]" * 100_000)
    assert isinstance(result, Unroutable)


def test_reader_survives_deeply_nested_json(client, server):
    """The reader survives a frame nested too deep to parse."""
    server.garbage = ["[" * 100_000]
    assert client.time() > 0
    assert server.connection_count == 1


def test_write_to_a_stalled_peer_is_bounded(server):
    """A write that cannot complete ends by the call's timeout, even without keepalive."""
    with Client(server.url, ping_interval=None, ping_timeout=None) as client:
        client.ping()
        server.stall()
        start = time.monotonic()
        with pytest.raises((RequestTimeout, ConnectionClosed)):
            client.request("big", {"x": "a" * 32_000_000}, timeout=500 * MS)
        assert time.monotonic() - start < 3000 * MS
        # The half-written connection was dropped; the next call reconnects.
        server.unstall()
        assert client.time() > 0
        assert server.connection_count == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
def test_subscriptions_end_in_a_forked_child(client, server):
    """A subscription inherited through fork() fails at once in the child."""
    server.stream_rate = 0
    subscription = client.subscribe("s_trade@BTC-USDT")
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            subscription.get(timeout=5.0)
        except ConnectionClosed:
            code = 0
        except BaseException:
            code = 2
        os._exit(code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(10 * MS)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child hung")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    # The parent's subscription still works.
    server.publish("s_trade@BTC-USDT")
    assert subscription.get(timeout=2000 * MS)["s"] == "BTC-USDT"
    subscription.close()


def serve_raw(handle):
    """Run ``handle(conn)`` for one connection on a raw listening socket; return (port, stop)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def run():
        listener.settimeout(5)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            handle(conn, stop)

    thread = threading.Thread(target=run)
    thread.start()

    def close():
        stop.set()
        thread.join(10)
        listener.close()

    return listener.getsockname()[1], close


def test_trickled_handshake_is_bounded_by_connect_timeout():
    """A server that trickles its handshake gives ConnectError at connect_timeout."""

    def trickle(conn, stop):
        conn.recv(4096)
        for byte in b"HTTP/1.1 101 Switching Protocols\r\n" * 10:
            if stop.wait(50 * MS):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return

    port, close = serve_raw(trickle)
    try:
        client = Client(f"ws://127.0.0.1:{port}/", connect_timeout=300 * MS)
        start = time.monotonic()
        with pytest.raises(ConnectError) as exc_info:
            client.connect()
        assert time.monotonic() - start < 1500 * MS
        assert "timed out" in str(exc_info.value)
    finally:
        close()


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_endless_handshake_headers_are_bounded_by_connect_timeout(tls):
    """A server that sends header lines without end gives ConnectError soon after connect_timeout."""
    context = client_context = None
    if tls:
        trustme = pytest.importorskip("trustme")
        ca = trustme.CA()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost").configure_cert(context)
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
    # Short lines, as fast as the client takes them: websocket-client reads
    # headers one byte at a time, so whatever sits in the socket's buffer
    # when the deadline comes takes long to drain.
    lines = b"a:b\r\n" * 20_000

    def endless(conn, stop):
        if context is not None:
            with context.wrap_socket(conn, server_side=True) as tls:
                serve(tls, stop)
        else:
            serve(conn, stop)

    def serve(conn, stop):
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n")
        conn.settimeout(100 * MS)  # a client gone quiet must not hold this thread
        while not stop.is_set():
            try:
                conn.sendall(lines)
            except TimeoutError:
                continue
            except OSError:
                return

    port, close = serve_raw(endless)
    try:
        host = "localhost" if tls else "127.0.0.1"
        client = Client(
            f"{'wss' if tls else 'ws'}://{host}:{port}/",
            connect_timeout=1000 * MS,
            ssl_context=client_context,
        )
        start = time.monotonic()
        with pytest.raises(ConnectError) as exc_info:
            client.connect()
        assert time.monotonic() - start < 1000 * MS + 300 * MS
        assert "timed out" in str(exc_info.value)
    finally:
        close()


def test_an_aborted_attempt_reads_none_of_the_bytes_already_buffered():
    """After abort, reading the attempt's socket ends at once, though bytes wait in its buffer."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    try:
        server.sendall(b"a:b\r\n" * 10_000)
        assert wait_for(lambda: len(client.recv(1, socket.MSG_PEEK)) == 1)
        attempt = Attempt()
        attempt.ws = types.SimpleNamespace(sock=client)
        attempt.abort("timed out")
        client.settimeout(1000 * MS)
        try:
            data = client.recv(1)
        except OSError:
            data = b""
        assert data == b""
        assert attempt.reason == "timed out"
    finally:
        for sock in (client, server, listener):
            sock.close()


def test_close_aborts_a_connection_attempt():
    """close() makes a call that is still connecting fail at once."""
    accepted = threading.Event()

    def mute(conn, stop):
        accepted.set()
        stop.wait(10)

    port, close = serve_raw(mute)
    try:
        client = Client(f"ws://127.0.0.1:{port}/", connect_timeout=5.0, timeout=5.0)
        outcome = []
        thread = threading.Thread(target=lambda: outcome.append(_outcome(client.ping)))
        thread.start()
        assert accepted.wait(2)
        time.sleep(50 * MS)  # the handshake request is on its way
        start = time.monotonic()
        client.close()
        thread.join(5)
        assert time.monotonic() - start < 1000 * MS
        assert isinstance(outcome[0], ConnectionClosed)
    finally:
        close()


def test_resume_backs_off_from_a_server_that_hangs_up(server):
    """Resuming against a server that closes every new connection backs off."""
    server.stream_rate = 0
    client = Client(server.url, resume_timeout=2000 * MS, connect_timeout=500 * MS)
    try:
        subscription = client.subscribe("s_trade@BTC-USDT")
        server.on("SUBSCRIBE", action="close")
        server.drop()
        with pytest.raises(ConnectionClosed):
            subscription.get(timeout=5000 * MS)
        # Without backoff, 2 s of retries would open dozens of connections.
        assert server.connection_count <= 8
    finally:
        client.close()


def _outcome(func):
    try:
        return func()
    except Exception as exc:
        return exc
