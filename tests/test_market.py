import calendar
import random
import re
from decimal import Decimal

import pytest

from bittap_ws import topics
from bittap_ws.testing._market import (
    DEPTH_LEVELS,
    MAX_DEPTH_LEVEL,
    SYMBOLS,
    Market,
    SymbolSpec,
    candle_bounds,
)
from bittap_ws.topics import FUTURES_PRIVATE, INTERVALS, PRIVATE, parse, topic_of

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# 2023-11-14 22:13:20 UTC, a Tuesday.
T0 = 1_700_000_000_000
SPECS = {spec.symbol: spec for spec in SYMBOLS}

TRADE_FIELDS = {"e", "E", "s", "t", "p", "q", "T", "m"}
TICKER_FIELDS = {"e", "E", "s", "c", "o", "h", "l", "v", "q", "p", "P"}
DEPTH_FIELDS = {"e", "s", "i", "lastUpdateId", "bids", "asks"}
KLINE_FIELDS = {"e", "E", "s", "k"}
CANDLE_FIELDS = {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "q", "n", "x"}
BOOK_TICKER_FIELDS = {"e", "E", "s", "b", "B", "a", "A"}
MARK_PRICE_FIELDS = {"e", "E", "s", "p", "i", "r", "T"}
BALANCE_FIELDS = {"e", "c", "E", "T", "a", "d", "f", "l", "v"}
ORDER_FIELDS = {"e", "c", "E", "s", "C", "S", "o", "f", "q", "Q", "p", "X", "r", "i", "z"}


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now += ms


def utc_ms(*fields):
    return calendar.timegm((*fields, 0, 0, 0)[:6]) * 1000


def decimal_text(decimals):
    """A pattern for a non-negative decimal string with exactly ``decimals`` decimals."""
    return re.compile(r"[0-9]+\." + "[0-9]" * decimals if decimals else "[0-9]+")


def is_ms(value):
    return isinstance(value, int) and not isinstance(value, bool)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def market(clock):
    return Market(seed=7, now_ms=clock)


# How far an irregular clock moves between steps: not at all, a millisecond, a
# second, a minute, an hour, and now and then backwards.
MOVES = [0, 1, 250, 1000, 1000, 1000, 61_000, HOUR, -5000]


def run(market, clock, steps, seed=0, read=True):
    """
    Step ``market`` ``steps`` times with an irregular clock. Return every
    trade frame, per trade topic, the first included, unless ``read`` is
    false: then read nothing.
    """
    rng = random.Random(seed)
    trades = {t: [market.frame(t)] for t in market.all_topics() if parse(t).kind == "trade"}
    for _ in range(steps):
        clock.advance(rng.choice(MOVES))
        market.step()
        if read:
            for topic, seen in trades.items():
                seen += market.frames(topic)
    return trades


class TestCandleBounds:
    @pytest.mark.parametrize("interval", INTERVALS)
    def test_candles_tile_time(self, interval):
        """Every time lies in one candle, whose successor opens right after it closes."""
        rng = random.Random(interval)
        for _ in range(200):
            when = rng.randrange(T0 - 400 * DAY, T0 + 400 * DAY)
            start, end = candle_bounds(interval, when)
            assert start <= when <= end
            assert candle_bounds(interval, start) == candle_bounds(interval, end) == (start, end)
            assert candle_bounds(interval, end + 1)[0] == end + 1

    @pytest.mark.parametrize(
        ("interval", "when", "bounds"),
        [
            ("1m", utc_ms(2024, 1, 1) + 59_999, (utc_ms(2024, 1, 1), utc_ms(2024, 1, 1) + 59_999)),
            (
                "15m",
                utc_ms(2024, 1, 1) + 16 * MINUTE,
                (utc_ms(2024, 1, 1) + 15 * MINUTE, utc_ms(2024, 1, 1) + 30 * MINUTE - 1),
            ),
            (
                "4h",
                utc_ms(2024, 1, 1) + 5 * HOUR,
                (utc_ms(2024, 1, 1) + 4 * HOUR, utc_ms(2024, 1, 1) + 8 * HOUR - 1),
            ),
            ("3d", utc_ms(1970, 1, 5), (utc_ms(1970, 1, 4), utc_ms(1970, 1, 7) - 1)),
            ("1d", utc_ms(2024, 2, 29) + 1, (utc_ms(2024, 2, 29), utc_ms(2024, 3, 1) - 1)),
            # 2024-01-03 is a Wednesday: its week opened on Monday 2024-01-01.
            ("1w", utc_ms(2024, 1, 3), (utc_ms(2024, 1, 1), utc_ms(2024, 1, 8) - 1)),
            ("1w", utc_ms(2024, 1, 7) + DAY - 1, (utc_ms(2024, 1, 1), utc_ms(2024, 1, 8) - 1)),
            ("1M", utc_ms(2024, 2, 15), (utc_ms(2024, 2, 1), utc_ms(2024, 3, 1) - 1)),
            ("1M", utc_ms(2023, 2, 28), (utc_ms(2023, 2, 1), utc_ms(2023, 3, 1) - 1)),
            ("1M", utc_ms(2023, 12, 31) + DAY - 1, (utc_ms(2023, 12, 1), utc_ms(2024, 1, 1) - 1)),
            ("1M", utc_ms(2024, 1, 1), (utc_ms(2024, 1, 1), utc_ms(2024, 2, 1) - 1)),
        ],
    )
    def test_alignment(self, interval, when, bounds):
        """Candles open on their UTC boundary: Monday for weeks, the 1st for months."""
        assert candle_bounds(interval, when) == bounds

    def test_minute_and_month_differ(self):
        """1m is a minute and 1M a month."""
        start, end = candle_bounds("1m", T0)
        assert end - start + 1 == MINUTE
        start, end = candle_bounds("1M", T0)
        assert end - start + 1 == 30 * DAY  # November

    def test_unknown_interval(self):
        """An unknown interval raises ValueError."""
        with pytest.raises(ValueError, match="interval"):
            candle_bounds("1y", T0)


class TestTopics:
    def test_round_trip(self, market, clock):
        """Every frame of every topic rebuilds its topic, before and after steps."""
        for _ in range(3):
            for topic in market.all_topics():
                assert market.known(topic)
                assert topic_of(market.frame(topic)) == topic
                assert all(topic_of(frame) == topic for frame in market.frames(topic))
            clock.advance(1000)
            market.step()

    def test_all_topics(self, market):
        """all_topics lists every stream of every symbol, depth at the default levels."""
        listed = market.all_topics()
        assert len(listed) == len(set(listed))
        assert "s_trade@BTC-USDT" in listed
        assert "s_kline_1M@ETH-USDT" in listed
        assert "s_depth30@BTC-USDT_10" in listed
        assert "f_bookTicker@BTC-USDT-M" in listed
        assert "f_markPrice@BTC-USDT-M" in listed
        assert not any(parse(t).kind == "private" for t in listed)
        depth = [t for t in listed if parse(t).kind == "depth"]
        scales = sum(len(spec.scales) for spec in SYMBOLS)
        assert len(depth) == scales * len(DEPTH_LEVELS)
        assert len(market.all_topics(levels=(1,))) == len(listed) - scales * (len(DEPTH_LEVELS) - 1)

    def test_any_level_up_to_the_maximum(self, market):
        """Depth is served at any level from 1 to MAX_DEPTH_LEVEL."""
        for level in (1, 2, 17, MAX_DEPTH_LEVEL):
            topic = topics.depth("BTC-USDT", "0.01", level)
            assert market.known(topic)
            assert len(market.frame(topic)["bids"]) == level

    def test_scale_written_otherwise(self, market):
        """A scale written with a trailing zero is served, and echoed as written."""
        assert market.frame("s_depth5@BTC-USDT_0.10")["i"] == "0.10"

    @pytest.mark.parametrize(
        ("topic", "reason"),
        [
            ("s_trade@XRP-USDT", "unknown spot symbol 'XRP-USDT'.*BTC-USDT, ETH-USDT"),
            ("s_trade@btc-usdt", "unknown spot symbol"),
            ("s_trade@BTCUSDT", "unknown spot symbol"),
            ("s_trade@BTC-USDT-M", "unknown spot symbol"),
            ("f_trade@BTC-USDT", "unknown futures symbol.*known: BTC-USDT-M"),
            ("f_ticker@ETH-USDT-M", "unknown futures symbol"),
            ("s_depth30@BTC-USDT_0.5", "unknown scale 0.5 for BTC-USDT; known: 0.01, 0.1, 1, 10"),
            ("s_depth30@ETH-USDT_10", "unknown scale"),
            ("f_depth30@BTC-USDT-M_0.01", "unknown scale"),
            (f"s_depth{MAX_DEPTH_LEVEL + 1}@BTC-USDT_0.01", "over"),
            ("s_bookTicker@BTC-USDT", "not a BitTap topic"),
            ("s_trade", "not a BitTap topic"),
            ("", "not a BitTap topic"),
            (None, "not a BitTap topic"),
        ],
    )
    def test_unknown(self, market, topic, reason):
        """Topics the model does not serve are not known, and frame() says why."""
        assert not market.known(topic)
        with pytest.raises(ValueError, match=reason):
            market.frame(topic)
        with pytest.raises(ValueError, match=reason):
            market.frames(topic)

    @pytest.mark.parametrize("topic", [PRIVATE, FUTURES_PRIVATE])
    def test_private_topics(self, market, topic):
        """Private topics are known, but have events instead of a current frame."""
        assert market.known(topic)
        with pytest.raises(ValueError, match="balance_update"):
            market.frame(topic)


class TestInvariants:
    @pytest.mark.parametrize("seed", [0, 1])
    def test_over_many_steps(self, seed):
        """Every stream stays consistent with the trades over a few hundred steps."""
        clock = Clock()
        market = Market(seed=seed, now_ms=clock)
        rng = random.Random(seed)
        trades = {symbol: [market.frame(topics.trade(symbol, futures=spec.futures))]
                  for symbol, spec in SPECS.items()}  # fmt: skip
        update_ids = {}
        for _ in range(300):
            clock.advance(rng.choice(MOVES))
            market.step()
            for symbol, spec in SPECS.items():
                new = market.frames(topics.trade(symbol, futures=spec.futures))
                check_trades(spec, trades[symbol][-1], new, market.time_ms)
                trades[symbol] += new
                last = trades[symbol][-1]
                check_ticker(spec, market.frame(topics.ticker(symbol, futures=spec.futures)), last)
                for interval in INTERVALS:
                    topic = topics.kline(symbol, interval, futures=spec.futures)
                    check_kline(spec, market.frame(topic), last)
                for scale in (spec.scales[0], spec.scales[-1]):
                    frame = market.frame(topics.depth(symbol, scale, 20, futures=spec.futures))
                    check_depth(spec, frame, scale, 20)
                    assert frame["lastUpdateId"] > update_ids.get(symbol, 0)
                update_ids[symbol] = frame["lastUpdateId"]
                if spec.futures:
                    check_futures(spec, market)
        assert all(len(seen) > 100 for seen in trades.values())

    def test_ticker_counts_the_last_24_hours(self, clock):
        """The ticker's volumes add up the trades of the minutes of the last 24 hours."""
        market = Market(seed=3, now_ms=clock)
        trades = run(market, clock, 400)
        for topic, seen in trades.items():
            parts = parse(topic)
            spec = SPECS[parts.symbol]
            ticker = market.frame(topics.ticker(parts.symbol, futures=parts.futures))
            start = market.time_ms - DAY
            window = [t for t in seen if t["T"] - t["T"] % MINUTE + MINUTE > start]
            assert Decimal(ticker["v"]) == sum(Decimal(t["q"]) for t in window)
            quote = sum(Decimal(t["p"]) * Decimal(t["q"]) for t in window)
            assert Decimal(ticker["q"]) == quote
            if window:
                assert ticker["o"] == window[0]["p"]
                assert Decimal(ticker["h"]) == max(Decimal(t["p"]) for t in window)
                assert Decimal(ticker["l"]) == min(Decimal(t["p"]) for t in window)
            assert ticker["c"] == seen[-1]["p"]
            change = Decimal(ticker["c"]) - Decimal(ticker["o"])
            assert Decimal(ticker["p"]) == change
            assert Decimal(ticker["P"]) == (change * 100 / Decimal(ticker["o"])).quantize(
                Decimal("0.001")
            )
            assert spec.price_decimals == len(ticker["p"].split(".")[1])

    def test_quiet_day_leaves_a_flat_ticker(self, market, clock, monkeypatch):
        """After a day without trades, the ticker is flat at the last price with no volume."""
        last = market.frame("s_trade@BTC-USDT")["p"]
        clock.advance(2 * DAY)
        # The walk draws the number of trades of each symbol with randrange().
        monkeypatch.setattr(market._rng, "randrange", lambda n: 0)
        market.step()
        ticker = market.frame("s_ticker@BTC-USDT")
        assert ticker["c"] == ticker["o"] == ticker["h"] == ticker["l"] == last
        assert Decimal(ticker["v"]) == Decimal(ticker["q"]) == 0
        assert ticker["p"] == "0.00"

    def test_clock_going_back(self, market, clock):
        """A clock that goes back is taken as standing still."""
        before = market.time_ms
        clock.advance(-HOUR)
        market.step()
        assert market.time_ms == before
        assert all(t["T"] == before for t in market.frames("s_trade@BTC-USDT"))
        assert market.balance_update("USDT", 1)["E"] == before


class TestKlines:
    def test_closed_candle_is_shown_until_the_next_step(self):
        """A candle that ends during a step is shown closed once, then its successor."""
        minute = utc_ms(2024, 1, 1)
        clock = Clock(minute + 59_000)
        market = Market(seed=1, now_ms=clock)
        topic = topics.kline("BTC-USDT", "1m")
        assert market.frame(topic)["k"]["x"] is False
        clock.advance(1500)
        market.step()
        closed = market.frame(topic)
        assert closed["k"]["x"] is True
        assert (closed["k"]["t"], closed["k"]["T"]) == (minute, minute + MINUTE - 1)
        assert closed["E"] > closed["k"]["T"]
        hour = market.frame(topics.kline("BTC-USDT", "1h"))
        assert hour["k"]["x"] is False
        clock.advance(1000)
        market.step()
        current = market.frame(topic)
        assert current["k"]["x"] is False
        assert current["k"]["t"] == minute + MINUTE

    def test_month_candle_turns_with_the_calendar(self):
        """The 1M candle opens on the first of the month, UTC."""
        clock = Clock(utc_ms(2024, 1, 31) + DAY - 1000)
        market = Market(seed=2, now_ms=clock)
        topic = topics.kline("BTC-USDT", "1M")
        assert market.frame(topic)["k"]["t"] == utc_ms(2024, 1, 1)
        clock.advance(2000)
        market.step()
        assert market.frame(topic)["k"]["x"] is True
        market.step()
        k = market.frame(topic)["k"]
        assert (k["t"], k["T"], k["x"]) == (utc_ms(2024, 2, 1), utc_ms(2024, 3, 1) - 1, False)

    def test_empty_candle_is_flat_at_the_last_price(self, market, clock, monkeypatch):
        """A candle without trades opens, closes, and stays at the previous close."""
        last = market.frame("s_trade@ETH-USDT")["p"]
        clock.advance(3 * MINUTE)
        # The walk draws the number of trades of each symbol with randrange().
        monkeypatch.setattr(market._rng, "randrange", lambda n: 0)
        market.step()
        market.step()
        k = market.frame(topics.kline("ETH-USDT", "1m"))["k"]
        assert k["o"] == k["h"] == k["l"] == k["c"] == last
        assert (k["n"], k["f"], k["L"], Decimal(k["v"])) == (0, -1, -1, 0)


class TestDeterminism:
    def test_same_seed_same_frames(self):
        """Same seed and clock give the same frames, whatever is read between steps."""
        clock_a, clock_b = Clock(), Clock()
        a, b = Market(seed=5, now_ms=clock_a), Market(seed=5, now_ms=clock_b)
        run(a, clock_a, 50)
        run(b, clock_b, 50, read=False)
        assert clock_a.now == clock_b.now
        for topic in a.all_topics():
            assert a.frame(topic) == b.frame(topic)

    def test_other_seed_other_frames(self):
        """Another seed gives another walk."""
        clock = Clock()
        a, b = Market(seed=1, now_ms=clock), Market(seed=2, now_ms=clock)
        clock.advance(1000)
        for _ in range(5):
            a.step()
            b.step()
        assert a.frame("s_depth5@BTC-USDT_0.01") != b.frame("s_depth5@BTC-USDT_0.01")

    def test_frames_are_new_dicts(self, market):
        """Changing a returned frame does not change the model."""
        frame = market.frame("s_kline_1m@BTC-USDT")
        frame["k"]["o"] = "garbage"
        assert market.frame("s_kline_1m@BTC-USDT")["k"]["o"] != "garbage"


class TestPrivateEvents:
    def test_balance_update(self, market, clock):
        """A balance update changes the free balance and counts versions."""
        first = market.balance_update("USDT", "-100.5")
        assert set(first) == BALANCE_FIELDS
        assert topic_of(first) == PRIVATE
        assert (first["c"], first["a"], first["d"], first["f"], first["l"]) == (
            "BALANCE_UPDATE",
            "USDT",
            "-100.50000000",
            "9899.50000000",
            "0.00000000",
        )
        assert first["E"] == first["T"] == T0
        clock.advance(5)
        second = market.balance_update("USDT", Decimal("0.5"))
        assert (second["f"], second["v"], second["E"]) == ("9900.00000000", first["v"] + 1, T0 + 5)
        assert market.balance_update("DOGE", 3)["f"] == "3.00000000"

    def test_balance_cannot_go_negative(self, market):
        """A withdrawal larger than the free balance is refused."""
        with pytest.raises(ValueError, match="free balance"):
            market.balance_update("BTC", "-1.00000001")
        assert market.balance_update("BTC", "-1")["f"] == "0.00000000"

    @pytest.mark.parametrize(
        ("asset", "delta", "error"),
        [
            (None, "1", TypeError),
            ("usdt", "1", ValueError),
            ("", "1", ValueError),
            ("US DT", "1", ValueError),
            ("USDT", 1.5, TypeError),
            ("USDT", True, TypeError),
            ("USDT", "abc", ValueError),
            ("USDT", "NaN", ValueError),
            ("USDT", "Infinity", ValueError),
            ("USDT", "0.000000001", ValueError),
            ("USDT", "1e40", ValueError),
        ],
    )
    def test_balance_update_arguments(self, market, asset, delta, error):
        """Bad assets and amounts raise TypeError or ValueError."""
        with pytest.raises(error):
            market.balance_update(asset, delta)
        with pytest.raises(error):
            market.account_update(asset, delta)

    def test_order_update(self, market):
        """An order update carries the documented fields, with new increasing ids."""
        first = market.order_update("BTC-USDT", "BUY", "0.01", "59000")
        assert set(first) == ORDER_FIELDS
        assert topic_of(first) == PRIVATE
        assert first == {
            **first,
            "c": "ORDER_UPDATE",
            "s": "BTC-USDT",
            "C": f"order-{first['i']}",
            "S": "BUY",
            "o": "LIMIT",
            "f": "GTC",
            "q": "0.01000",
            "Q": "0.00",
            "p": "59000.00",
            "X": "NEW",
            "r": "NONE",
            "z": "0.00000",
        }
        second = market.order_update("ETH-USDT", "SELL", 1, order_type="MARKET")
        assert second["i"] > first["i"]
        assert second["p"] == "0.00"
        fill = market.order_update(
            "BTC-USDT",
            "BUY",
            "0.01",
            "59000",
            status="FILLED",
            filled="0.01",
            order_id=first["i"],
            client_order_id="mine",
        )
        assert (fill["i"], fill["C"], fill["X"], fill["z"]) == (
            first["i"],
            "mine",
            "FILLED",
            "0.01000",
        )

    @pytest.mark.parametrize(
        ("args", "kwargs", "error"),
        [
            (("XRP-USDT", "BUY", "1"), {}, ValueError),
            (("BTC-USDT-M", "BUY", "1"), {}, ValueError),
            ((None, "BUY", "1"), {}, ValueError),
            (("BTC-USDT", "HOLD", "1"), {}, ValueError),
            (("BTC-USDT", "BUY", "1"), {"status": "DONE"}, ValueError),
            (("BTC-USDT", "BUY", "1"), {"order_type": "ICEBERG"}, ValueError),
            (("BTC-USDT", "BUY", "1"), {"time_in_force": "DAY"}, ValueError),
            (("BTC-USDT", "BUY", "0"), {}, ValueError),
            (("BTC-USDT", "BUY", "-1"), {}, ValueError),
            (("BTC-USDT", "BUY", "0.000001"), {}, ValueError),
            (("BTC-USDT", "BUY", "1", "1.001"), {}, ValueError),
            (("BTC-USDT", "BUY", "1"), {"filled": "2"}, ValueError),
            (("BTC-USDT", "BUY", 1.0), {}, TypeError),
            (("BTC-USDT", "BUY", "1"), {"order_id": "7"}, TypeError),
            (("BTC-USDT", "BUY", "1"), {"order_id": True}, TypeError),
            (("BTC-USDT", "BUY", "1"), {"client_order_id": 7}, TypeError),
        ],
    )
    def test_order_update_arguments(self, market, args, kwargs, error):
        """Bad order arguments raise TypeError or ValueError."""
        with pytest.raises(error):
            market.order_update(*args, **kwargs)

    def test_account_update(self, market):
        """A futures account update follows Binance's ACCOUNT_UPDATE shape."""
        frame = market.account_update("USDT", "-250", reason="WITHDRAW")
        assert topic_of(frame) == FUTURES_PRIVATE
        assert frame == {
            "e": "f_private",
            "c": "ACCOUNT_UPDATE",
            "E": T0,
            "T": T0,
            "a": {
                "m": "WITHDRAW",
                "B": [
                    {
                        "a": "USDT",
                        "wb": "9750.00000000",
                        "cw": "9750.00000000",
                        "bc": "-250.00000000",
                    }
                ],
                "P": [],
            },
        }
        with pytest.raises(ValueError, match="wallet"):
            market.account_update("USDT", "-9750.00000001")


class TestConstruction:
    def test_index_must_come_first(self):
        """A futures contract cannot follow an index the model does not hold yet."""
        future = SymbolSpec("ETH-USDT-M", True, 2, 3, ("0.01",), "3000", index="ETH-USDT")
        with pytest.raises(ValueError, match="must come first"):
            Market(symbols=(future,))

    def test_custom_symbols(self, clock):
        """A model can trade other symbols; a contract without index marks to itself."""
        specs = (SymbolSpec("SOL-USDT-M", True, 3, 1, ("0.001", "0.1"), "150.000"),)
        market = Market(seed=1, now_ms=clock, symbols=specs)
        clock.advance(1000)
        market.step()
        mark = market.frame("f_markPrice@SOL-USDT-M")
        assert (mark["p"], mark["r"]) == (mark["i"], "0.00000000")
        assert not market.known("s_trade@BTC-USDT")
        assert not market.known("f_trade@BTC-USDT")
        assert market.frame("f_depth5@SOL-USDT-M_0.1")["bids"]

    def test_book_of_a_tiny_price(self, clock):
        """Near zero the book stops at the lowest tick, and a coarse scale has no bids."""
        specs = (SymbolSpec("PEPE-USDT", False, 2, 0, ("0.01", "1"), "0.05"),)
        market = Market(seed=1, now_ms=clock, symbols=specs)
        fine = market.frame("s_depth100@PEPE-USDT_0.01")
        assert 0 < len(fine["bids"]) <= 5 and len(fine["asks"]) == 100
        assert fine["bids"][-1][0] == "0.01"
        coarse = market.frame("s_depth5@PEPE-USDT_1")
        assert coarse["bids"] == [] and coarse["asks"][0][0] == "1.00"

    def test_default_clock(self):
        """Without a clock the model reads the wall clock."""
        market = Market()
        market.step()
        assert market.time_ms > T0

    def test_repr(self, market):
        """The repr is a short summary."""
        assert repr(market) == f"<Market seed=7 time={T0} symbols=BTC-USDT,ETH-USDT,BTC-USDT-M>"


# Checks shared by the invariant tests.


def check_prices(spec, *values):
    pattern = decimal_text(spec.price_decimals)
    for value in values:
        assert isinstance(value, str) and pattern.fullmatch(value), value
        assert Decimal(value) > 0


def check_quantities(spec, *values, decimals=None):
    pattern = decimal_text(spec.qty_decimals if decimals is None else decimals)
    for value in values:
        assert isinstance(value, str) and pattern.fullmatch(value), value


def check_trades(spec, previous, new, now):
    """New trades follow the previous one: ids up, times not back, none in the future."""
    for trade in new:
        assert set(trade) == TRADE_FIELDS
        assert trade["s"] == spec.symbol
        assert is_ms(trade["t"]) and is_ms(trade["T"]) and is_ms(trade["E"])
        assert trade["t"] == previous["t"] + 1
        assert previous["T"] <= trade["T"] <= now
        assert isinstance(trade["m"], bool)
        check_prices(spec, trade["p"])
        check_quantities(spec, trade["q"])
        assert Decimal(trade["q"]) > 0
        previous = trade


def check_ticker(spec, ticker, last_trade):
    assert set(ticker) == TICKER_FIELDS
    check_prices(spec, ticker["o"], ticker["h"], ticker["l"], ticker["c"])
    check_quantities(spec, ticker["v"])
    check_quantities(spec, ticker["q"], decimals=spec.price_decimals + spec.qty_decimals)
    o, h, low, c = (Decimal(ticker[k]) for k in "ohlc")
    assert ticker["c"] == last_trade["p"]
    assert h >= max(o, c) and low <= min(o, c)
    assert Decimal(ticker["p"]) == c - o
    assert Decimal(ticker["v"]) >= 0 and Decimal(ticker["q"]) >= 0


def check_kline(spec, frame, last_trade):
    assert set(frame) == KLINE_FIELDS
    k = frame["k"]
    assert set(k) == CANDLE_FIELDS
    assert frame["s"] == k["s"] == spec.symbol
    assert candle_bounds(k["i"], k["t"]) == (k["t"], k["T"])
    check_prices(spec, k["o"], k["h"], k["l"], k["c"])
    check_quantities(spec, k["v"])
    o, h, low, c = (Decimal(k[key]) for key in "ohlc")
    assert h >= max(o, c) and low <= min(o, c)
    assert Decimal(k["v"]) >= 0 and Decimal(k["q"]) >= 0 and k["n"] >= 0
    if k["n"]:
        # A symbol's trade ids are consecutive, and so are a candle's.
        assert k["L"] - k["f"] + 1 == k["n"]
        assert k["L"] <= last_trade["t"]
    else:
        assert k["f"] == k["L"] == -1 and Decimal(k["v"]) == 0
    if k["x"]:
        assert k["T"] < frame["E"]
    else:
        assert k["t"] <= frame["E"] <= k["T"]
        assert k["c"] == last_trade["p"]
        if k["n"]:
            assert k["L"] == last_trade["t"]


def check_depth(spec, frame, scale, level):
    assert set(frame) == DEPTH_FIELDS
    assert frame["i"] == scale
    bids = [(Decimal(p), Decimal(q)) for p, q in frame["bids"]]
    asks = [(Decimal(p), Decimal(q)) for p, q in frame["asks"]]
    assert 0 < len(bids) <= level and 0 < len(asks) <= level
    assert all(a[0] > b[0] for a, b in zip(bids, bids[1:]))
    assert all(a[0] < b[0] for a, b in zip(asks, asks[1:]))
    assert bids[0][0] < asks[0][0]
    for price, qty in bids + asks:
        assert price % Decimal(scale) == 0
        assert qty > 0
    for side in (frame["bids"], frame["asks"]):
        check_prices(spec, *(p for p, _ in side))
        check_quantities(spec, *(q for _, q in side))


def check_futures(spec, market):
    book = market.frame(topics.book_ticker(spec.symbol))
    assert set(book) == BOOK_TICKER_FIELDS
    check_prices(spec, book["b"], book["a"])
    check_quantities(spec, book["B"], book["A"])
    assert Decimal(book["b"]) < Decimal(book["a"])
    finest = market.frame(topics.depth(spec.symbol, spec.scales[0], 1, futures=True))
    assert [book["b"], book["B"]] == finest["bids"][0]
    assert [book["a"], book["A"]] == finest["asks"][0]
    mark = market.frame(topics.mark_price(spec.symbol))
    assert set(mark) == MARK_PRICE_FIELDS
    check_prices(spec, mark["p"], mark["i"])
    assert Decimal(book["b"]) <= Decimal(mark["p"]) <= Decimal(book["a"])
    assert abs(Decimal(mark["r"])) <= Decimal("0.0075")
    assert mark["T"] % (8 * HOUR) == 0 and mark["E"] < mark["T"] <= mark["E"] + 8 * HOUR
    index = market.frame(topics.trade(spec.index))["p"]
    assert abs(Decimal(mark["i"]) - Decimal(index)) <= Decimal("0.05")
