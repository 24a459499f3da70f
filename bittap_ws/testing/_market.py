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
* the order book is drawn afresh each step around the last price;
* a futures contract follows its index, the spot pair it names; its book
  gives ``f_bookTicker``, and ``f_markPrice`` shows the middle of the book
  against the index.

The private events are made on demand by :meth:`Market.balance_update`,
:meth:`Market.order_update` and :meth:`Market.account_update`, which also
keep the model's balances and order ids.

The model is pure: it does no I/O and starts no threads. Given the same seed
and the same readings of its clock, it produces the same frames, whatever
frames are read between steps.

This module holds the walk and the topic API; the other jobs live below
it: ``_symbols`` (specs, candle bounds, each symbol's state, the topics
served), ``_marketframes`` (the frames and the order book, with their
fields) and ``_account`` (balances, orders and the private events).

"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

import attrs

from .. import topics
from . import _marketframes as frames
from ._account import Account, Amount
from ._symbols import (
    DEPTH_LEVELS,
    MAX_DEPTH_LEVEL,
    SYMBOLS,
    SymbolSpec,
    SymbolState,
    Trade,
    candle_bounds,
    resolve,
)

__all__ = [
    "SymbolSpec",
    "SYMBOLS",
    "MAX_DEPTH_LEVEL",
    "DEPTH_LEVELS",
    "Amount",
    "Market",
    "candle_bounds",
]


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
    _states: dict[str, SymbolState] = attrs.field(init=False, repr=False, factory=dict)
    _time: int = attrs.field(init=False, repr=False, default=0)
    _account: Account = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._time = self.now_ms()
        for spec in self.symbols:
            if spec.index is not None and spec.index not in self._states:
                raise ValueError(f"{spec.symbol} follows {spec.index}, which must come first")
            state = self._states[spec.symbol] = SymbolState.first(spec, self._time)
            state.book_seed = self._rng.getrandbits(64)
        self._account = Account(self._event_time)

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
            state.start_step()
            count = self._rng.randrange(4)
            for when in sorted(self._rng.randint(earliest, now) for _ in range(count)):
                trade = self._trade(state, when)
                state.step_trades.append(trade)
                state.record(trade)
            state.end_step(now, count)
            state.book_seed = self._rng.getrandbits(64)
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
            resolve(topic, self._states, self.symbols)
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
        parts, state = resolve(topic, self._states, self.symbols)
        if state is None:
            raise ValueError(
                f"{topic} has no current frame: its events come from "
                "balance_update(), order_update() and account_update()"
            )
        if parts.kind == "trade":
            return frames.trade_frame(parts, state, state.last_trade)
        if parts.kind == "ticker":
            return frames.ticker_frame(parts, state, self._time)
        if parts.kind == "kline":
            return frames.kline_frame(parts, state, self._time)
        if parts.kind == "depth":
            return frames.depth_frame(parts, state)
        if parts.kind == "bookTicker":
            return frames.book_ticker_frame(parts, state, self._time)
        index = None if state.spec.index is None else self._index_price(state)
        return frames.mark_price_frame(parts, state, self._time, index)

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
        parts, state = resolve(topic, self._states, self.symbols)
        if state is not None and parts.kind == "trade":
            return [frames.trade_frame(parts, state, trade) for trade in state.step_trades]
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
        return self._account.balance_update(asset, delta)

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
        return self._account.order_update(
            state.spec,
            side,
            quantity,
            price,
            order_type=order_type,
            status=status,
            filled=filled,
            time_in_force=time_in_force,
            client_order_id=client_order_id,
            order_id=order_id,
            reject_reason=reject_reason,
        )

    def account_update(
        self, asset: str, delta: Amount, *, reason: str = "DEPOSIT"
    ) -> dict[str, Any]:
        """
        Change a futures wallet balance and return its ``ACCOUNT_UPDATE``
        event on ``f_private`` (fields as Binance's USD-M futures send them;
        see :mod:`bittap_ws.testing._account`).

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
        return self._account.account_update(asset, delta, reason=reason)

    # Private methods

    def _event_time(self) -> int:
        return max(self._time, self.now_ms())

    def _trade(self, state: SymbolState, when: int) -> Trade:
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
        return Trade(state.last_trade.id + 1, price, qty, when, buyer_maker)

    def _index_price(self, state: SymbolState) -> int:
        # The index of a futures contract, in its own ticks.
        assert state.spec.index is not None
        return state.ticks_of(self._states[state.spec.index])
