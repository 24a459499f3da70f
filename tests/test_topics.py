from collections.abc import Mapping
from decimal import Decimal

import attrs
import pytest

from bittap_ws import topics
from bittap_ws.topics import (
    FUTURES_PRIVATE,
    INTERVALS,
    KINDS,
    PRIVATE,
    LooseKey,
    Topic,
    book_ticker,
    canonical_scale,
    depth,
    kline,
    mark_price,
    match,
    normalize_symbol,
    parse,
    parse_frame,
    ticker,
    topic_of,
    trade,
)

# Data frames of every stream, written from the field lists BitTap documents.

SPOT_TRADE = {
    "e": "s_trade",
    "E": 1762509526500,
    "s": "BTC-USDT",
    "t": 12345,
    "p": "101234.56",
    "q": "0.01200",
    "T": 1762509526498,
    "m": True,
}
SPOT_TICKER = {
    "e": "s_ticker",
    "E": 1762509526500,
    "s": "ETH-USDT",
    "c": "3401.25",
    "o": "3350.00",
    "h": "3420.10",
    "l": "3301.75",
    "v": "18234.1200",
    "q": "61234567.89",
    "p": "51.25",
    "P": "1.530",
}
SPOT_KLINE = {
    "e": "s_kline_1m",
    "E": 1762509526500,
    "s": "BTC-USDT",
    "k": {
        "t": 1762509480000,
        "T": 1762509539999,
        "s": "BTC-USDT",
        "i": "1m",
        "f": 12300,
        "L": 12345,
        "o": "101200.00",
        "c": "101234.56",
        "h": "101250.00",
        "l": "101190.10",
        "v": "1.25000",
        "q": "126543.21",
        "n": 46,
        "x": False,
    },
}
SPOT_DEPTH = {
    "e": "s_depth30",
    "s": "BTC-USDT",
    "i": "0.01",
    "lastUpdateId": 987654,
    "bids": [["101234.55", "0.50000"], ["101234.50", "1.20000"]],
    "asks": [["101234.57", "0.30000"], ["101234.60", "2.00000"]],
}
BALANCE_UPDATE = {
    "e": "s_private",
    "c": "BALANCE_UPDATE",
    "E": 1762509526500,
    "T": 1762509526499,
    "a": "USDT",
    "d": "-100.00000000",
    "f": "900.00000000",
    "l": "0.00000000",
    "v": 7,
}
ORDER_UPDATE = {
    "e": "s_private",
    "c": "ORDER_UPDATE",
    "E": 1762509526500,
    "s": "BTC-USDT",
    "C": "my-order-1",
    "S": "BUY",
    "o": "LIMIT",
    "f": "GTC",
    "q": "0.01000",
    "Q": "0.00",
    "p": "100000.00",
    "X": "NEW",
    "r": "NONE",
    "i": 555,
    "z": "0.00000",
}
FUTURES_TRADE = {**SPOT_TRADE, "e": "f_trade", "s": "BTC-USDT-M", "p": "101240.1"}
FUTURES_TICKER = {**SPOT_TICKER, "e": "f_ticker", "s": "BTC-USDT-M"}
FUTURES_KLINE = {
    **SPOT_KLINE,
    "e": "f_kline_1M",
    "s": "BTC-USDT-M",
    "k": {**SPOT_KLINE["k"], "s": "BTC-USDT-M", "i": "1M"},
}
FUTURES_DEPTH = {**SPOT_DEPTH, "e": "f_depth5", "s": "BTC-USDT-M", "i": "0.1"}
BOOK_TICKER = {
    "e": "f_bookTicker",
    "E": 1762509526500,
    "s": "BTC-USDT-M",
    "b": "101240.0",
    "B": "3.120",
    "a": "101240.1",
    "A": "0.450",
}
MARK_PRICE = {
    "e": "f_markPrice",
    "E": 1762509526500,
    "s": "BTC-USDT-M",
    "p": "101240.0",
    "i": "101234.5",
    "r": "0.00010000",
    "T": 1762531200000,
}
ACCOUNT_UPDATE = {
    "e": "f_private",
    "c": "ACCOUNT_UPDATE",
    "E": 1762509526500,
    "T": 1762509526499,
    "a": {"m": "DEPOSIT", "B": [{"a": "USDT", "wb": "1000.0", "cw": "1000.0", "bc": "0"}], "P": []},
}

FRAMES = [
    (SPOT_TRADE, "s_trade@BTC-USDT"),
    (SPOT_TICKER, "s_ticker@ETH-USDT"),
    (SPOT_KLINE, "s_kline_1m@BTC-USDT"),
    (SPOT_DEPTH, "s_depth30@BTC-USDT_0.01"),
    (BALANCE_UPDATE, "s_private"),
    (ORDER_UPDATE, "s_private"),
    (FUTURES_TRADE, "f_trade@BTC-USDT-M"),
    (FUTURES_TICKER, "f_ticker@BTC-USDT-M"),
    (FUTURES_KLINE, "f_kline_1M@BTC-USDT-M"),
    (FUTURES_DEPTH, "f_depth5@BTC-USDT-M_0.1"),
    (BOOK_TICKER, "f_bookTicker@BTC-USDT-M"),
    (MARK_PRICE, "f_markPrice@BTC-USDT-M"),
    (ACCOUNT_UPDATE, "f_private"),
]

# Every builder, with the topic it must return.
BUILT = [
    (trade("BTC-USDT"), "s_trade@BTC-USDT"),
    (trade("BTC-USDT-M", futures=True), "f_trade@BTC-USDT-M"),
    (ticker("ETH-USDT"), "s_ticker@ETH-USDT"),
    (ticker("BTC-USDT-M", futures=True), "f_ticker@BTC-USDT-M"),
    (kline("BTC-USDT", "1m"), "s_kline_1m@BTC-USDT"),
    (kline("BTC-USDT", "1M"), "s_kline_1M@BTC-USDT"),
    (kline("BTC-USDT-M", "4h", futures=True), "f_kline_4h@BTC-USDT-M"),
    (depth("BTC-USDT", "0.01"), "s_depth30@BTC-USDT_0.01"),
    (depth("BTC-USDT", Decimal("0.1"), 1), "s_depth1@BTC-USDT_0.1"),
    (depth("ETH-USDT", 10, level=5), "s_depth5@ETH-USDT_10"),
    (depth("BTC-USDT-M", 0.1, 20, futures=True), "f_depth20@BTC-USDT-M_0.1"),
    (book_ticker("BTC-USDT-M"), "f_bookTicker@BTC-USDT-M"),
    (mark_price("BTC-USDT-M"), "f_markPrice@BTC-USDT-M"),
    (PRIVATE, "s_private"),
    (FUTURES_PRIVATE, "f_private"),
]


def frame_for(topic):
    """The smallest data frame that documents say belongs to ``topic``."""
    parts = parse(topic)
    frame = {"e": parts.stream}
    if parts.symbol is not None:
        frame["s"] = parts.symbol
    if parts.scale is not None:
        frame["i"] = parts.scale
    return frame


class TestBuilders:
    @pytest.mark.parametrize(("built", "expected"), BUILT)
    def test_build_the_documented_topic(self, built, expected):
        """Each builder returns the topic in BitTap's syntax."""
        assert built == expected

    def test_constants(self):
        """The private topics are the documented names."""
        assert (PRIVATE, FUTURES_PRIVATE) == ("s_private", "f_private")

    @pytest.mark.parametrize("interval", INTERVALS)
    def test_every_interval(self, interval):
        """All fifteen intervals are accepted."""
        assert kline("BTC-USDT", interval) == f"s_kline_{interval}@BTC-USDT"

    def test_fifteen_intervals(self):
        """BitTap has fifteen intervals, minute and month told apart by case."""
        assert len(INTERVALS) == len(set(INTERVALS)) == 15
        assert "1m" in INTERVALS and "1M" in INTERVALS

    @pytest.mark.parametrize("interval", ["1H", "1D", "2m", "1y", "", " 1m", "1m "])
    def test_unknown_interval(self, interval):
        """An unknown interval raises ValueError listing the valid ones."""
        with pytest.raises(ValueError, match="1m, 3m, 5m, 15m, 30m, 1h.*1w, 1M"):
            kline("BTC-USDT", interval)

    def test_interval_of_wrong_type(self):
        """A non-str interval raises TypeError."""
        with pytest.raises(TypeError, match="interval"):
            kline("BTC-USDT", 1)

    @pytest.mark.parametrize(
        "symbol",
        ["", "BTC", "BTCUSDT", "BTC-", "-USDT", "BTC--USDT", "BTC USDT", " BTC-USDT",
         "BTC-USDT\n", "BTC-USDT@x", "BTC_USDT", "BTC-USDT_0.01", "BTC-USDT.", "BTC-ÜSDT",
         "BTC-USD-T-M"],
    )  # fmt: skip
    @pytest.mark.parametrize("builder", [trade, ticker, lambda s: kline(s, "1m")])
    def test_bad_spot_symbol(self, builder, symbol):
        """Empty, dashless, spaced or punctuated symbols raise ValueError."""
        with pytest.raises(ValueError, match="symbol must be a spot symbol"):
            builder(symbol)

    def test_lower_case_symbol(self):
        """A lower-case symbol raises ValueError suggesting the upper-case one."""
        with pytest.raises(ValueError, match="upper case: 'BTC-USDT'"):
            trade("btc-usdt")
        with pytest.raises(ValueError, match="upper case: 'BTC-USDT-M'"):
            trade("btc-usdt-m", futures=True)

    def test_futures_symbol_on_spot(self):
        """A futures symbol without futures=True is refused with a hint."""
        with pytest.raises(ValueError, match="need futures=True"):
            ticker("BTC-USDT-M")

    def test_spot_symbol_on_futures(self):
        """A spot symbol with futures=True is refused: it lacks the suffix."""
        with pytest.raises(ValueError, match="lacks the contract suffix"):
            trade("BTC-USDT", futures=True)
        with pytest.raises(ValueError, match="futures symbol"):
            book_ticker("BTC-USDT")
        with pytest.raises(ValueError, match="futures symbol"):
            mark_price("ETH-USDT")

    @pytest.mark.parametrize("symbol", [None, b"BTC-USDT", 42, ("BTC", "USDT")])
    def test_symbol_of_wrong_type(self, symbol):
        """A non-str symbol raises TypeError."""
        with pytest.raises(TypeError, match="symbol must be a str"):
            trade(symbol)

    def test_long_values_are_cut_in_messages(self):
        """An error message shows at most the start of a long value."""
        with pytest.raises(ValueError) as info:
            trade("x" * 10_000)
        assert len(str(info.value)) < 300


class TestDepth:
    def test_default_level_is_30(self):
        """The level defaults to the documented 30."""
        assert depth("BTC-USDT", "0.01") == "s_depth30@BTC-USDT_0.01"

    @pytest.mark.parametrize(
        ("scale", "text"),
        [
            ("0.01", "0.01"),
            ("0.010", "0.01"),
            ("10", "10"),
            ("10.0", "10"),
            ("007", "7"),
            (Decimal("0.01"), "0.01"),
            (Decimal("1E+1"), "10"),
            (Decimal("1E-8"), "0.00000001"),
            (Decimal("0.1000"), "0.1"),
            (1, "1"),
            (100, "100"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (1e-5, "0.00001"),
            (10.0, "10"),
        ],
    )
    def test_scale_in_canonical_form(self, scale, text):
        """Scales of every accepted type are written in plain canonical decimal."""
        assert canonical_scale(scale) == text
        assert depth("BTC-USDT", scale) == f"s_depth30@BTC-USDT_{text}"

    def test_canonical_scale_keeps_every_digit(self):
        """A long scale is never rounded to the decimal context's precision."""
        digits = "0." + "1" * 40
        assert canonical_scale(digits) == digits

    @pytest.mark.parametrize(
        "scale",
        ["", "0", "0.00", "-0.01", "+0.01", "1e-2", ".5", "5.", "0,01", " 0.01", "NaN",
         "inf", Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), 0, -1,
         0.0, -0.5, float("nan"), float("inf")],
    )  # fmt: skip
    def test_bad_scale(self, scale):
        """Zero, negative, non-finite or oddly written scales raise ValueError."""
        with pytest.raises(ValueError, match="scale"):
            depth("BTC-USDT", scale)

    @pytest.mark.parametrize("scale", [None, True, b"0.01", [0.01], 1j])
    def test_scale_of_wrong_type(self, scale):
        """Scales of another type, bool included, raise TypeError."""
        with pytest.raises(TypeError, match="scale"):
            depth("BTC-USDT", scale)

    @pytest.mark.parametrize("level", [0, -1, -30])
    def test_bad_level(self, level):
        """A level below 1 raises ValueError."""
        with pytest.raises(ValueError, match="level"):
            depth("BTC-USDT", "0.01", level)

    @pytest.mark.parametrize("level", [True, 30.0, "30", None])
    def test_level_of_wrong_type(self, level):
        """A level that is not an int, or is a bool, raises TypeError."""
        with pytest.raises(TypeError, match="level"):
            depth("BTC-USDT", "0.01", level)


class TestTopicOf:
    @pytest.mark.parametrize(("frame", "topic"), FRAMES)
    def test_documented_frames(self, frame, topic):
        """Every documented frame gives the topic it was subscribed as."""
        assert topic_of(frame) == topic

    @pytest.mark.parametrize(("built", "expected"), BUILT)
    def test_round_trip(self, built, expected):
        """A frame built for a topic gives that topic back."""
        assert topic_of(frame_for(built)) == built

    def test_dashless_trade_symbol(self):
        """The documented s: "BTCUSDT" trade frame rebuilds as written."""
        assert topic_of({**SPOT_TRADE, "s": "BTCUSDT"}) == "s_trade@BTCUSDT"

    def test_depth_level_is_the_frames(self):
        """A depth frame's topic carries the level its e names."""
        assert topic_of(SPOT_DEPTH) == "s_depth30@BTC-USDT_0.01"

    def test_depth_scale_as_a_number(self):
        """A numeric i is written in canonical form."""
        assert topic_of({**SPOT_DEPTH, "i": 0.01}) == "s_depth30@BTC-USDT_0.01"
        assert topic_of({**SPOT_DEPTH, "i": 10}) == "s_depth30@BTC-USDT_10"

    def test_depth_scale_string_is_kept_as_written(self):
        """A string i is kept verbatim; the loose key compares it canonically."""
        assert topic_of({**SPOT_DEPTH, "i": "0.010"}) == "s_depth30@BTC-USDT_0.010"

    def test_private_ignores_the_symbol(self):
        """An ORDER_UPDATE's s is an order's symbol, not part of the topic."""
        assert topic_of({"e": "s_private", "s": "BTC-USDT"}) == "s_private"

    def test_lower_case_symbol_is_kept(self):
        """A lower-case s is accepted and kept as written."""
        assert topic_of({"e": "s_ticker", "s": "btc-usdt"}) == "s_ticker@btc-usdt"

    @pytest.mark.parametrize(
        "frame",
        [
            None, 123, "s_trade", b"s_trade", ["s_trade"], ("e", "s_trade"), {"e", "s"},
            {}, {"s": "BTC-USDT"}, {"E": 1},
            {"e": 123, "s": "BTC-USDT"}, {"e": None}, {"e": True}, {"e": ["s_trade"]},
            {"e": {"e": "s_trade"}, "s": "BTC-USDT"}, {"e": b"s_private"},
            {"e": "s_trade"}, {"e": "s_trade", "s": None}, {"e": "s_trade", "s": 5},
            {"e": "s_trade", "s": ["BTC-USDT"]}, {"e": "s_trade", "s": {"s": "BTC-USDT"}},
            {"e": "s_trade", "s": ""}, {"e": "s_trade", "s": "BTC USDT"},
            {"e": "s_trade", "s": "BTC@USDT"}, {"e": "s_trade", "s": "BTC_USDT"},
            {"e": "s_trade", "s": "BTC-USDT\n"}, {"e": "s_trade", "s": "-BTC"},
            {"e": "s_trade", "s": "B" * 10_000},
            {"e": "", "s": "BTC-USDT"}, {"e": "trade", "s": "BTC-USDT"},
            {"e": "x_trade", "s": "BTC-USDT"}, {"e": "s_trades", "s": "BTC-USDT"},
            {"e": "S_TRADE", "s": "BTC-USDT"}, {"e": "s_trade@BTC-USDT", "s": "BTC-USDT"},
            {"e": "s_trade ", "s": "BTC-USDT"}, {"e": "s_kline", "s": "BTC-USDT"},
            {"e": "s_kline_1H", "s": "BTC-USDT"}, {"e": "s_kline_2m", "s": "BTC-USDT"}, {"e": "s_kline_", "s": "BTC-USDT"},
            {"e": "s_depth", "s": "BTC-USDT", "i": "0.01"},
            {"e": "s_depth0", "s": "BTC-USDT", "i": "0.01"},
            {"e": "s_depth030", "s": "BTC-USDT", "i": "0.01"},
            {"e": "s_depth30", "s": "BTC-USDT"},
            {"e": "s_depth30", "s": "BTC-USDT", "i": None},
            {"e": "s_depth30", "s": "BTC-USDT", "i": True},
            {"e": "s_depth30", "s": "BTC-USDT", "i": "0"},
            {"e": "s_depth30", "s": "BTC-USDT", "i": 0},
            {"e": "s_depth30", "s": "BTC-USDT", "i": -1},
            {"e": "s_depth30", "s": "BTC-USDT", "i": float("nan")},
            {"e": "s_depth30", "s": "BTC-USDT", "i": "1e-2"},
            {"e": "s_depth30", "s": "BTC-USDT", "i": "0.01_5"},
            {"e": "s_depth30", "s": "BTC-USDT", "i": ["0.01"]},
            {"e": "s_bookTicker", "s": "BTC-USDT"}, {"e": "s_markPrice", "s": "BTC-USDT"},
            {"e": "s_aggTrade", "s": "BTC-USDT"}, {"e": "s_" + "x" * 10_000},
        ],
    )  # fmt: skip
    def test_hostile_input(self, frame):
        """Anything that is not a data frame of a known stream gives None."""
        assert topic_of(frame) is None
        assert parse_frame(frame) is None

    def test_mapping_whose_lookups_fail(self):
        """A mapping that raises on lookup gives None instead of raising."""

        class Broken(Mapping):
            def __getitem__(self, key):
                raise RuntimeError("boom")

            def __iter__(self):
                return iter(())

            def __len__(self):
                return 1

        assert topic_of(Broken()) is None

    def test_deeply_nested_frame(self):
        """A deeply nested value in a field is refused without recursion."""
        nested = "s_trade"
        for _ in range(100_000):
            nested = [nested]
        assert topic_of({"e": nested, "s": nested, "i": nested}) is None


class TestParse:
    @pytest.mark.parametrize(("built", "expected"), BUILT)
    def test_round_trip(self, built, expected):
        """Every built topic parses, and str() puts it back."""
        assert str(parse(built)) == built

    def test_parts(self):
        """A topic is taken apart into its fields."""
        assert parse("s_depth1@BTC-USDT_0.01") == Topic(
            "depth", False, "BTC-USDT", level=1, scale="0.01"
        )
        assert parse("f_kline_1M@BTC-USDT-M") == Topic("kline", True, "BTC-USDT-M", interval="1M")
        assert parse("f_markPrice@BTC-USDT-M") == Topic("markPrice", True, "BTC-USDT-M")
        assert parse(PRIVATE) == Topic("private")
        assert parse(FUTURES_PRIVATE) == Topic("private", True)

    def test_stream(self):
        """A Topic's stream is the e its frames carry."""
        assert parse("s_depth1@BTC-USDT_0.01").stream == "s_depth1"
        assert parse("s_kline_15m@ETH-USDT").stream == "s_kline_15m"
        assert parse("f_bookTicker@BTC-USDT-M").stream == "f_bookTicker"
        assert parse("f_private").stream == "f_private"

    def test_kinds(self):
        """Every kind of stream parses."""
        assert {parse(built).kind for built, _ in BUILT} == set(KINDS)

    def test_topics_are_frozen_values(self):
        """Topics compare by value, hash, and cannot be changed."""
        topic = parse("s_trade@BTC-USDT")
        assert topic == parse("s_trade@BTC-USDT")
        assert len({topic, parse("s_trade@BTC-USDT")}) == 1
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            topic.symbol = "ETH-USDT"

    @pytest.mark.parametrize(
        "topic",
        [
            None, 1, b"s_trade@BTC-USDT", "", "@", "s_trade", "s_trade@", "@BTC-USDT",
            "s_trade@BTC-USDT@x", "s_trade@BTC USDT", "s_private@BTC-USDT", "f_private@",
            "s_depth30@BTC-USDT", "s_depth30@BTC-USDT_", "s_depth30@_0.01",
            "s_depth30@BTC-USDT_0", "s_depth30@BTC-USDT_abc", "s_depth30@BTC_USDT_0.01",
            "s_kline_1X@BTC-USDT", "s_bookTicker@BTC-USDT", "s_trade@BTC-USDT_0.01",
            "s_trade@" + "A" * 1000,
        ],
    )  # fmt: skip
    def test_rejects(self, topic):
        """Strings that are not topics, and non-strings, give None."""
        assert parse(topic) is None


class TestLooseKey:
    def test_fields(self):
        """The loose key is the kind family, the normalized symbol and the scale."""
        assert parse("s_depth1@BTC-USDT_0.010").loose_key == LooseKey("s_depth", "BTCUSDT", "0.01")
        assert parse("s_kline_1m@btc-usdt").loose_key == LooseKey("s_kline_1m", "BTCUSDT")
        assert parse("f_private").loose_key == LooseKey("f_private")

    def test_normalize_symbol(self):
        """Symbols are compared upper case without dashes."""
        assert normalize_symbol("btc-usdt") == normalize_symbol("BTCUSDT") == "BTCUSDT"

    def test_dashless_trade_frame_matches_its_subscription(self):
        """A trade frame with s: "BTCUSDT" shares the loose key of s_trade@BTC-USDT."""
        frame = parse_frame({**SPOT_TRADE, "s": "BTCUSDT"})
        assert frame.loose_key == parse(trade("BTC-USDT")).loose_key

    def test_depth_level_is_forgotten(self):
        """An s_depth30 frame shares the loose key of s_depth1 of the same pair and scale."""
        frame = parse_frame(SPOT_DEPTH)
        assert frame.loose_key == parse(depth("BTC-USDT", "0.01", 1)).loose_key

    def test_what_the_loose_key_keeps(self):
        """Scale, interval, market and kind still tell streams apart."""
        keys = {
            parse(t).loose_key
            for t in [
                depth("BTC-USDT", "0.01"),
                depth("BTC-USDT", "0.1"),
                depth("ETH-USDT", "0.01"),
                kline("BTC-USDT", "1m"),
                kline("BTC-USDT", "1M"),
                trade("BTC-USDT"),
                ticker("BTC-USDT"),
                trade("BTC-USDT-M", futures=True),
                PRIVATE,
                FUTURES_PRIVATE,
            ]
        }
        assert len(keys) == 10


class TestMatch:
    def test_exact_first(self):
        """An exact subscription wins over loose ones."""
        subscribed = ["s_depth30@BTC-USDT_0.01", "s_depth1@BTC-USDT_0.01"]
        assert match(topic_of(SPOT_DEPTH), subscribed) == "s_depth30@BTC-USDT_0.01"

    def test_dashless_trade_symbol(self):
        """A trade frame with s: "BTCUSDT" is placed on s_trade@BTC-USDT."""
        frame = {**SPOT_TRADE, "s": "BTCUSDT"}
        assert match(topic_of(frame), {"s_trade@BTC-USDT", "s_trade@ETH-USDT"}) == (
            "s_trade@BTC-USDT"
        )

    def test_depth_level_mismatch_with_one_candidate(self):
        """An s_depth30 frame is placed on the only depth subscription of its pair and scale."""
        subscribed = ["s_depth1@BTC-USDT_0.01", "s_depth1@BTC-USDT_0.1", "s_trade@BTC-USDT"]
        assert match(topic_of(SPOT_DEPTH), subscribed) == "s_depth1@BTC-USDT_0.01"

    def test_depth_level_mismatch_with_two_candidates(self):
        """With two depth subscriptions of the pair and scale, and no exact one, none is chosen."""
        subscribed = ["s_depth1@BTC-USDT_0.01", "s_depth5@BTC-USDT_0.01"]
        assert match(topic_of(SPOT_DEPTH), subscribed) is None

    def test_no_candidate(self):
        """A frame of another pair, scale or kind is not placed."""
        assert match(topic_of(SPOT_DEPTH), ["s_depth30@BTC-USDT_0.1"]) is None
        assert match(topic_of(SPOT_TRADE), ["s_ticker@BTC-USDT", "garbage"]) is None
        assert match("not a topic", ["s_trade@BTC-USDT"]) is None

    def test_private(self):
        """Private frames are placed on their own market's private topic only."""
        assert match(topic_of(BALANCE_UPDATE), [FUTURES_PRIVATE, PRIVATE]) == PRIVATE
        assert match(topic_of(ACCOUNT_UPDATE), [PRIVATE]) is None


def test_all_is_complete():
    """__all__ names every public function and class of the module, and nothing missing."""
    defined = {
        name
        for name, value in vars(topics).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == topics.__name__
    }
    assert defined <= set(topics.__all__)
    assert all(hasattr(topics, name) for name in topics.__all__)
