"""
The symbols the market model trades, and what it keeps of each: the specs,
candle bounds in UTC, and per symbol the last price, the trades of the latest
step, the minute buckets of the last 24 hours and a candle per kline interval;
and :func:`resolve`, which says whether a topic is one of theirs.

All of it is pure: a :class:`SymbolState` changes only when it is told of a
trade or of the passing of time.

"""

from __future__ import annotations

import calendar
import datetime
from collections import deque
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Mapping

import attrs

from .. import topics
from ..topics import Topic

__all__ = [
    "SymbolSpec",
    "SYMBOLS",
    "MAX_DEPTH_LEVEL",
    "DEPTH_LEVELS",
    "MINUTE",
    "DAY",
    "Trade",
    "Candle",
    "Book",
    "SymbolState",
    "candle_bounds",
    "resolve",
]

#: The deepest book the model serves.
MAX_DEPTH_LEVEL = 100
#: The depth levels :meth:`Market.all_topics` lists (any level up to
#: :data:`MAX_DEPTH_LEVEL` is served).
DEPTH_LEVELS: tuple[int, ...] = (1, 5, 10, 20, 30)

MINUTE = 60_000
DAY = 86_400_000
# 1970-01-01 was a Thursday; weekly candles open on Mondays.
_MONDAY = 4 * DAY
_UNITS = {"m": MINUTE, "h": 3_600_000, "d": DAY, "w": 7 * DAY}


@attrs.frozen
class SymbolSpec:
    """
    A symbol the model trades.

    Attributes:
        symbol: Its name, as topics carry it.
        futures: Whether it is a futures contract.
        price_decimals: Decimals of its prices; the tick is ``10**-price_decimals``.
        qty_decimals: Decimals of its quantities.
        scales: The depth scales it offers, in canonical form, each a
            multiple of the tick.
        start_price: Its first price, a decimal string.
        index: For a futures contract, the spot symbol it follows; that
            symbol must come before it in the model's symbols.

    """

    symbol: str
    futures: bool
    price_decimals: int
    qty_decimals: int
    scales: tuple[str, ...]
    start_price: str
    index: str | None = None


#: The symbols of the default market.
SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTC-USDT", False, 2, 5, ("0.01", "0.1", "1", "10"), "60000.00"),
    SymbolSpec("ETH-USDT", False, 2, 4, ("0.01", "0.1", "1"), "3000.00"),
    SymbolSpec("BTC-USDT-M", True, 1, 3, ("0.1", "1", "10"), "60000.0", index="BTC-USDT"),
)


def candle_bounds(interval: str, time_ms: int) -> tuple[int, int]:
    """
    The candle of ``interval`` that contains ``time_ms``, in UTC.

    Args:
        interval: One of :data:`bittap_ws.topics.INTERVALS`.
        time_ms: A time, in milliseconds since the epoch.

    Returns:
        ``(open, close)``: the candle's first and last millisecond, as the
        ``t`` and ``T`` of a kline frame.

    Raises:
        ValueError: ``interval`` is not one of BitTap's.

    """
    if interval not in topics.INTERVALS:
        raise ValueError(f"unknown kline interval {interval!r}")
    count, unit = int(interval[:-1]), interval[-1]
    if unit == "M":
        day = datetime.datetime.fromtimestamp(time_ms // 1000, datetime.timezone.utc)
        following = (day.year + day.month // 12, day.month % 12 + 1)
        start = calendar.timegm((day.year, day.month, 1, 0, 0, 0))
        end = calendar.timegm((*following, 1, 0, 0, 0))
        return start * 1000, end * 1000 - 1
    length = count * _UNITS[unit]
    origin = _MONDAY if unit == "w" else 0
    start = (time_ms - origin) // length * length + origin
    return start, start + length - 1


@attrs.frozen
class Trade:
    """One trade: prices in ticks, quantities in units of the last decimal."""

    id: int
    price: int  # ticks
    qty: int  # quantity units
    time: int
    buyer_maker: bool


@attrs.define
class Candle:
    """The candle of one kline interval, in ticks and quantity units."""

    open_time: int
    close_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote: int = 0
    count: int = 0
    first_id: int = -1
    last_id: int = -1

    def add(self, trade: Trade) -> None:
        if self.count == 0:
            self.open = self.high = self.low = trade.price
            self.first_id = trade.id
        self.high = max(self.high, trade.price)
        self.low = min(self.low, trade.price)
        self.close = trade.price
        self.last_id = trade.id
        self.volume += trade.qty
        self.quote += trade.price * trade.qty
        self.count += 1


@attrs.define
class Book:
    """The raw order book of one step."""

    # One side each, best first: (price in ticks, quantity units).
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


@attrs.define
class SymbolState:
    """The state of one symbol."""

    spec: SymbolSpec
    price: int
    last_trade: Trade
    # The trades of the latest step, oldest first.
    step_trades: list[Trade] = attrs.field(factory=list)
    # Minute buckets of the last 24 h: [start, open, high, low, volume, quote].
    minutes: deque[list[int]] = attrs.field(factory=deque)
    candles: dict[str, Candle] = attrs.field(factory=dict)
    # The candles that closed during the latest step, by interval.
    closed: dict[str, Candle] = attrs.field(factory=dict)
    update_id: int = 0
    book_seed: int = 0
    book: Book | None = None

    @property
    def tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.spec.price_decimals)

    def price_text(self, ticks: int) -> str:
        return _fmt(ticks, self.spec.price_decimals)

    def qty_text(self, units: int) -> str:
        return _fmt(units, self.spec.qty_decimals)

    def quote_text(self, units: int) -> str:
        return _fmt(units, self.spec.price_decimals + self.spec.qty_decimals)

    def scale_ticks(self, scale: str) -> int:
        return int(Decimal(scale) / self.tick)

    def ticks_of(self, other: SymbolState) -> int:
        """The last price of ``other``, in this symbol's ticks."""
        value = Decimal(other.price) * other.tick / self.tick
        return int(value.to_integral_value(ROUND_HALF_EVEN))

    @classmethod
    def first(cls, spec: SymbolSpec, time_ms: int) -> SymbolState:
        """A new symbol: one trade of one unit at its start price."""
        price = int(Decimal(spec.start_price).scaleb(spec.price_decimals))
        first = Trade(1, price, 10**spec.qty_decimals, time_ms, False)
        state = cls(spec, price, first)
        state.record(first)
        return state

    def start_step(self) -> None:
        """Forget the trades and closed candles of the previous step."""
        self.step_trades = []
        self.closed = {}

    def end_step(self, now: int, count: int) -> None:
        """
        Close the step at ``now`` after ``count`` trades: roll the candles,
        drop the minutes older than 24 h, move the book's update id on and
        forget the book.

        """
        self.roll(now)
        while self.minutes and self.minutes[0][0] + MINUTE <= now - DAY:
            self.minutes.popleft()
        self.update_id += count + 1
        self.book = None

    def record(self, trade: Trade) -> None:
        """Count a trade in the minute buckets and every candle."""
        self.last_trade = trade
        minute = trade.time - trade.time % MINUTE
        if not self.minutes or self.minutes[-1][0] != minute:
            self.minutes.append([minute, trade.price, trade.price, trade.price, 0, 0])
        bucket = self.minutes[-1]
        bucket[2] = max(bucket[2], trade.price)
        bucket[3] = min(bucket[3], trade.price)
        bucket[4] += trade.qty
        bucket[5] += trade.price * trade.qty
        self.roll(trade.time)
        for candle in self.candles.values():
            candle.add(trade)

    def roll(self, now: int) -> None:
        """
        Close every candle whose period ended before ``now`` and open its
        successor, flat at the last price until a trade comes.

        """
        for interval in topics.INTERVALS:
            candle = self.candles.get(interval)
            if candle is not None and now <= candle.close_time:
                continue
            if candle is not None:
                self.closed[interval] = candle
            start, end = candle_bounds(interval, now)
            price = self.price
            self.candles[interval] = Candle(start, end, price, price, price, price)


def resolve(
    topic: object, states: Mapping[str, SymbolState], symbols: tuple[SymbolSpec, ...]
) -> tuple[Topic, SymbolState | None]:
    """
    ``topic`` taken apart, and the state of its symbol among ``states``
    (``None`` for a private topic).

    Raises:
        ValueError: The symbols do not serve ``topic``; the message says
            why, naming the served ``symbols`` of its market.

    """
    parts = topics.parse(topic)
    if parts is None:
        raise ValueError(f"not a BitTap topic: {topic!r}")
    if parts.kind == "private":
        return parts, None
    state = states.get(parts.symbol or "")
    if state is None or state.spec.futures != parts.futures:
        market = "futures" if parts.futures else "spot"
        served = [spec.symbol for spec in symbols if spec.futures == parts.futures]
        raise ValueError(
            f"unknown {market} symbol {parts.symbol!r} in {topic}; "
            f"known: {', '.join(served) or 'none'}"
        )
    if parts.kind == "depth":
        assert parts.scale is not None and parts.level is not None
        if topics.canonical_scale(parts.scale) not in state.spec.scales:
            raise ValueError(
                f"unknown scale {parts.scale} for {parts.symbol}; "
                f"known: {', '.join(state.spec.scales)}"
            )
        if parts.level > MAX_DEPTH_LEVEL:
            raise ValueError(f"depth level {parts.level} is over {MAX_DEPTH_LEVEL}")
    return parts, state


def _fmt(units: int, decimals: int) -> str:
    # An integer count of 10**-decimals as a decimal string.
    return format(Decimal(units).scaleb(-decimals), "f")
