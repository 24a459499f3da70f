import time

import pytest

from bittap_ws import Client, ConnectionClosed, RateLimit, RateLimitError
from bittap_ws._ratelimit import RateLimitGuard, window_end

from .conftest import MS

# 2023-11-14T22:13:20Z, a multiple of 10 s and of 100 s but not of a minute.
T = 1_700_000_000.0


def limit(interval="MINUTE", interval_num=1, limit=10, count=10, kind="REQUEST_WEIGHT"):
    """Return a RateLimit, at its limit by default."""
    return RateLimit(kind, interval, interval_num, limit, count)


def wire(rate_limit):
    """Return the rateLimits object the server sends for ``rate_limit``."""
    return {
        "rateLimitType": rate_limit.rate_limit_type,
        "interval": rate_limit.interval,
        "intervalNum": rate_limit.interval_num,
        "limit": rate_limit.limit,
        "count": rate_limit.count,
    }


def early_in_window(span=1, offset=0.0, margin=600 * MS):
    """Sleep, if fewer than ``margin`` seconds remain in a window of ``span`` seconds, to the next."""
    remaining = span - (time.time() + offset) % span
    if remaining < margin:
        time.sleep(remaining + 10 * MS)


class TestWindowEnd:
    @pytest.mark.parametrize(
        "interval, interval_num, now, end",
        [
            ("SECOND", 1, T + 0.25, T + 1),
            ("SECOND", 10, T + 3.2, T + 10),
            ("SECOND", 10, T + 9.999, T + 10),
            ("MINUTE", 1, 120.5, 180.0),
            ("MINUTE", 1, T, T + 40),
            ("MINUTE", 5, 61.0, 300.0),
            ("HOUR", 1, 5 * 3600 + 1, 6 * 3600),
            ("HOUR", 4, 5 * 3600, 8 * 3600),
            ("DAY", 1, 3 * 86400 + 5, 4 * 86400),
            ("DAY", 1, T, 1_700_006_400.0),
        ],
    )
    def test_windows_are_aligned_to_the_epoch(self, interval, interval_num, now, end):
        """A window ends at the next whole multiple of its length since the epoch."""
        assert window_end(interval, interval_num, now) == end

    def test_a_window_starts_on_its_boundary(self):
        """At a boundary exactly, the window that starts there counts."""
        assert window_end("MINUTE", 1, 180.0) == 240.0
        assert window_end("SECOND", 10, T) == T + 10

    @pytest.mark.parametrize("interval, interval_num", [("WEEK", 1), ("MINUTE", 0), ("SECOND", -1)])
    def test_unknown_windows(self, interval, interval_num):
        """An unknown unit or a non-positive intervalNum has no end."""
        assert window_end(interval, interval_num, T) is None


class TestGuard:
    def test_allows_by_default(self):
        """A new guard blocks nothing."""
        assert RateLimitGuard().check(T) is None

    def test_blocks_until_the_window_ends(self):
        """A limit reached blocks until its window ends, and no longer."""
        guard = RateLimitGuard()
        guard.update_from_rate_limits((limit("MINUTE"),), sent_at=T + 1)
        exc = guard.check(T + 10, "time")
        assert isinstance(exc, RateLimitError)
        assert (exc.status, exc.code, exc.method, exc.request_id) == (429, None, "time", None)
        assert exc.retry_after == pytest.approx(30.0)
        assert "refused locally" in exc.msg
        assert "REQUEST_WEIGHT at 10/10 per 1 MINUTE" in exc.msg
        assert exc.rate_limits == (limit("MINUTE"),)
        assert guard.check(T + 40) is None

    def test_count_above_the_limit_blocks(self):
        """A count beyond the limit blocks too."""
        guard = RateLimitGuard()
        guard.update_from_rate_limits((limit(count=11),), sent_at=T)
        assert guard.check(T + 1) is not None

    def test_below_the_limit_blocks_nothing(self):
        """A count below the limit blocks nothing."""
        guard = RateLimitGuard()
        guard.update_from_rate_limits((limit(count=9),), sent_at=T)
        assert guard.check(T) is None
        assert guard.blocked_until == 0.0

    def test_the_longest_window_at_its_limit_wins(self):
        """With several limits reached, the block lasts until the last window ends."""
        guard = RateLimitGuard()
        limits = (limit("SECOND", 10), limit("DAY", 1, limit=100, count=100, kind="ORDERS"), limit("MINUTE", count=1))
        guard.update_from_rate_limits(limits, sent_at=T)
        assert guard.blocked_until == 1_700_006_400.0
        assert "ORDERS at 100/100 per 1 DAY" in guard.check(T).msg

    def test_later_rate_limits_below_the_limit_lift_the_block(self):
        """The latest rateLimits decide: under the limit again, nothing is blocked."""
        guard = RateLimitGuard()
        guard.update_from_rate_limits((limit(),), sent_at=T)
        guard.update_from_rate_limits((limit(count=1),), sent_at=T + 1)
        assert guard.check(T + 1) is None

    def test_older_rate_limits_arriving_late_do_not_lift_the_block(self):
        """rateLimits of a request sent earlier do not override those of a later one."""
        guard = RateLimitGuard()
        guard.update_from_rate_limits((limit(),), sent_at=T + 1)
        guard.update_from_rate_limits((limit(count=1),), sent_at=T)
        assert guard.check(T + 1) is not None

    def test_a_window_that_ended_in_flight_blocks_nothing(self):
        """A limit reached in the window of the request's sending ends with that window."""
        guard = RateLimitGuard()
        guard.update_from_rate_limits((limit("SECOND"),), sent_at=T + 0.999)
        assert guard.check(T + 1.001) is None

    def test_unknown_intervals_are_ignored(self):
        """A limit reached on an unknown interval blocks nothing."""
        guard = RateLimitGuard()
        guard.update_from_rate_limits((limit("WEEK"),), sent_at=T)
        assert guard.check(T) is None

    def test_retry_after_blocks_until_then(self):
        """A retryAfter blocks until it passes, with a message that says so."""
        guard = RateLimitGuard()
        guard.update_from_retry_after(int((T + 5) * 1000))
        exc = guard.check(T + 1, "ping")
        assert exc.retry_after == pytest.approx(4.0)
        assert "retryAfter" in exc.msg
        assert guard.check(T + 5) is None

    def test_retry_after_outlasts_lifted_windows(self):
        """rateLimits under the limit do not lift a retryAfter."""
        guard = RateLimitGuard()
        guard.update_from_retry_after(int((T + 100) * 1000))
        guard.update_from_rate_limits((limit(),), sent_at=T)
        guard.update_from_rate_limits((limit(count=0),), sent_at=T + 1)
        assert guard.check(T + 50).retry_after == pytest.approx(50.0)

    def test_a_window_outlasting_retry_after_is_named(self):
        """When a window ends after the retryAfter, the message names the limit."""
        guard = RateLimitGuard()
        guard.update_from_retry_after(int((T + 1) * 1000))
        guard.update_from_rate_limits((limit("DAY"),), sent_at=T)
        assert "per 1 DAY" in guard.check(T).msg

    def test_an_earlier_retry_after_does_not_shorten_the_block(self):
        """Of two retryAfter values, the later one holds."""
        guard = RateLimitGuard()
        guard.update_from_retry_after(int((T + 10) * 1000))
        guard.update_from_retry_after(int((T + 5) * 1000))
        assert guard.blocked_until == T + 10

    def test_offset_aligns_windows_to_the_server_clock(self):
        """With a server clock 10 s ahead, a minute window ends 10 s earlier locally."""
        guard = RateLimitGuard(offset=10.0)
        guard.update_from_rate_limits((limit("MINUTE"),), sent_at=T)
        assert guard.blocked_until == T + 30
        guard.update_from_retry_after(int((T + 100) * 1000))
        assert guard.blocked_until == T + 90


class TestClient:
    def test_refused_call_reaches_no_server(self, client, server):
        """A call while a limit is reached raises locally and sends nothing."""
        server.rate_limits = [wire(limit("DAY", limit=5, count=5))]
        client.time()
        sent = len(server.requests)
        with pytest.raises(RateLimitError) as exc_info:
            client.request("ping")
        exc = exc_info.value
        assert len(server.requests) == sent
        assert (exc.status, exc.code, exc.method) == (429, None, "ping")
        assert "refused locally" in str(exc)
        day_end = window_end("DAY", 1, time.time())
        assert exc.retry_after == pytest.approx(day_end - time.time(), abs=1.0)

    def test_refused_call_opens_no_connection(self, client, server):
        """After a drop, a refused call does not reconnect."""
        server.rate_limits = [wire(limit("DAY", limit=5, count=5))]
        client.time()
        server.drop()
        with pytest.raises(RateLimitError):
            client.time()
        time.sleep(100 * MS)
        assert server.connection_count == 1

    def test_guard_lifts_when_the_window_ends(self, client, server):
        """A limit reached in a 1 SECOND window blocks until the next whole second."""
        server.rate_limits = [wire(limit("SECOND", limit=3, count=3))]
        early_in_window()
        client.time()
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        retry_after = exc_info.value.retry_after
        assert 0 < retry_after <= 1.0
        assert time.time() + retry_after == pytest.approx(window_end("SECOND", 1, time.time()), abs=0.01)
        sent = len(server.requests)
        time.sleep(retry_after + 10 * MS)
        server.rate_limits = []
        assert client.time() > 0
        assert client.time() > 0
        assert len(server.requests) == sent + 2

    def test_guard_lifts_when_retry_after_passes(self, client, server):
        """After a 429 with retryAfter ahead, calls are refused until then."""
        ahead = 1500 * MS
        retry_after = int((time.time() + ahead) * 1000)
        server.on("time", status=429, extra={"retryAfter": retry_after}, times=1)
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        assert exc_info.value.code is not None
        sent = len(server.requests)
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        exc = exc_info.value
        assert exc.code is None
        assert len(server.requests) == sent
        assert 0 < exc.retry_after <= ahead
        time.sleep(exc.retry_after + 10 * MS)
        assert client.time() > 0
        assert len(server.requests) == sent + 1

    def test_ban_with_retry_after_in_error_data_blocks(self, client, server):
        """A 418 with retryAfter in the error's data blocks calls too."""
        error = {"code": -1003, "msg": "Way too many requests; IP banned.", "data": {"retryAfter": int(time.time() * 1000) + 60_000}}
        server.on("time", status=418, error=error, times=1)
        with pytest.raises(RateLimitError):
            client.time()
        sent = len(server.requests)
        with pytest.raises(RateLimitError) as exc_info:
            client.ping()
        assert len(server.requests) == sent
        assert 59.0 < exc_info.value.retry_after <= 60.0

    def test_subscribe_is_guarded_too(self, client, server):
        """subscribe() while blocked raises locally and sends no SUBSCRIBE."""
        server.on("time", status=429, extra={"retryAfter": int(time.time() * 1000) + 60_000}, times=1)
        with pytest.raises(RateLimitError):
            client.time()
        sent = len(server.requests)
        with pytest.raises(RateLimitError) as exc_info:
            client.subscribe("s_trade@BTC-USDT")
        assert exc_info.value.method == "SUBSCRIBE"
        assert len(server.requests) == sent

    def test_the_default_counter_blocks_nothing(self, client, server):
        """Answers below the limit block nothing."""
        for _ in range(20):
            client.ping()
        assert client.rate_limits[0].count == 20

    def test_option_turns_it_off(self, server):
        """With rate_limit_guard=False, every call is sent."""
        server.rate_limits = [wire(limit("DAY", limit=5, count=5))]
        server.on("time", status=429, extra={"retryAfter": int(time.time() * 1000) + 60_000}, times=1)
        with Client(server.url, timeout=2000 * MS, rate_limit_guard=False) as client:
            with pytest.raises(RateLimitError) as exc_info:
                client.time()
            assert 59.0 < exc_info.value.retry_after <= 60.0
            assert client.time() > 0
            client.ping()
        assert len(server.requests) == 3

    def test_option_must_be_a_bool(self):
        """rate_limit_guard accepts only True or False."""
        with pytest.raises(TypeError):
            Client(rate_limit_guard="no")

    def test_option_is_on_by_default(self):
        """The guard is on unless turned off."""
        assert Client().rate_limit_guard is True

    def test_closed_client_raises_connection_closed_when_not_blocked(self, client):
        """Without a block, a closed client still raises ConnectionClosed."""
        client.close()
        with pytest.raises(ConnectionClosed):
            client.time()


class TestClockOffset:
    @pytest.mark.parametrize("shift_ms", [10_000, -10_000])
    def test_shifted_server_clock(self, client, server, shift_ms):
        """clock_offset() against a server 10 s off returns that offset within 250 ms."""
        server.clock_offset_ms = shift_ms
        offset = client.clock_offset()
        assert abs(offset - shift_ms) <= 250

    def test_unshifted_server_clock(self, client):
        """clock_offset() against a server on the local clock is near zero."""
        assert abs(client.clock_offset(samples=3)) <= 250

    def test_guard_follows_the_server_clock(self, client, server):
        """After clock_offset(), windows end on the server's whole seconds."""
        server.clock_offset_ms = 10_500
        client.clock_offset()
        server.rate_limits = [wire(limit("SECOND", 10, limit=5, count=5))]
        early_in_window(10, offset=10.5)
        start = time.time()
        client.time()
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        now = time.time()
        server_end = window_end("SECOND", 10, start + 10.5) - 10.5
        assert now + exc_info.value.retry_after == pytest.approx(server_end, abs=0.25)


def test_closed_client_reports_closed_before_blocked(server):
    """A closed client raises ConnectionClosed even while the guard blocks."""
    server.rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "DAY", "intervalNum": 1, "limit": 1, "count": 1}
    ]
    client = Client(server.url)
    client.time()
    with pytest.raises(RateLimitError):
        client.time()
    client.close()
    with pytest.raises(ConnectionClosed):
        client.time()
