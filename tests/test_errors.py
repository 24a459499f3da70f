import time

import pytest

from bittap_ws import ApiError, RateLimit, RateLimitError, ServerError

from .conftest import MS


def retry_after_ms(seconds):
    """Return a retryAfter value ``seconds`` from now, in ms since the epoch."""
    return int((time.time() + seconds) * 1000)


class TestApiError:
    def test_fields(self, client, server):
        """ApiError carries status, code, msg, data, method, request_id and rate_limits."""
        server.rate_limits = [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 7}
        ]
        server.on("time", status=400, error={"code": -1102, "msg": "Bad param.", "data": {"param": "x"}})
        with pytest.raises(ApiError) as exc_info:
            client.time()
        exc = exc_info.value
        assert type(exc) is ApiError
        assert exc.status == 400
        assert exc.code == -1102
        assert exc.msg == "Bad param."
        assert exc.data == {"param": "x"}
        assert exc.method == "time"
        assert exc.request_id == server.requests[-1]["id"]
        assert exc.rate_limits == (RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 6000, 7),)

    def test_control_characters_in_the_method_are_escaped(self, client, server):
        """A method with control characters shows escaped in the text of an ApiError."""
        method = "time\r\n\x07"
        server.on(method, status=400, error={"code": -1, "msg": "no"})
        with pytest.raises(ApiError) as exc_info:
            client.request(method)
        text = str(exc_info.value)
        assert not any(c in text for c in "\r\n\x07")
        assert text.startswith(repr(method))
        assert exc_info.value.method == method

    def test_data_is_none_when_absent(self, client, server):
        """An error object without data gives data None."""
        server.on("time", status=400, error={"code": -1100, "msg": "Illegal characters."})
        with pytest.raises(ApiError) as exc_info:
            client.time()
        assert exc_info.value.data is None

    def test_str_is_one_line_naming_everything(self, client, server):
        """str() is one line naming the method, status, code and message."""
        server.on("time", status=400, error={"code": -1121, "msg": "Invalid symbol."})
        with pytest.raises(ApiError) as exc_info:
            client.time()
        text = str(exc_info.value)
        assert "\n" not in text
        for part in ("time", "400", "-1121", "Invalid symbol."):
            assert part in text

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 499])
    def test_client_side_statuses_are_plain_api_errors(self, client, server, status):
        """Statuses below 500 other than 418 and 429 raise ApiError itself."""
        server.on("time", status=status)
        with pytest.raises(ApiError) as exc_info:
            client.time()
        assert type(exc_info.value) is ApiError
        assert exc_info.value.status == status


class TestServerError:
    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_status_500_and_above(self, client, server, status):
        """Statuses of 500 and above raise ServerError, an ApiError."""
        server.on("time", status=status, error={"code": -1001, "msg": "Internal error."})
        with pytest.raises(ServerError) as exc_info:
            client.time()
        exc = exc_info.value
        assert isinstance(exc, ApiError)
        assert (exc.status, exc.code, exc.msg) == (status, -1001, "Internal error.")

    def test_docstring_says_the_outcome_is_unknown(self):
        """ServerError's docstring warns that the request may have been executed."""
        doc = " ".join(ServerError.__doc__.split())
        assert "outcome of the request is unknown" in doc
        assert "may have executed" in doc


class TestRateLimitError:
    @pytest.mark.parametrize("status", [418, 429])
    def test_retry_after_from_error_data(self, client, server, status):
        """retry_after is read from the error's data.retryAfter."""
        error = {"code": -1003, "msg": "Too many requests.", "data": {"retryAfter": retry_after_ms(5)}}
        server.on("time", status=status, error=error)
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        exc = exc_info.value
        assert exc.status == status
        assert exc.code == -1003
        assert 4.5 < exc.retry_after <= 5.0

    def test_retry_after_at_top_level(self, client, server):
        """retry_after is read from a top-level retryAfter."""
        server.on("time", status=429, extra={"retryAfter": retry_after_ms(5)})
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        assert 4.5 < exc_info.value.retry_after <= 5.0

    def test_error_data_wins_over_top_level(self, client, server):
        """When both are present, the error's data.retryAfter is used."""
        error = {"code": -1003, "msg": "Too many requests.", "data": {"retryAfter": retry_after_ms(5)}}
        server.on("time", status=429, error=error, extra={"retryAfter": retry_after_ms(60)})
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        assert 4.5 < exc_info.value.retry_after <= 5.0

    @pytest.mark.parametrize("status", [418, 429])
    def test_retry_after_is_none_when_absent(self, client, server, status):
        """Without retryAfter, retry_after is None and str() does not mention it."""
        server.on("time", status=status, error={"code": -1003, "msg": "Too many requests."})
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        assert exc_info.value.retry_after is None
        assert "retry after" not in str(exc_info.value)

    def test_retry_after_in_the_past_is_zero(self, client, server):
        """A retryAfter already passed gives retry_after 0, not a negative delay."""
        server.on("time", status=429, extra={"retryAfter": retry_after_ms(-5)})
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        assert exc_info.value.retry_after == 0.0

    def test_str_mentions_retry_after(self, client, server):
        """str() is one line that tells how long to wait."""
        server.on("time", status=429, extra={"retryAfter": retry_after_ms(5)})
        with pytest.raises(RateLimitError) as exc_info:
            client.time()
        text = str(exc_info.value)
        assert "\n" not in text
        assert "time failed with status 429" in text
        assert "retry after" in text

    def test_retry_after_uses_the_measured_clock_offset(self, client, server):
        """After clock_offset(), retryAfter is read on the server's clock."""
        server.clock_offset_ms = 10_000
        client.clock_offset()
        server.on("time", status=429, extra={"retryAfter": server.server_time() + 2000})
        with pytest.raises(RateLimitError) as exc_info:
            client.time(timeout=1000 * MS)
        assert 1.5 < exc_info.value.retry_after <= 2.25
