import json
import math

import pytest

from bittap_ws import _encode, _json
from bittap_ws.errors import ProtocolError
from bittap_ws.protocol import (
    REQUEST_ID_PATTERN,
    Ack,
    BadReply,
    Event,
    RateLimit,
    Response,
    Unroutable,
    decode,
    encode_request,
    new_request_id,
    parse_rate_limits,
)

RATE_LIMITS = [
    {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 6000,
        "count": 3,
    }
]


class TestRequestIds:
    def test_match_the_allowed_pattern(self):
        """Request ids match ^[a-zA-Z0-9-_]{1,36}$."""
        for _ in range(100):
            assert REQUEST_ID_PATTERN.match(new_request_id())

    def test_are_unique(self):
        """Request ids never repeat."""
        ids = [new_request_id() for _ in range(10_000)]
        assert len(set(ids)) == len(ids)


class TestEncodeRequest:
    def test_without_params(self):
        """None leaves params out of the frame."""
        assert json.loads(encode_request("a", "time")) == {"id": "a", "method": "time"}

    def test_with_dict_params(self):
        """A mapping is sent as a JSON object."""
        frame = json.loads(encode_request("a", "depth", {"symbol": "BTC-USDT"}))
        assert frame["params"] == {"symbol": "BTC-USDT"}

    def test_with_list_params(self):
        """A sequence is sent as a JSON array."""
        frame = json.loads(encode_request("a", "SUBSCRIBE", ("s_trade@BTC-USDT",)))
        assert frame["params"] == ["s_trade@BTC-USDT"]

    def test_rejects_a_string_as_params(self):
        """A string is not a sequence of parameters."""
        with pytest.raises(TypeError):
            encode_request("a", "time", "oops")

    def test_rejects_unencodable_values(self):
        """Values JSON cannot represent raise TypeError."""
        with pytest.raises(TypeError):
            encode_request("a", "time", {"x": object()})

    @pytest.mark.parametrize("encoder", ["default", "stdlib"])
    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    @pytest.mark.parametrize(
        "wrap",
        [
            lambda v: {"price": v},
            lambda v: [1, v],
            lambda v: {"orders": [{"qty": "1", "price": v}]},
            lambda v: ({"deep": ([v],)},),
        ],
        ids=["dict", "list", "nested", "tuples"],
    )
    def test_rejects_non_finite_floats(self, monkeypatch, encoder, value, wrap):
        """NaN and infinities raise ValueError, with either JSON encoder, at any depth."""
        if encoder == "stdlib":
            monkeypatch.setattr(_encode, "_dumps", _json._stdlib_dumps)
        with pytest.raises(ValueError, match="not finite"):
            encode_request("a", "order", wrap(value))

    def test_null_and_finite_floats_still_pass(self):
        """None and ordinary floats are sent as null and numbers."""
        frame = json.loads(encode_request("a", "order", {"x": None, "y": 1.5, "z": [None]}))
        assert frame["params"] == {"x": None, "y": 1.5, "z": [None]}


class TestDecode:
    def test_success(self):
        """A status 200 answer decodes into a Response with its rate limits."""
        reply = decode(
            json.dumps(
                {"id": "a", "status": 200, "result": {"serverTime": 1}, "rateLimits": RATE_LIMITS}
            )
        )
        assert reply == Response(
            "a",
            200,
            {"serverTime": 1},
            rate_limits=(RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 6000, 3),),
        )

    def test_accepts_bytes(self):
        """Frames may be given as UTF-8 bytes."""
        assert decode(b'{"id":"a","status":200,"result":{}}') == Response("a", 200, {})

    def test_error(self):
        """A failed answer carries code, msg and data of its error object."""
        reply = decode(
            json.dumps(
                {
                    "id": "a",
                    "status": 400,
                    "error": {"code": -1102, "msg": "bad", "data": {"x": 1}},
                }
            )
        )
        assert (reply.status, reply.code, reply.msg, reply.data) == (400, -1102, "bad", {"x": 1})

    def test_retry_after_in_error_data(self):
        """retryAfter is read from error.data."""
        reply = decode(
            json.dumps(
                {"id": "a", "status": 429, "error": {"code": -1003, "msg": "", "data": {"retryAfter": 5}}}
            )
        )
        assert reply.retry_after_ms == 5

    def test_retry_after_at_top_level(self):
        """retryAfter is read from the top level when error.data has none."""
        reply = decode(json.dumps({"id": "a", "status": 418, "retryAfter": 7}))
        assert reply.retry_after_ms == 7

    def test_ack(self):
        """A subscription acknowledgement decodes into an Ack."""
        ack = decode(json.dumps({"id": "a", "code": 1, "msg": "no", "topic": ["x"]}))
        assert ack == Ack("a", 1, "no", ("x",))

    def test_event(self):
        """An id-less frame with a topic in e is an Event."""
        event = decode(json.dumps({"e": "s_trade@BTC-USDT", "E": 1}))
        assert isinstance(event, Event)
        assert event.topic == "s_trade@BTC-USDT"

    @pytest.mark.parametrize(
        "text, reason",
        [
            ("not json", "not JSON"),
            (b"\xff\xfe", "not JSON"),
            ("[1, 2]", "not a JSON object"),
            ('{"id": null, "status": 400}', "id is null"),
            ('{"status": 200}', "no id"),
            ('{"id": 7, "status": 200}', "id is not a string"),
        ],
    )
    def test_unroutable(self, text, reason):
        """Frames that belong to no request are Unroutable, with a reason."""
        result = decode(text)
        assert isinstance(result, Unroutable)
        assert result.reason == reason

    @pytest.mark.parametrize(
        "frame",
        [
            {"id": "a"},
            {"id": "a", "status": "200"},
            {"id": "a", "status": True},
            {"id": "a", "status": 200, "rateLimits": "many"},
            {"id": "a", "status": 200, "rateLimits": [{"limit": 1}]},
            {"id": "a", "code": "0"},
        ],
    )
    def test_bad_reply(self, frame):
        """A malformed answer to a request id becomes a BadReply for it."""
        result = decode(json.dumps(frame))
        assert isinstance(result, BadReply)
        assert result.id == "a"
        assert isinstance(result.error, ProtocolError)


def test_parse_rate_limits_rejects_booleans():
    """A boolean is not a count."""
    with pytest.raises(ProtocolError):
        parse_rate_limits([dict(RATE_LIMITS[0], count=True)])
