"""
A seeded model of a BitTap market, from which the bundled emulator draws the
frames of every documented stream.

:class:`Market` keeps a random walk per symbol (a few trades per
:meth:`Market.step`) and derives everything else from the trades, so that
the streams agree with each other the way a real exchange's do:

* trades have strictly increasing ids and never go back in time;
* the 24 h ticker's ``c`` is the last trade's price, ``h``/``l`` bound ``o``
  and ``c``, the volumes add up the trades of the last 24 hours (counted by
  whole minutes);
* each kline interval keeps its own candle, opened at the interval's
  boundary in UTC (weeks open on Monday, ``1M`` on the first of the calendar
  month, other intervals at multiples of their length since the epoch). A
  candle whose period ended during the latest step is shown closed
  (``x: true``) until the next step, then its successor;
* the order book is drawn afresh each step around the last price: bids
  strictly descending, asks strictly ascending, best bid below best ask,
  aggregated to the requested scale (bids rounded down, asks up);
* a futures contract follows its index, the spot pair it names; its book
  gives ``f_bookTicker``, and ``f_markPrice`` shows the middle of the book
  against the index.

Frames have exactly the fields BitTap's stream pages document; prices and
quantities are decimal strings with the symbol's precision, times are
milliseconds. BitTap does not list the fields of ``f_bookTicker``,
``f_markPrice`` and the futures ``ACCOUNT_UPDATE``: they follow Binance's
USD-M futures streams, the closest reference where BitTap is silent:

* ``f_bookTicker``: ``e, E, s, b`` (best bid), ``B`` (its quantity), ``a``
  (best ask), ``A`` (its quantity);
* ``f_markPrice``: ``e, E, s, p`` (mark price), ``i`` (index price), ``r``
  (funding rate), ``T`` (next funding time, every 8 hours UTC);
* ``f_private`` ``ACCOUNT_UPDATE``: ``e, c, E, T`` and ``a`` holding ``m``
  (reason), ``B`` (balances: ``a`` asset, ``wb`` wallet balance, ``cw``
  cross wallet balance, ``bc`` balance change) and ``P`` (positions; this
  model holds none).

The private events are made on demand by :meth:`Market.balance_update`,
:meth:`Market.order_update` and :meth:`Market.account_update`, which also
keep the model's balances and order ids.

The model is pure: it does no I/O and starts no threads. Given the same seed
and the same readings of its clock, it produces the same frames, whatever
frames are read between steps.

"""

from __future__ import annotations

import calendar
import datetime
import random
import time
from collections import deque
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Callable, Union

import attrs

from .. import topics
from ..topics import Topic

__all__ = [
    "SymbolSpec",
    "SYMBOLS",
    "MAX_DEPTH_LEVEL",
    "DEPTH_LEVELS",
    "Amount",
    "Market",
    "candle_bounds",
]

#: What the private events accept as an amount.
Amount = Union[str, Decimal, int]

#: The deepest book the model serves.
MAX_DEPTH_LEVEL = 100
#: The depth levels :meth:`Market.all_topics` lists (any level up to
#: :data:`MAX_DEPTH_LEVEL` is served).
DEPTH_LEVELS: tuple[int, ...] = (1, 5, 10, 20, 30)

_MINUTE = 60_000
_DAY = 86_400_000
_FUNDING_PERIOD = 8 * 3_600_000
# 1970-01-01 was a Thursday; weekly candles open on Mondays.
_MONDAY = 4 * _DAY
_UNITS = {"m": _MINUTE, "h": 3_600_000, "d": _DAY, "w": 7 * _DAY}
# How many raw price levels each side of the book holds.
_BOOK_LEVELS = 400
# Balances and wallets are written with this many decimals.
_ASSET_DECIMALS = 8
_MAX_FUNDING_RATE = Decimal("0.0075")
_SIDES = ("BUY", "SELL")
_ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
_ORDER_STATUSES = ("NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED")
_TIMES_IN_FORCE = ("GTC", "IOC", "FOK")


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

#: The spot and futures balances a new model starts with.
_SPOT_BALANCES = {"USDT": "10000", "BTC": "1", "ETH": "10"}
_FUTURES_WALLET = {"USDT": "10000"}


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
class _Trade:
    id: int
    price: int  # ticks
    qty: int  # quantity units
    time: int
    buyer_maker: bool


@attrs.define
class _Candle:
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

    def add(self, trade: _Trade) -> None:
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
class _Book:
    # One side each, best first: (price in ticks, quantity units).
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


@attrs.define
class _State:
    # The state of one symbol.
    spec: SymbolSpec
    price: int
    last_trade: _Trade
    # The trades of the latest step, oldest first.
    step_trades: list[_Trade] = attrs.field(factory=list)
    # Minute buckets of the last 24 h: [start, open, high, low, volume, quote].
    minutes: deque[list[int]] = attrs.field(factory=deque)
    candles: dict[str, _Candle] = attrs.field(factory=dict)
    # The candles that closed during the latest step, by interval.
    closed: dict[str, _Candle] = attrs.field(factory=dict)
    update_id: int = 0
    book_seed: int = 0
    book: _Book | None = None

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


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.define(eq=False)
class Market:
    """
    A seeded market: a random walk per symbol and every stream derived from
    it.

    Args:
        seed: Seeds the walk; the same seed and the same clock readings give
            the same frames.
        now_ms: The clock, in milliseconds since the epoch, read once per
            :meth:`step` and once per private event. A clock that goes back
            is treated as standing still.
        symbols: The symbols traded; :data:`SYMBOLS` by default.

    """

    seed: int = 0
    now_ms: Callable[[], int] = attrs.field(default=_wall_clock_ms, repr=False)
    symbols: tuple[SymbolSpec, ...] = SYMBOLS
    _rng: random.Random = attrs.field(init=False, repr=False)
    _states: dict[str, _State] = attrs.field(init=False, repr=False, factory=dict)
    _time: int = attrs.field(init=False, repr=False, default=0)
    _balances: dict[str, list[Decimal]] = attrs.field(init=False, repr=False, factory=dict)
    _balance_version: int = attrs.field(init=False, repr=False, default=0)
    _wallet: dict[str, Decimal] = attrs.field(init=False, repr=False, factory=dict)
    _order_id: int = attrs.field(init=False, repr=False, default=0)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._time = self.now_ms()
        for spec in self.symbols:
            if spec.index is not None and spec.index not in self._states:
                raise ValueError(f"{spec.symbol} follows {spec.index}, which must come first")
            price = int(Decimal(spec.start_price).scaleb(spec.price_decimals))
            first = _Trade(1, price, 10**spec.qty_decimals, self._time, False)
            state = _State(spec, price, first)
            self._states[spec.symbol] = state
            self._record(state, first)
            state.book_seed = self._rng.getrandbits(64)
        for asset, amount in _SPOT_BALANCES.items():
            self._balances[asset] = [Decimal(amount), Decimal(0)]
        for asset, amount in _FUTURES_WALLET.items():
            self._wallet[asset] = Decimal(amount)

    def __repr__(self) -> str:
        return (
            f"<Market seed={self.seed} time={self._time} "
            f"symbols={','.join(spec.symbol for spec in self.symbols)}>"
        )

    # Public methods

    @property
    def time_ms(self) -> int:
        """The time of the latest step (or of the model's creation)."""
        return self._time

    def step(self) -> None:
        """
        Advance the model to the clock's time: a few trades per symbol, at
        times after the previous step's, then new order books.

        """
        previous, now = self._time, max(self._time, self.now_ms())
        earliest = previous + 1 if now > previous else now
        for state in self._states.values():
            state.step_trades = []
            state.closed = {}
            count = self._rng.randrange(4)
            for when in sorted(self._rng.randint(earliest, now) for _ in range(count)):
                trade = self._trade(state, when)
                state.step_trades.append(trade)
                self._record(state, trade)
            self._roll(state, now)
            while state.minutes and state.minutes[0][0] + _MINUTE <= now - _DAY:
                state.minutes.popleft()
            state.update_id += count + 1
            state.book_seed = self._rng.getrandbits(64)
            state.book = None
        self._time = now

    def known(self, topic: object) -> bool:
        """
        Whether the model serves ``topic``: a topic of one of its symbols,
        on the right market, with one of its scales and a level up to
        :data:`MAX_DEPTH_LEVEL`, or a private topic.

        Args:
            topic: Anything; only topics in BitTap's syntax can be known.

        Returns:
            Whether :meth:`frame` (or, for a private topic, the private
            events) serves it.

        """
        try:
            self._resolve(topic)
        except ValueError:
            return False
        return True

    def all_topics(self, levels: tuple[int, ...] = DEPTH_LEVELS) -> tuple[str, ...]:
        """
        Every market-data topic the model serves, with depth at ``levels``;
        private topics are left out.

        Args:
            levels: The depth levels to list.

        Returns:
            The topics, symbol by symbol.

        """
        found: list[str] = []
        for spec in self.symbols:
            symbol, futures = spec.symbol, spec.futures
            found += [topics.trade(symbol, futures=futures), topics.ticker(symbol, futures=futures)]
            found += [topics.kline(symbol, iv, futures=futures) for iv in topics.INTERVALS]
            found += [
                topics.depth(symbol, scale, level, futures=futures)
                for scale in spec.scales
                for level in levels
            ]
            if futures:
                found += [topics.book_ticker(symbol), topics.mark_price(symbol)]
        return tuple(found)

    def frame(self, topic: str) -> dict[str, Any]:
        """
        The current frame of a market-data topic, as of the latest step.

        Args:
            topic: A topic built by :mod:`bittap_ws.topics`.

        Returns:
            A new dict: the latest trade, the ticker, the latest candle, a
            depth snapshot, the best bid and ask, or the mark price.

        Raises:
            ValueError: The model does not serve ``topic`` (see
                :meth:`known`; the message says why), or ``topic`` is
                private: private frames are events, made by
                :meth:`balance_update`, :meth:`order_update` and
                :meth:`account_update`.

        """
        parts, state = self._resolve(topic)
        if state is None:
            raise ValueError(
                f"{topic} has no current frame: its events come from "
                "balance_update(), order_update() and account_update()"
            )
        if parts.kind == "trade":
            return self._trade_frame(parts, state, state.last_trade)
        if parts.kind == "ticker":
            return self._ticker_frame(parts, state)
        if parts.kind == "kline":
            return self._kline_frame(parts, state)
        if parts.kind == "depth":
            return self._depth_frame(parts, state)
        if parts.kind == "bookTicker":
            return self._book_ticker_frame(parts, state)
        return self._mark_price_frame(parts, state)

    def frames(self, topic: str) -> list[dict[str, Any]]:
        """
        The frames the latest step produced for a market-data topic: one
        per trade (perhaps none) for a trade topic, else ``[frame(topic)]``.

        Args:
            topic: A topic built by :mod:`bittap_ws.topics`.

        Returns:
            A new list of new dicts.

        Raises:
            ValueError: As :meth:`frame`.

        """
        parts, state = self._resolve(topic)
        if state is not None and parts.kind == "trade":
            return [self._trade_frame(parts, state, trade) for trade in state.step_trades]
        return [self.frame(topic)]

    def balance_update(self, asset: str, delta: Amount) -> dict[str, Any]:
        """
        Change a spot balance, as a deposit or withdrawal does, and return
        its ``BALANCE_UPDATE`` event on ``s_private``.

        Args:
            asset: The asset, upper-case letters and digits (a new one
                starts at zero).
            delta: The change of the free balance: a decimal string, a
                :class:`~decimal.Decimal` or an :class:`int`, with at most 8
                decimals.

        Returns:
            The event: ``e, c, E, T, a, d`` (the change), ``f`` (free
            after), ``l`` (locked) and ``v`` (the balance version, one more
            with each event).

        Raises:
            TypeError: ``asset`` or ``delta`` has the wrong type.
            ValueError: ``asset`` is malformed, ``delta`` is not a decimal
                with at most 8 decimals, or the free balance would go
                below zero.

        """
        _check_asset(asset)
        change = _amount(delta, _ASSET_DECIMALS, "delta", signed=True)
        free, locked = self._balances.get(asset, [Decimal(0), Decimal(0)])
        if free + change < 0:
            raise ValueError(f"{asset} free balance {free} cannot fall by {-change}")
        self._balances[asset] = [free + change, locked]
        self._balance_version += 1
        now = self._event_time()
        return {
            "e": topics.PRIVATE,
            "c": "BALANCE_UPDATE",
            "E": now,
            "T": now,
            "a": asset,
            "d": _fmt_decimal(change, _ASSET_DECIMALS),
            "f": _fmt_decimal(free + change, _ASSET_DECIMALS),
            "l": _fmt_decimal(locked, _ASSET_DECIMALS),
            "v": self._balance_version,
        }

    def order_update(
        self,
        symbol: str,
        side: str,
        quantity: Amount,
        price: Amount = "0",
        *,
        order_type: str = "LIMIT",
        status: str = "NEW",
        filled: Amount = "0",
        time_in_force: str = "GTC",
        client_order_id: str | None = None,
        order_id: int | None = None,
        reject_reason: str = "NONE",
    ) -> dict[str, Any]:
        """
        An ``ORDER_UPDATE`` event on ``s_private`` for a spot order.

        The documented fields are ``E, s, C, S, o, f, q, Q, p, X, r, i, z``;
        where BitTap does not say what they mean, they mean what Binance's
        execution report does: ``Q`` the quote order quantity (``0`` here)
        and ``r`` the reject reason.

        Args:
            symbol: A spot symbol of the model.
            side: ``"BUY"`` or ``"SELL"``.
            quantity: The order's quantity, positive, in the symbol's
                precision.
            price: The limit price, in the symbol's precision (``"0"`` for
                a market order).
            order_type: ``o``: ``"LIMIT"``, ``"MARKET"``...
            status: ``X``: ``"NEW"``, ``"PARTIALLY_FILLED"``, ``"FILLED"``,
                ``"CANCELED"``, ``"REJECTED"`` or ``"EXPIRED"``.
            filled: ``z``, the quantity filled so far, at most ``quantity``.
            time_in_force: ``f``: ``"GTC"``, ``"IOC"`` or ``"FOK"``.
            client_order_id: ``C``; by default ``"order-<order id>"``.
            order_id: ``i``, to report on an order already made; by default
                a new id, one more than the last.
            reject_reason: ``r``.

        Returns:
            The event.

        Raises:
            TypeError: An argument has the wrong type.
            ValueError: An argument is not one the model knows, or an
                amount is negative or finer than the symbol's precision.

        """
        state = self._states.get(symbol) if isinstance(symbol, str) else None
        if state is None or state.spec.futures:
            raise ValueError(f"unknown spot symbol {symbol!r}")
        for name, value, allowed in (
            ("side", side, _SIDES),
            ("order_type", order_type, _ORDER_TYPES),
            ("status", status, _ORDER_STATUSES),
            ("time_in_force", time_in_force, _TIMES_IN_FORCE),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        spec = state.spec
        qty = _amount(quantity, spec.qty_decimals, "quantity")
        done = _amount(filled, spec.qty_decimals, "filled")
        limit = _amount(price, spec.price_decimals, "price")
        if qty <= 0 or done > qty:
            raise ValueError("quantity must be positive and filled at most quantity")
        if order_id is None:
            self._order_id += 1
            order_id = self._order_id
        elif isinstance(order_id, bool) or not isinstance(order_id, int):
            raise TypeError(f"order_id must be an int, not {type(order_id).__name__}")
        if client_order_id is None:
            client_order_id = f"order-{order_id}"
        elif not isinstance(client_order_id, str):
            raise TypeError("client_order_id must be a str")
        return {
            "e": topics.PRIVATE,
            "c": "ORDER_UPDATE",
            "E": self._event_time(),
            "s": symbol,
            "C": client_order_id,
            "S": side,
            "o": order_type,
            "f": time_in_force,
            "q": _fmt_decimal(qty, spec.qty_decimals),
            "Q": _fmt_decimal(Decimal(0), spec.price_decimals),
            "p": _fmt_decimal(limit, spec.price_decimals),
            "X": status,
            "r": reject_reason,
            "i": order_id,
            "z": _fmt_decimal(done, spec.qty_decimals),
        }

    def account_update(
        self, asset: str, delta: Amount, *, reason: str = "DEPOSIT"
    ) -> dict[str, Any]:
        """
        Change a futures wallet balance and return its ``ACCOUNT_UPDATE``
        event on ``f_private`` (fields as Binance's USD-M futures send them;
        see the module docstring).

        Args:
            asset: The asset, upper-case letters and digits.
            delta: The change of the wallet balance, with at most 8
                decimals.
            reason: ``a.m``, why the balance changed (``"DEPOSIT"``,
                ``"WITHDRAW"``, ``"FUNDING_FEE"``...).

        Returns:
            The event.

        Raises:
            TypeError: ``asset`` or ``delta`` has the wrong type.
            ValueError: ``asset`` is malformed, ``delta`` is not a decimal
                with at most 8 decimals, or the wallet would go below zero.

        """
        _check_asset(asset)
        change = _amount(delta, _ASSET_DECIMALS, "delta", signed=True)
        balance = self._wallet.get(asset, Decimal(0)) + change
        if balance < 0:
            raise ValueError(f"{asset} wallet cannot fall by {-change}")
        self._wallet[asset] = balance
        now = self._event_time()
        wallet = _fmt_decimal(balance, _ASSET_DECIMALS)
        return {
            "e": topics.FUTURES_PRIVATE,
            "c": "ACCOUNT_UPDATE",
            "E": now,
            "T": now,
            "a": {
                "m": reason,
                "B": [
                    {
                        "a": asset,
                        "wb": wallet,
                        "cw": wallet,
                        "bc": _fmt_decimal(change, _ASSET_DECIMALS),
                    }
                ],
                "P": [],
            },
        }

    # Private methods

    def _resolve(self, topic: object) -> tuple[Topic, _State | None]:
        # The topic taken apart and the state of its symbol (None for a
        # private topic); ValueError when the model does not serve it.
        parts = topics.parse(topic)
        if parts is None:
            raise ValueError(f"not a BitTap topic: {topic!r}")
        if parts.kind == "private":
            return parts, None
        state = self._states.get(parts.symbol or "")
        if state is None or state.spec.futures != parts.futures:
            market = "futures" if parts.futures else "spot"
            served = [spec.symbol for spec in self.symbols if spec.futures == parts.futures]
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

    def _event_time(self) -> int:
        return max(self._time, self.now_ms())

    def _trade(self, state: _State, when: int) -> _Trade:
        # The next trade of a symbol: a step of its random walk.
        spec, rng = state.spec, self._rng
        move = round(rng.gauss(0, max(1.0, state.price * 0.0003)))
        if spec.index is not None:
            index = self._index_price(state)
            move += round((index - state.price) * 0.2)
        price = max(1, state.price + move)
        low = max(1, 10**spec.qty_decimals // 1000)
        qty = rng.randint(low, max(low, 10**spec.qty_decimals // 2))
        buyer_maker = price < state.price or (price == state.price and rng.random() < 0.5)
        state.price = price
        return _Trade(state.last_trade.id + 1, price, qty, when, buyer_maker)

    def _record(self, state: _State, trade: _Trade) -> None:
        # Count a trade in the minute buckets and every candle.
        state.last_trade = trade
        minute = trade.time - trade.time % _MINUTE
        if not state.minutes or state.minutes[-1][0] != minute:
            state.minutes.append([minute, trade.price, trade.price, trade.price, 0, 0])
        bucket = state.minutes[-1]
        bucket[2] = max(bucket[2], trade.price)
        bucket[3] = min(bucket[3], trade.price)
        bucket[4] += trade.qty
        bucket[5] += trade.price * trade.qty
        self._roll(state, trade.time)
        for candle in state.candles.values():
            candle.add(trade)

    def _roll(self, state: _State, now: int) -> None:
        # Close every candle whose period ended before ``now`` and open its
        # successor, flat at the last price until a trade comes.
        for interval in topics.INTERVALS:
            candle = state.candles.get(interval)
            if candle is not None and now <= candle.close_time:
                continue
            if candle is not None:
                state.closed[interval] = candle
            start, end = candle_bounds(interval, now)
            price = state.price
            state.candles[interval] = _Candle(start, end, price, price, price, price)

    def _index_price(self, state: _State) -> int:
        # The index of a futures contract, in its own ticks.
        assert state.spec.index is not None
        index = self._states[state.spec.index]
        value = Decimal(index.price) * index.tick / state.tick
        return int(value.to_integral_value(ROUND_HALF_EVEN))

    def _book(self, state: _State) -> _Book:
        # The raw book of the latest step, drawn from its own seed so that
        # reading it never changes the walk.
        if state.book is not None:
            return state.book
        rng = random.Random(state.book_seed)
        spread = 1 + rng.randrange(3)
        best_bid = max(1, state.price - rng.randrange(spread + 1))
        best_ask = best_bid + spread
        # Gaps between levels grow with depth, so that the coarsest scale
        # still finds about 40 levels and the finest one a dense top.
        span = 40 * max(state.scale_ticks(scale) for scale in state.spec.scales)
        growth = max(0.0, (span - _BOOK_LEVELS) / (_BOOK_LEVELS * _BOOK_LEVELS / 2))
        low = max(1, 10**state.spec.qty_decimals // 1000)
        high = max(low, 2 * 10**state.spec.qty_decimals)
        # random() rather than randint(): this loop draws hundreds of
        # numbers per symbol and step, and randint() is several times slower.
        draw = rng.random
        sides: list[list[tuple[int, int]]] = []
        for best, direction in ((best_bid, -1), (best_ask, 1)):
            side, offset = [], 0
            for level in range(_BOOK_LEVELS):
                price = best + direction * offset
                if price < 1:
                    break
                side.append((price, low + int(draw() * (high - low + 1))))
                offset += 1 + int(draw() * (1 + int(2 * growth * level)))
            sides.append(side)
        state.book = _Book(sides[0], sides[1])
        return state.book

    def _trade_frame(self, parts: Topic, state: _State, trade: _Trade) -> dict[str, Any]:
        return {
            "e": parts.stream,
            "E": trade.time,
            "s": state.spec.symbol,
            "t": trade.id,
            "p": state.price_text(trade.price),
            "q": state.qty_text(trade.qty),
            "T": trade.time,
            "m": trade.buyer_maker,
        }

    def _ticker_frame(self, parts: Topic, state: _State) -> dict[str, Any]:
        # The last 24 h, counted in whole minutes: the oldest bucket's first
        # trade opens the window. The last trade is in the newest bucket, so
        # high and low bound the close; no trade for 24 h, and all are the
        # last price.
        close = state.last_trade.price
        minutes = state.minutes
        open_, high, low = close, close, close
        if minutes:
            open_ = minutes[0][1]
            high = max(bucket[2] for bucket in minutes)
            low = min(bucket[3] for bucket in minutes)
        volume = sum(bucket[4] for bucket in minutes)
        quote = sum(bucket[5] for bucket in minutes)
        change = close - open_
        percent = (Decimal(change) * 100 / Decimal(open_)).quantize(Decimal("0.001"))
        return {
            "e": parts.stream,
            "E": self._time,
            "s": state.spec.symbol,
            "c": state.price_text(close),
            "o": state.price_text(open_),
            "h": state.price_text(high),
            "l": state.price_text(low),
            "v": state.qty_text(volume),
            "q": state.quote_text(quote),
            "p": state.price_text(change),
            "P": format(percent, "f"),
        }

    def _kline_frame(self, parts: Topic, state: _State) -> dict[str, Any]:
        assert parts.interval is not None
        closed = state.closed.get(parts.interval)
        candle = closed or state.candles[parts.interval]
        return {
            "e": parts.stream,
            "E": self._time,
            "s": state.spec.symbol,
            "k": {
                "t": candle.open_time,
                "T": candle.close_time,
                "s": state.spec.symbol,
                "i": parts.interval,
                "f": candle.first_id,
                "L": candle.last_id,
                "o": state.price_text(candle.open),
                "c": state.price_text(candle.close),
                "h": state.price_text(candle.high),
                "l": state.price_text(candle.low),
                "v": state.qty_text(candle.volume),
                "q": state.quote_text(candle.quote),
                "n": candle.count,
                "x": closed is not None,
            },
        }

    def _depth_frame(self, parts: Topic, state: _State) -> dict[str, Any]:
        assert parts.scale is not None and parts.level is not None
        book, scale = self._book(state), state.scale_ticks(parts.scale)
        bids = _aggregate(book.bids, parts.level, lambda p: p // scale * scale)
        asks = _aggregate(book.asks, parts.level, lambda p: -(-p // scale) * scale)
        return {
            "e": parts.stream,
            "s": state.spec.symbol,
            "i": parts.scale,
            "lastUpdateId": state.update_id,
            "bids": [[state.price_text(p), state.qty_text(q)] for p, q in bids],
            "asks": [[state.price_text(p), state.qty_text(q)] for p, q in asks],
        }

    def _book_ticker_frame(self, parts: Topic, state: _State) -> dict[str, Any]:
        book = self._book(state)
        (bid, bid_qty), (ask, ask_qty) = book.bids[0], book.asks[0]
        return {
            "e": parts.stream,
            "E": self._time,
            "s": state.spec.symbol,
            "b": state.price_text(bid),
            "B": state.qty_text(bid_qty),
            "a": state.price_text(ask),
            "A": state.qty_text(ask_qty),
        }

    def _mark_price_frame(self, parts: Topic, state: _State) -> dict[str, Any]:
        book = self._book(state)
        mark = (book.bids[0][0] + book.asks[0][0]) // 2
        index = mark if state.spec.index is None else self._index_price(state)
        rate = (Decimal(mark - index) / Decimal(index)).quantize(Decimal("1E-8"))
        rate = max(-_MAX_FUNDING_RATE, min(_MAX_FUNDING_RATE, rate))
        return {
            "e": parts.stream,
            "E": self._time,
            "s": state.spec.symbol,
            "p": state.price_text(mark),
            "i": state.price_text(index),
            "r": format(rate, "f"),
            "T": (self._time // _FUNDING_PERIOD + 1) * _FUNDING_PERIOD,
        }


def _aggregate(
    side: list[tuple[int, int]], level: int, bucket: Callable[[int], int]
) -> list[tuple[int, int]]:
    # The first ``level`` price levels of one side of the book, each the
    # sum of the raw levels that round to it. Raw levels are best first, so
    # equal buckets are neighbours.
    levels: list[tuple[int, int]] = []
    for price, qty in side:
        key = bucket(price)
        if key < 1:
            break
        if levels and levels[-1][0] == key:
            levels[-1] = (key, levels[-1][1] + qty)
        elif len(levels) == level:
            break
        else:
            levels.append((key, qty))
    return levels


def _fmt(units: int, decimals: int) -> str:
    # An integer count of 10**-decimals as a decimal string.
    return format(Decimal(units).scaleb(-decimals), "f")


def _fmt_decimal(value: Decimal, decimals: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-decimals)), "f")


def _check_asset(asset: object) -> None:
    if not isinstance(asset, str):
        raise TypeError(f"asset must be a str, not {type(asset).__name__}")
    if not asset or not asset.isascii() or not asset.isalnum() or asset != asset.upper():
        raise ValueError(f"asset must be upper-case letters and digits, got {asset!r}")


def _amount(value: object, decimals: int, name: str, *, signed: bool = False) -> Decimal:
    # A decimal amount with at most ``decimals`` decimals.
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        raise TypeError(f"{name} must be a str, Decimal or int, not {type(value).__name__}")
    try:
        amount = Decimal(value)
        exact = amount.is_finite() and amount == amount.quantize(Decimal(1).scaleb(-decimals))
    except InvalidOperation:
        # Not a number, or too many digits to quantize.
        raise ValueError(f"{name} must be a decimal number, got {value!r}") from None
    if not exact:
        raise ValueError(f"{name} must be finite, with at most {decimals} decimals: {value!r}")
    if amount < 0 and not signed:
        raise ValueError(f"{name} must not be negative: {value!r}")
    return amount
