import logging
import socket
import threading
import time

import pytest

from bittap_ws import Client, ConnectError, ConnectionClosed, RequestTimeout
from bittap_ws.testing import run_server

from .conftest import MS, wait_for


def start_calls(client, count, method="time", timeout=10_000 * MS):
    """Start ``count`` calls in threads; return the threads and their outcomes."""
    outcomes = []

    def call():
        start = time.monotonic()
        try:
            outcomes.append((client.request(method, timeout=timeout), time.monotonic() - start))
        except Exception as exc:
            outcomes.append((exc, time.monotonic() - start))

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def client_threads():
    """Return the sorted names of the client's running threads (not the test server's)."""
    return sorted(
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith("bittap-ws-") and not thread.name.startswith("bittap-ws-test-")
    )


def join_all(threads):
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


class TestDrop:
    def test_fails_pending_calls_at_once(self, client, server):
        """A dropped TCP connection fails every pending call with ConnectionClosed at once."""
        server.on("time", action="silence")
        threads, outcomes = start_calls(client, 3)
        assert wait_for(lambda: len(server.requests) == 3)
        server.drop()
        join_all(threads)
        assert len(outcomes) == 3
        for exc, elapsed in outcomes:
            assert isinstance(exc, ConnectionClosed)
            assert exc.__cause__ is not None
            assert elapsed < 1000 * MS

    def test_next_call_reconnects(self, client, server):
        """After a drop, the next call opens a new connection."""
        client.ping()
        server.drop()
        assert wait_for(lambda: "disconnected" in repr(client))
        assert client.time() > 0
        assert server.connection_count == 2

    def test_nothing_is_resent(self, client, server):
        """A call cut by a drop is never sent again on the new connection."""
        server.on("time", action="drop", times=1)
        with pytest.raises(ConnectionClosed):
            client.time()
        client.ping()
        methods = [request["method"] for request in server.requests]
        assert methods == ["time", "ping"]

    def test_drop_while_idle(self, client, server):
        """A connection dropped while idle is replaced by the next call."""
        client.ping()
        server.drop()
        time.sleep(50 * MS)
        client.ping()
        assert server.connection_count == 2


class TestCloseFrame:
    def test_fails_pending_calls_with_code_and_reason(self, client, server):
        """A server close frame fails pending calls with its code and reason."""
        server.on("time", action="silence")
        threads, outcomes = start_calls(client, 2)
        assert wait_for(lambda: len(server.requests) == 2)
        server.close_connections(1001, "going away")
        join_all(threads)
        for exc, elapsed in outcomes:
            assert isinstance(exc, ConnectionClosed)
            assert (exc.code, exc.reason) == (1001, "going away")
            assert "1001" in str(exc)
            assert elapsed < 1000 * MS

    def test_close_mid_request(self, client, server):
        """A close frame in answer to a request raises ConnectionClosed; the next call works."""
        server.on("time", action="close", close_code=1008, times=1)
        with pytest.raises(ConnectionClosed) as exc_info:
            client.time()
        assert exc_info.value.code == 1008
        assert client.time() > 0

    def test_server_closes_idle_connection(self, client, server):
        """A server may close any connection at any time; the client carries on."""
        client.ping()
        server.close_connections(1000, "24 hours")
        assert wait_for(lambda: "disconnected" in repr(client))
        client.ping()
        assert server.connection_count == 2


class TestKeepalive:
    def test_stalled_peer_is_detected(self, server):
        """A peer that stops reading is treated as dropped after ping_timeout."""
        server.on("time", action="stall", times=1)
        with Client(
            server.url, ping_interval=100 * MS, ping_timeout=200 * MS, timeout=10_000 * MS
        ) as client:
            start = time.monotonic()
            with pytest.raises(ConnectionClosed) as exc_info:
                client.time()
            assert time.monotonic() - start < 2000 * MS
            assert isinstance(exc_info.value.__cause__, TimeoutError)
            server.unstall()
            assert client.time() > 0

    def test_ping_timeout_longer_than_interval(self, server):
        """ping_timeout may exceed ping_interval; a healthy connection stays up."""
        with Client(server.url, ping_interval=50 * MS, ping_timeout=500 * MS) as client:
            time.sleep(300 * MS)
            client.ping()
            assert server.connection_count == 1

    def test_server_pings_are_answered(self, client, server):
        """Ping frames from the server get a pong."""
        client.ping()
        waiters = server.ping()
        assert len(waiters) == 1
        assert waiters[0].wait(2000 * MS)

    def test_idle_connection_does_not_time_out(self, server):
        """An idle connection is never closed by a socket timeout."""
        with Client(
            server.url,
            timeout=100 * MS,
            connect_timeout=100 * MS,
            ping_interval=None,
            ping_timeout=None,
        ) as client:
            time.sleep(400 * MS)
            client.ping()
            assert server.connection_count == 1


class TestClose:
    def test_close_is_idempotent(self, client):
        """close() may be called any number of times."""
        client.close()
        client.close()
        assert "state=closed" in repr(client)

    def test_close_wakes_pending_calls(self, client, server):
        """close() from another thread fails pending calls with ConnectionClosed at once."""
        server.on("time", action="silence")
        threads, outcomes = start_calls(client, 3)
        assert wait_for(lambda: len(server.requests) == 3)
        client.close()
        join_all(threads)
        for exc, elapsed in outcomes:
            assert isinstance(exc, ConnectionClosed)
            assert elapsed < 1000 * MS

    def test_calls_after_close_raise_until_connect(self, client, server):
        """After close(), calls raise ConnectionClosed until connect()."""
        client.close()
        with pytest.raises(ConnectionClosed):
            client.time()
        assert wait_for(lambda: server.connection_count == 1)
        time.sleep(50 * MS)
        assert server.connection_count == 1
        client.connect()
        assert client.time() > 0

    def test_close_ends_the_threads(self, server):
        """close() ends the reader and keepalive threads."""
        client = Client(server.url, ping_interval=100 * MS)
        client.connect()
        names = {thread.name for thread in threading.enumerate()}
        assert {"bittap-ws-reader", "bittap-ws-keepalive"} <= names
        client.close()
        names = {thread.name for thread in threading.enumerate()}
        assert not names & {"bittap-ws-reader", "bittap-ws-keepalive"}

    def test_open_close_cycles_leave_no_threads(self, server):
        """20 open/close cycles leave no thread behind."""
        assert not client_threads()
        for _ in range(20):
            with Client(server.url, ping_interval=1000 * MS) as client:
                client.ping()
        assert wait_for(lambda: not client_threads())

    def test_reconnects_leave_no_threads(self, client, server):
        """Connections replaced after drops leave no thread behind."""
        client.ping()
        before = client_threads()
        assert before
        for _ in range(10):
            server.drop()
            assert wait_for(lambda: "disconnected" in repr(client))
            client.ping()
        # Only the current connection's threads remain, each once.
        assert wait_for(lambda: client_threads() == before)

    def test_close_during_connect(self):
        """close() while another thread waits for a handshake fails that call and stays closed."""
        connect_timeout = 3000 * MS
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            listener.settimeout(2000 * MS)
            port = listener.getsockname()[1]
            client = Client(
                f"ws://127.0.0.1:{port}/", timeout=connect_timeout, connect_timeout=connect_timeout
            )
            errors = []

            def call():
                try:
                    client.ping()
                except Exception as exc:
                    errors.append(exc)

            thread = threading.Thread(target=call)
            thread.start()
            # The handshake is under way once the listener has the connection.
            conn, _ = listener.accept()
            with conn:
                start = time.monotonic()
                client.close()
                thread.join(connect_timeout + 1000 * MS)
                assert not thread.is_alive()
                assert time.monotonic() - start < connect_timeout + 1000 * MS
            assert len(errors) == 1
            assert isinstance(errors[0], (ConnectionClosed, ConnectError))
            client.close()
            assert "state=closed" in repr(client)


class TestBadFrames:
    @pytest.mark.parametrize(
        "frame",
        [
            "not json",
            b"\x00\x01binary",
            '{"id": null, "status": 400, "error": {"code": -1, "msg": "x"}}',
            '{"id": "not-ours", "status": 200, "result": {}}',
            '{"status": 200}',
            "[1, 2, 3]",
            '{"id": 12, "status": 200}',
            "\ufffd\ufffd",
        ],
    )
    def test_reader_survives(self, client, server, caplog, frame):
        """A frame that belongs to nobody is logged; the reader keeps running."""
        server.garbage = [frame]
        with caplog.at_level(logging.DEBUG, logger="bittap_ws"):
            assert client.time() > 0
            assert client.time() > 0
        assert any(record.name == "bittap_ws" for record in caplog.records)
        assert server.connection_count == 1

    def test_duplicate_answers_are_dropped(self, client, server):
        """A second answer to the same id is dropped."""
        server.duplicate = True
        for _ in range(5):
            assert client.time() > 0
        assert "pending=0" in repr(client)

    def test_garbage_on_an_idle_connection(self, client, server, caplog):
        """Unsolicited frames between calls are logged and survived."""
        client.ping()
        with caplog.at_level(logging.WARNING, logger="bittap_ws"):
            server.send("garbage")
            server.send(b"\xff")
            assert wait_for(lambda: len(caplog.records) >= 2)
        client.ping()


class TestBackoff:
    def test_repeated_failures_back_off(self):
        """After a failed attempt, the next one waits, and fails at once if it would not fit."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            port = listener.getsockname()[1]
            accepted = []

            def refuse():
                # Accept and hang up, so every handshake fails.
                listener.settimeout(3000 * MS)
                try:
                    while len(accepted) < 10:
                        conn, _ = listener.accept()
                        accepted.append(conn)
                        conn.close()
                except OSError:
                    pass

            thread = threading.Thread(target=refuse)
            thread.start()
            client = Client(f"ws://127.0.0.1:{port}/", timeout=100 * MS, connect_timeout=100 * MS)
            for _ in range(5):
                with pytest.raises(ConnectError):
                    client.ping()
            # The first attempt fails, then the backoff (at least 250 ms)
            # exceeds each call's 100 ms timeout: no further attempt is made.
            assert len(accepted) <= 2
            # shutdown() wakes the thread blocked in accept(); close() would not.
            listener.shutdown(socket.SHUT_RDWR)
            thread.join(5)

    def test_success_resets_the_backoff(self, server):
        """Once connected, a drop reconnects without delay."""
        with Client(server.url) as client:
            for _ in range(5):
                server.drop()
                assert wait_for(lambda: "disconnected" in repr(client))
                start = time.monotonic()
                client.ping()
                assert time.monotonic() - start < 1000 * MS


def test_timeout_does_not_break_the_connection(client, server):
    """A timed-out call leaves the connection usable."""
    server.on("time", action="silence", times=1)
    with pytest.raises(RequestTimeout):
        client.time(timeout=100 * MS)
    assert client.time() > 0
    assert server.connection_count == 1


def test_forgotten_client_closes_its_connection(server):
    """A client garbage-collected without close() ends its connection and threads."""
    assert not client_threads()
    client = Client(server.url, ping_interval=1000 * MS)
    client.ping()
    assert {"bittap-ws-reader", "bittap-ws-keepalive"} <= set(client_threads())
    del client
    assert wait_for(lambda: not client_threads())
    assert wait_for(lambda: server.open_connections == 0)


class TestBundledServer:
    def test_exits_while_a_client_keeps_its_socket_after_closing(self):
        """run_server() exits promptly while a client that finished the close handshake keeps its TCP socket open."""
        with run_server() as server:
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(
                b"GET /endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 101")
            # A masked close frame, code 1000; then read the server's answer.
            sock.sendall(bytes([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2]))
            sock.settimeout(2000 * MS)
            reply = sock.recv(4096)
            assert reply[:1] == b"\x88"
            start = time.monotonic()
        try:
            assert time.monotonic() - start < 3000 * MS
        finally:
            sock.close()
