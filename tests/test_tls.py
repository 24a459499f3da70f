"""
wss://: certificate verification, a custom CA, and concurrency over TLS.

"""

import socket
import ssl
import threading
import time

import pytest

from bittap_ws import Client, ConnectError, ConnectionClosed
from bittap_ws.testing import run_server

from .conftest import MS, wait_for

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def tls_server(ca):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    with run_server(ssl=context) as server:
        yield server


@pytest.fixture
def client_context(ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class TestVerification:
    def test_url_is_wss_on_localhost(self, tls_server):
        """A TLS server's URL is wss:// on the name its certificate carries."""
        assert tls_server.url.startswith("wss://localhost:")

    def test_unknown_ca_is_refused_by_default(self, tls_server):
        """Without ssl_context, a certificate from an unknown CA fails verification."""
        client = Client(tls_server.url, connect_timeout=2000 * MS)
        with pytest.raises(ConnectError) as exc_info:
            client.connect()
        cause = exc_info.value.__cause__
        assert isinstance(cause, ssl.SSLCertVerificationError)

    def test_lazy_call_is_refused_too(self, tls_server):
        """A call that connects lazily fails with ConnectError on an unverified certificate."""
        with pytest.raises(ConnectError) as exc_info:
            Client(tls_server.url, timeout=2000 * MS).time()
        assert isinstance(exc_info.value.__cause__, ssl.SSLCertVerificationError)

    def test_hostname_is_checked(self, ca, client_context):
        """A certificate for another name fails even with the right CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("elsewhere.example").configure_cert(context)
        with run_server(ssl=context) as server:
            client = Client(server.url, connect_timeout=2000 * MS, ssl_context=client_context)
            with pytest.raises(ConnectError) as exc_info:
                client.connect()
            assert isinstance(exc_info.value.__cause__, ssl.SSLCertVerificationError)

    def test_custom_ca(self, tls_server, client_context):
        """ssl_context with the test CA connects; ping and time work."""
        with Client(tls_server.url, timeout=2000 * MS, ssl_context=client_context) as client:
            assert client.ping() is None
            assert client.time() > 0
            assert tls_server.connection_count == 1

    def test_reconnects_over_tls_after_a_drop(self, tls_server, client_context):
        """After a drop, the next call reconnects over TLS with the same context."""
        with Client(tls_server.url, timeout=2000 * MS, ssl_context=client_context) as client:
            assert client.time() > 0
            tls_server.drop()
            assert wait_for(lambda: "state=disconnected" in repr(client))
            assert client.time() > 0
            assert tls_server.connection_count == 2


class TestConcurrencyOverTLS:
    def test_threads_share_one_tls_connection(self, tls_server, client_context):
        """12 threads x 250 calls over one TLS connection each get their own answer."""
        tls_server.jitter = 2 * MS  # answers come back out of order
        threads_n, calls = 12, 250
        errors = []
        counts = [0] * threads_n
        with Client(tls_server.url, timeout=5000 * MS, ssl_context=client_context) as client:
            for n in range(threads_n):
                tls_server.on(f"echo{n}", result={"n": n})

            def work(n):
                try:
                    for i in range(calls):
                        response = client.request(f"echo{n}", {"i": i})
                        assert response.result == {"n": n}
                        counts[n] += 1
                except Exception as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert not any(thread.is_alive() for thread in threads)
            assert not errors, errors[:3]
            assert counts == [calls] * threads_n
            assert "pending=0" in repr(client)
            assert tls_server.connection_count == 1

    def test_large_frames_both_ways(self, tls_server, client_context):
        """Frames of several TLS records each go out and come back whole."""
        tls_server.on("big", result={"pad": "y" * 600_000})
        with Client(tls_server.url, timeout=5000 * MS, ssl_context=client_context) as client:
            for _ in range(3):
                response = client.request("big", {"pad": "x" * 600_000})
                assert response.result == {"pad": "y" * 600_000}
            assert len(tls_server.requests[-1]["params"]["pad"]) == 600_000


class TestStalledWriter:
    @pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
    def test_writer_blocked_by_a_stalled_peer_is_woken(self, tls, ca, client_context):
        """A write stuck on a peer that stopped reading ends when keepalive gives up; the next call reconnects."""
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert("localhost").configure_cert(context)
        with run_server(ssl=context) as server, Client(
            server.url,
            timeout=10_000 * MS,
            ping_interval=200 * MS,
            ping_timeout=300 * MS,
            ssl_context=client_context if tls else None,
        ) as client:
            client.ping()
            server.stall()
            start = time.monotonic()
            with pytest.raises(ConnectionClosed):
                # Far more than the socket buffers hold.
                client.request("big", {"pad": "x" * 16_000_000})
            assert time.monotonic() - start < 3000 * MS
            server.unstall()
            # At once, before the reader thread has finished the connection.
            assert client.time() > 0
            assert server.connection_count == 2


class TestRedirects:
    @pytest.mark.parametrize("status", [301, 302, 307, 308])
    def test_redirect_from_wss_to_ws_is_not_followed(self, ca, client_context, status):
        """A wss:// server redirecting to ws:// gives ConnectError naming the status; the ws:// target gets no connection."""
        target = socket.create_server(("127.0.0.1", 0))
        target.setblocking(False)
        location = f"ws://127.0.0.1:{target.getsockname()[1]}/endpoint?token=SECRET-TOKEN"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost").configure_cert(context)
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]

        def redirect():
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(
                    f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\n"
                    "Content-Length: 0\r\n\r\n".encode()
                )
                tls.recv(1)  # until the client hangs up

        thread = threading.Thread(target=redirect)
        thread.start()
        try:
            client = Client(
                f"wss://localhost:{port}/endpoint?format=JSON",
                connect_timeout=2000 * MS,
                ssl_context=client_context,
            )
            with pytest.raises(ConnectError) as exc_info:
                client.connect()
            thread.join(2000 * MS)
            text = str(exc_info.value)
            assert str(status) in text
            assert "ws://127.0.0.1" in text and "SECRET-TOKEN" not in text
            time.sleep(100 * MS)  # a connection to the target would be there by now
            with pytest.raises(BlockingIOError):
                target.accept()
        finally:
            thread.join()
            listener.close()
            target.close()
