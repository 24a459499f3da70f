"""
The market-data frames of one symbol, built from its state as of the latest
step: the trade, ticker, kline, depth, ``f_bookTicker`` and ``f_markPrice``
frames, and the order book the last three are drawn from.

Frames have exactly the fields BitTap's stream pages document; prices and
quantities are decimal strings with the symbol's precision, times are
milliseconds. BitTap does not list the fields of ``f_bookTicker`` and
``f_markPrice``: they follow Binance's USD-M futures streams, the closest
reference where BitTap is silent:

* ``f_bookTicker``: ``e, E, s, b`` (best bid), ``B`` (its quantity), ``a``
  (best ask), ``A`` (its quantity);
* ``f_markPrice``: ``e, E, s, p`` (mark price), ``i`` (index price), ``r``
  (funding rate), ``T`` (next funding time, every 8 hours UTC).

The order book is drawn afresh each step around the last price, from the
step's own seed so that reading it never changes the walk: bids strictly
descending, asks strictly ascending, best bid below best ask, aggregated to
the requested scale (bids rounded down, asks up).

"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any, Callable

from ..topics import Topic
from ._symbols import Book, SymbolState, Trade

__all__ = [
    "book_of",
    "trade_frame",
    "ticker_frame",
    "kline_frame",
    "depth_frame",
    "book_ticker_frame",
    "mark_price_frame",
]

_FUNDING_PERIOD = 8 * 3_600_000
# How many raw price levels each side of the book holds.
_BOOK_LEVELS = 400
_MAX_FUNDING_RATE = Decimal("0.0075")


def book_of(state: SymbolState) -> Book:
    """The raw book of the latest step, drawn once and kept on ``state``."""
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
    state.book = Book(sides[0], sides[1])
    return state.book


def trade_frame(parts: Topic, state: SymbolState, trade: Trade) -> dict[str, Any]:
    """The frame of one trade."""
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


def ticker_frame(parts: Topic, state: SymbolState, time_ms: int) -> dict[str, Any]:
    """The 24 h ticker, as of ``time_ms``."""
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
        "E": time_ms,
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


def kline_frame(parts: Topic, state: SymbolState, time_ms: int) -> dict[str, Any]:
    """The candle of the topic's interval: the one just closed, if any."""
    assert parts.interval is not None
    closed = state.closed.get(parts.interval)
    candle = closed or state.candles[parts.interval]
    return {
        "e": parts.stream,
        "E": time_ms,
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


def depth_frame(parts: Topic, state: SymbolState) -> dict[str, Any]:
    """A depth snapshot at the topic's scale and level."""
    assert parts.scale is not None and parts.level is not None
    book, scale = book_of(state), state.scale_ticks(parts.scale)
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


def book_ticker_frame(parts: Topic, state: SymbolState, time_ms: int) -> dict[str, Any]:
    """The best bid and ask."""
    book = book_of(state)
    (bid, bid_qty), (ask, ask_qty) = book.bids[0], book.asks[0]
    return {
        "e": parts.stream,
        "E": time_ms,
        "s": state.spec.symbol,
        "b": state.price_text(bid),
        "B": state.qty_text(bid_qty),
        "a": state.price_text(ask),
        "A": state.qty_text(ask_qty),
    }


def mark_price_frame(
    parts: Topic, state: SymbolState, time_ms: int, index: int | None
) -> dict[str, Any]:
    """
    The middle of the book against ``index``, the index price in the
    symbol's ticks (``None``: no index, and the mark stands for it).

    """
    book = book_of(state)
    mark = (book.bids[0][0] + book.asks[0][0]) // 2
    if index is None:
        index = mark
    rate = (Decimal(mark - index) / Decimal(index)).quantize(Decimal("1E-8"))
    rate = max(-_MAX_FUNDING_RATE, min(_MAX_FUNDING_RATE, rate))
    return {
        "e": parts.stream,
        "E": time_ms,
        "s": state.spec.symbol,
        "p": state.price_text(mark),
        "i": state.price_text(index),
        "r": format(rate, "f"),
        "T": (time_ms // _FUNDING_PERIOD + 1) * _FUNDING_PERIOD,
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
