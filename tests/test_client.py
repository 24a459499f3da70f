import math
import socket
import threading
import time

import pytest

from bittap_ws import (
    DEFAULT_URL,
    ApiError,
    BitTapError,
    Client,
    ConnectError,
    ConnectionClosed,
    ProtocolError,
    RateLimit,
    RateLimitError,
    RequestTimeout,
    Response,
    ServerError,
)
from bittap_ws.protocol import REQUEST_ID_PATTERN

from .conftest import MS, wait_for


class TestConstructor:
    def test_defaults(self):
        """The defaults are those of the contract, and nothing connects."""
        client = Client()
        assert client.url == DEFAULT_URL
        assert (client.timeout, client.connect_timeout) == (10.0, 10.0)
        assert (client.ping_interval, client.ping_timeout) == (20.0, 20.0)
        assert client.rate_limits == ()
        assert "state=unopened" in repr(client)

    @pytest.mark.parametrize(
        "url", ["http://example.com/", "https://x", "example.com", "ws://", ""]
    )
    def test_rejects_a_non_websocket_url(self, url):
        """A URL that is not ws:// or wss:// raises ValueError."""
        with pytest.raises(ValueError):
            Client(url)

    @pytest.mark.parametrize("option", ["timeout", "connect_timeout", "ping_interval"])
    def test_rejects_a_non_positive_timeout(self, option):
        """Timeouts must be positive."""
        with pytest.raises(ValueError):
            Client(**{option: 0})

    @pytest.mark.parametrize(
        "option",
        ["timeout", "connect_timeout", "ping_interval", "ping_timeout", "resume_timeout"],
    )
    @pytest.mark.parametrize(
        "value", [math.nan, math.inf, -math.inf, -1.0, 0.0, threading.TIMEOUT_MAX * 2]
    )
    def test_rejects_nan_infinite_and_huge_timeouts(self, option, value):
        """A timeout option that is NaN, not positive, infinite or beyond TIMEOUT_MAX raises ValueError."""
        with pytest.raises(ValueError, match=option):
            Client(**{option: value})

    def test_keepalive_may_be_turned_off(self):
        """None turns keepalive off."""
        client = Client(ping_interval=None, ping_timeout=None)
        assert client.ping_interval is None


class TestCalls:
    def test_ping(self, client, server):
        """ping() returns None after the server answers."""
        assert client.ping() is None
        assert server.requests[-1]["method"] == "ping"

    def test_time(self, client):
        """time() returns serverTime in milliseconds."""
        before = int(time.time() * 1000)
        server_time = client.time()
        after = int(time.time() * 1000)
        assert before - 1000 <= server_time <= after + 1000

    def test_request_returns_a_response(self, client):
        """request() returns a frozen Response with the rate limits."""
        response = client.request("time")
        assert isinstance(response, Response)
        assert response.status == 200
        assert "serverTime" in response.result
        assert response.rate_limits[0].rate_limit_type == "REQUEST_WEIGHT"

    def test_rate_limits_are_updated(self, client, server):
        """rate_limits holds those of the latest answer."""
        client.ping()
        client.ping()
        assert client.rate_limits == (RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 6000, 2),)

    def test_rate_limits_are_kept_when_an_answer_has_none(self, client, server):
        """An answer without rateLimits leaves rate_limits alone."""
        client.ping()
        server.rate_limits = []
        client.ping()
        assert client.rate_limits[0].count == 1

    def test_request_ids_are_unique_and_valid(self, client, server):
        """Every request carries a new id matching the allowed pattern."""
        for _ in range(20):
            client.ping()
        ids = [request["id"] for request in server.requests]
        assert len(set(ids)) == 20
        assert all(REQUEST_ID_PATTERN.match(id) for id in ids)

    def test_params_dict(self, client, server):
        """A dict of params is sent as a JSON object."""
        server.on("depth", result={"ok": True})
        response = client.request("depth", {"symbol": "BTC-USDT", "limit": 5})
        assert response.result == {"ok": True}
        assert server.requests[-1]["params"] == {"symbol": "BTC-USDT", "limit": 5}

    def test_params_list(self, client, server):
        """A list of params is sent as a JSON array."""
        server.on("LOGIN", result={})
        client.request("LOGIN", ["key", "1", "sig"])
        assert server.requests[-1]["params"] == ["key", "1", "sig"]

    def test_no_params(self, client, server):
        """params=None leaves params out."""
        client.request("time")
        assert "params" not in server.requests[-1]

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_non_finite_params_are_not_sent(self, client, server, value):
        """NaN or an infinity in params raises ValueError and sends nothing."""
        client.time()
        sent = len(server.requests)
        with pytest.raises(ValueError):
            client.request("order", {"price": value})
        assert client.time() > 0
        assert [r["method"] for r in server.requests[sent:]] == ["time"]

    @pytest.mark.parametrize("method", [None, 123, b"time", ["time"]])
    def test_method_must_be_a_string(self, server, method):
        """A method that is not a str raises TypeError at once, connecting nowhere."""
        client = Client(server.url, timeout=10_000 * MS)
        start = time.monotonic()
        with pytest.raises(TypeError, match="method"):
            client.request(method)
        assert time.monotonic() - start < 1000 * MS
        assert server.connection_count == 0
        assert "state=unopened" in repr(client)

    def test_method_must_not_be_empty(self, client, server):
        """An empty method raises ValueError and sends nothing."""
        client.time()
        with pytest.raises(ValueError, match="method"):
            client.request("")
        assert [r["method"] for r in server.requests] == ["time"]

    @pytest.mark.parametrize("params", ["symbol=BTC-USDT", b"x", 42, 1.5, object()])
    def test_params_of_the_wrong_type(self, client, server, params):
        """params that are neither a mapping, a sequence nor None raise TypeError; nothing is sent."""
        client.time()
        with pytest.raises(TypeError, match="params"):
            client.request("depth", params)
        assert [r["method"] for r in server.requests] == ["time"]

    def test_lazy_connect(self, server):
        """The first call connects without connect()."""
        client = Client(server.url)
        try:
            assert client.time() > 0
            assert "state=open" in repr(client)
        finally:
            client.close()


class TestErrors:
    def test_unknown_method(self, client):
        """An unknown method raises ApiError with status, code and msg."""
        with pytest.raises(ApiError) as exc_info:
            client.request("nosuchmethod")
        exc = exc_info.value
        assert exc.status == 400
        assert isinstance(exc.code, int)
        assert "nosuchmethod" in exc.msg
        assert exc.method == "nosuchmethod"
        assert exc.request_id
        assert "nosuchmethod failed with status 400" in str(exc)

    def test_error_keeps_the_connection_usable(self, client, server):
        """After an ApiError, the next call works on the same connection."""
        with pytest.raises(ApiError):
            client.request("nosuchmethod")
        assert client.time() > 0
        assert server.connection_count == 1

    def test_error_fields(self, client, server):
        """ApiError carries the error object's code, msg and data."""
        server.on("time", status=400, error={"code": -1121, "msg": "Invalid symbol.", "data": {"x": 1}})
        with pytest.raises(ApiError) as exc_info:
            client.time()
        exc = exc_info.value
        assert (exc.status, exc.code, exc.msg, exc.data) == (400, -1121, "Invalid symbol.", {"x": 1})
        assert exc.rate_limits

    def test_server_error(self, client, server):
        """Status 500 and above raises ServerError."""
        server.on("time", status=503)
        with pytest.raises(ServerError) as exc_info:
            client.time()
        assert exc_info.value.status == 503

    @pytest.mark.parametrize("status", [418, 429])
    def test_rate_limit_error(self, client, server, status):
        """Statuses 418 and 429 raise RateLimitError."""
        server.on("time", status=status)
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        assert exc_info.value.retry_after is None

    def test_malformed_answer(self, client, server):
        """An answer to our id that cannot be understood raises ProtocolError."""
        server.on("time", extra={"status": "OK"})
        with pytest.raises(ProtocolError):
            client.time()
        server.reset()
        assert client.time() > 0

    def test_time_without_server_time(self, client, server):
        """time() raises ProtocolError when serverTime is missing."""
        server.on("time", result={"other": 1})
        with pytest.raises(ProtocolError):
            client.time()

    def test_every_error_is_a_bittap_error(self):
        """The whole tree derives from BitTapError; RequestTimeout is a TimeoutError."""
        assert issubclass(RequestTimeout, TimeoutError)
        for cls in (ConnectError, ConnectionClosed, RequestTimeout, ProtocolError, ApiError):
            assert issubclass(cls, BitTapError)


class TestTimeouts:
    def test_silence_raises_request_timeout(self, client, server):
        """No answer within the timeout raises RequestTimeout, near the timeout."""
        server.on("time", action="silence")
        start = time.monotonic()
        with pytest.raises(RequestTimeout) as exc_info:
            client.time(timeout=200 * MS)
        elapsed = time.monotonic() - start
        assert 150 * MS <= elapsed < 2000 * MS
        exc = exc_info.value
        assert exc.method == "time"
        assert exc.timeout == 200 * MS
        assert isinstance(exc, TimeoutError)

    def test_timeout_defaults_to_the_client_timeout(self, server):
        """timeout=None means the client's timeout."""
        server.on("ping", action="silence")
        with Client(server.url, timeout=200 * MS) as client:
            start = time.monotonic()
            with pytest.raises(RequestTimeout):
                client.ping()
            assert time.monotonic() - start < 2000 * MS

    def test_late_answer_is_dropped(self, client, server, caplog):
        """An answer after the timeout is dropped quietly and leaves no slot."""
        server.on("time", delay=300 * MS, times=1)
        with caplog.at_level("DEBUG", logger="bittap_ws"):
            with pytest.raises(RequestTimeout):
                client.time(timeout=100 * MS)
            assert wait_for(lambda: "unknown or expired" in caplog.text)
        assert client.time() > 0
        assert "pending=0" in repr(client)

    @pytest.mark.parametrize(
        "value", [math.nan, math.inf, -1.0, 0.0, threading.TIMEOUT_MAX * 2]
    )
    @pytest.mark.parametrize("call", ["request", "ping", "time", "clock_offset"])
    def test_rejects_a_nan_infinite_or_huge_call_timeout(self, server, call, value):
        """timeout= of a call that is NaN, not positive, infinite or huge raises ValueError at once, sending nothing."""
        client = Client(server.url)
        args = ("time",) if call == "request" else ()
        with pytest.raises(ValueError, match="timeout"):
            getattr(client, call)(*args, timeout=value)
        assert server.connection_count == 0

    def test_huge_ping_interval_keeps_the_connection(self, server):
        """The largest ping_interval allowed keeps a connection open instead of killing it."""
        with Client(server.url, ping_interval=threading.TIMEOUT_MAX) as client:
            time.sleep(100 * MS)
            assert client.time() > 0
            assert server.connection_count == 1

    def test_control_characters_in_the_method_are_escaped(self, client, server):
        """A method with control characters shows escaped in the text of a RequestTimeout."""
        method = "ti\x1b[2Jme\nFAKE LOG LINE"
        server.on(method, action="silence")
        with pytest.raises(RequestTimeout) as exc_info:
            client.request(method, timeout=100 * MS)
        text = str(exc_info.value)
        assert "\x1b" not in text and "\n" not in text
        assert repr(method) in text
        assert exc_info.value.method == method

    def test_delayed_answer_within_timeout(self, client, server):
        """A slow answer within the timeout is returned."""
        server.delay = 100 * MS
        assert client.time(timeout=2000 * MS) > 0


class TestConnect:
    def test_refused(self):
        """A refused connection raises ConnectError with the cause attached."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        client = Client(f"ws://127.0.0.1:{port}/", connect_timeout=2000 * MS)
        with pytest.raises(ConnectError) as exc_info:
            client.connect()
        assert exc_info.value.__cause__ is not None

    def test_no_handshake_within_connect_timeout(self):
        """A server that accepts but never answers the handshake gives ConnectError in time."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            client = Client(f"ws://127.0.0.1:{port}/", connect_timeout=300 * MS)
            start = time.monotonic()
            with pytest.raises(ConnectError):
                client.time()
            assert time.monotonic() - start < 3000 * MS

    def test_not_a_websocket_server(self):
        """An HTTP answer that is not an upgrade raises ConnectError."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]

            def answer():
                conn, _ = listener.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

            thread = threading.Thread(target=answer)
            thread.start()
            with pytest.raises(ConnectError):
                Client(f"ws://127.0.0.1:{port}/", connect_timeout=2000 * MS).connect()
            thread.join()

    def test_context_manager(self, server):
        """with connects on entry and closes on exit."""
        with Client(server.url) as client:
            # The server counts a connection once its handler runs.
            assert wait_for(lambda: server.connection_count == 1)
            assert "state=open" in repr(client)
        assert "state=closed" in repr(client)
        assert wait_for(lambda: server.open_connections == 0)


class TestConcurrency:
    def test_threads_get_their_own_answers(self, server):
        """16 threads sharing one client each get the answer to their own request."""
        server.jitter = 5 * MS  # answers come back out of order
        errors = []
        with Client(server.url) as client:

            def work(n):
                try:
                    for _ in range(25):
                        method = f"echo{n}"
                        server.on(method, result={"n": n})
                        response = client.request(method)
                        assert response.result == {"n": n}
                except Exception as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert not errors
            assert "pending=0" in repr(client)

    def test_answers_out_of_order(self, client, server):
        """A fast answer overtakes a slow one; each reaches its caller."""
        server.on("time", delay=300 * MS)
        results = {}

        def slow_call():
            results["time"] = client.time()
            results["time_done_at"] = time.monotonic()

        slow = threading.Thread(target=slow_call)
        slow.start()
        assert wait_for(lambda: len(server.requests) == 1)
        client.ping()
        results["ping_done_at"] = time.monotonic()
        slow.join(5)
        assert isinstance(results["time"], int)
        assert server.requests[0]["method"] == "time"
        assert results["ping_done_at"] < results["time_done_at"]
