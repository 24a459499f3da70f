"""
BitTap stream topics: built from their parts, and rebuilt from data frames.

A topic names one stream, as sent in ``SUBSCRIBE``::

    s_trade@BTC-USDT            trades of a spot pair
    s_ticker@BTC-USDT           its 24 h ticker
    s_kline_1m@BTC-USDT         its latest 1 minute candle
    s_depth30@BTC-USDT_0.01     its top 30 price levels, aggregated to 0.01
    s_private                   the account's own events (after LOGIN)
    f_trade@BTC-USDT-M          the same streams for a futures contract, with
    f_bookTicker@BTC-USDT-M     two more: the best bid and ask, and the
    f_markPrice@BTC-USDT-M      mark price; f_private for the futures account

The builders (:func:`trade`, :func:`ticker`, :func:`kline`, :func:`depth`,
:func:`book_ticker`, :func:`mark_price`) check their arguments and raise
:exc:`TypeError` or :exc:`ValueError` with a message that says what was
expected, so that a typo fails at the call and not as a silent stream.

Data frames do not carry their topic: they name their stream in ``e``, their
symbol in ``s`` and, for depth, their scale in ``i``. :func:`topic_of`
rebuilds the topic from those fields (``e@s``, ``e@s_i`` for depth, ``e`` for
private frames) and returns :obj:`None` for anything else; it never raises,
whatever arrives from the network.

BitTap's own examples do not always agree with that rule: a trade frame may
carry ``s: "BTCUSDT"`` for ``s_trade@BTC-USDT``, and a depth frame may carry
``e: "s_depth30"`` for ``s_depth1@BTC-USDT_0.01``. For those, :func:`parse`
turns a topic into a :class:`Topic` whose :attr:`Topic.loose_key` forgets
what such frames get wrong: the dashes and case of the symbol, the depth
level, and how the scale is written. A router places a frame in two steps,
which :func:`match` implements as the reference:

1. the exact topic, ``topic_of(frame)``, if anything is subscribed to it;
2. otherwise the one subscription whose loose key equals the frame's; none,
   or more than one (say ``s_depth1`` and ``s_depth30`` of one pair and
   scale), and the frame cannot be placed.

Symbols accepted by the builders:

* spot: ``BASE-QUOTE``, each part upper-case ASCII letters and digits, for
  example ``BTC-USDT``;
* futures: ``BASE-QUOTE-SUFFIX`` alike, the suffix naming the contract, for
  example ``BTC-USDT-M``. A spot-shaped symbol with ``futures=True``, or a
  futures-shaped one without, is refused: it is the likeliest mistake.

Topics rebuilt from frames, and :func:`parse`, are more lenient: a symbol
there is ASCII letters and digits in dash-separated parts, in either case.
Nothing anywhere accepts ``@``, ``_``, spaces or other characters in a
symbol, because they would make a topic ambiguous.

This module is pure: no I/O, no threads, no state.

"""

from __future__ import annotations

import re

from ._topicparse import (
    INTERVALS,
    KINDS,
    LooseKey,
    Scale,
    Topic,
    _show,
    canonical_scale,
    match,
    normalize_symbol,
    parse,
    parse_frame,
    topic_of,
)

__all__ = [
    "PRIVATE",
    "FUTURES_PRIVATE",
    "INTERVALS",
    "KINDS",
    "DEFAULT_DEPTH_LEVEL",
    "Scale",
    "Topic",
    "LooseKey",
    "trade",
    "ticker",
    "kline",
    "depth",
    "book_ticker",
    "mark_price",
    "canonical_scale",
    "normalize_symbol",
    "parse",
    "parse_frame",
    "topic_of",
    "match",
]

#: The topic of the spot account's private events (needs a LOGIN first).
PRIVATE = "s_private"
#: The topic of the futures account's private events (needs a LOGIN first).
FUTURES_PRIVATE = "f_private"
#: The depth level BitTap documents as the default.
DEFAULT_DEPTH_LEVEL = 30
# What the builders accept.
_SPOT_SYMBOL = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
_FUTURES_SYMBOL = re.compile(r"[A-Z0-9]+-[A-Z0-9]+-[A-Z0-9]+")

# Public functions: builders


def trade(symbol: str, *, futures: bool = False) -> str:
    """
    The topic of a pair's trades: ``"s_trade@BTC-USDT"``.

    Args:
        symbol: ``BASE-QUOTE`` (spot) or ``BASE-QUOTE-SUFFIX`` (futures).
        futures: Whether ``symbol`` is a futures contract (``f_`` stream).

    Returns:
        The topic.

    Raises:
        TypeError: ``symbol`` is not a string.
        ValueError: ``symbol`` is not shaped as the market needs.

    """
    return str(Topic("trade", futures, _check_symbol(symbol, futures)))


def ticker(symbol: str, *, futures: bool = False) -> str:
    """
    The topic of a pair's 24 h ticker: ``"s_ticker@BTC-USDT"``.

    Args:
        symbol: ``BASE-QUOTE`` (spot) or ``BASE-QUOTE-SUFFIX`` (futures).
        futures: Whether ``symbol`` is a futures contract (``f_`` stream).

    Returns:
        The topic.

    Raises:
        TypeError: ``symbol`` is not a string.
        ValueError: ``symbol`` is not shaped as the market needs.

    """
    return str(Topic("ticker", futures, _check_symbol(symbol, futures)))


def kline(symbol: str, interval: str, *, futures: bool = False) -> str:
    """
    The topic of a pair's latest candle: ``"s_kline_1m@BTC-USDT"``.

    Args:
        symbol: ``BASE-QUOTE`` (spot) or ``BASE-QUOTE-SUFFIX`` (futures).
        interval: One of :data:`INTERVALS`; ``"1m"`` is a minute and
            ``"1M"`` a month.
        futures: Whether ``symbol`` is a futures contract (``f_`` stream).

    Returns:
        The topic.

    Raises:
        TypeError: ``symbol`` or ``interval`` is not a string.
        ValueError: ``symbol`` is not shaped as the market needs, or
            ``interval`` is not one of BitTap's (the message lists them).

    """
    checked = _check_symbol(symbol, futures)
    if not isinstance(interval, str):
        raise TypeError(f"interval must be a str, not {type(interval).__name__}")
    if interval not in INTERVALS:
        raise ValueError(
            f"unknown kline interval {_show(interval)}; BitTap's are {', '.join(INTERVALS)}"
        )
    return str(Topic("kline", futures, checked, interval=interval))


def depth(
    symbol: str, scale: Scale, level: int = DEFAULT_DEPTH_LEVEL, *, futures: bool = False
) -> str:
    """
    The topic of a pair's order book: ``"s_depth30@BTC-USDT_0.01"``, a
    snapshot of the top ``level`` price levels on each side, aggregated to
    steps of ``scale``.

    Args:
        symbol: ``BASE-QUOTE`` (spot) or ``BASE-QUOTE-SUFFIX`` (futures).
        scale: The aggregation step, positive; see :func:`canonical_scale`
            for the forms accepted. It must be one the pair offers, which
            only the server knows.
        level: How many price levels, a positive integer. BitTap documents
            30 (the default) and shows 1; it publishes no list.
        futures: Whether ``symbol`` is a futures contract (``f_`` stream).

    Returns:
        The topic, with ``scale`` in canonical form.

    Raises:
        TypeError: ``symbol``, ``scale`` or ``level`` has the wrong type
            (``level`` must be an :class:`int`, and not a :class:`bool`).
        ValueError: ``symbol`` is not shaped as the market needs, ``level``
            is not positive, or ``scale`` is not a positive finite decimal.

    """
    checked = _check_symbol(symbol, futures)
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"level must be an int, not {type(level).__name__}")
    if level < 1:
        raise ValueError(f"level must be a positive int, got {level}")
    return str(Topic("depth", futures, checked, level=level, scale=canonical_scale(scale)))


def book_ticker(symbol: str) -> str:
    """
    The topic of a futures contract's best bid and ask:
    ``"f_bookTicker@BTC-USDT-M"``. There is no spot equivalent.

    Args:
        symbol: ``BASE-QUOTE-SUFFIX``, for example ``"BTC-USDT-M"``.

    Returns:
        The topic.

    Raises:
        TypeError: ``symbol`` is not a string.
        ValueError: ``symbol`` is not a futures symbol.

    """
    return str(Topic("bookTicker", True, _check_symbol(symbol, True)))


def mark_price(symbol: str) -> str:
    """
    The topic of a futures contract's mark price:
    ``"f_markPrice@BTC-USDT-M"``. There is no spot equivalent.

    Args:
        symbol: ``BASE-QUOTE-SUFFIX``, for example ``"BTC-USDT-M"``.

    Returns:
        The topic.

    Raises:
        TypeError: ``symbol`` is not a string.
        ValueError: ``symbol`` is not a futures symbol.

    """
    return str(Topic("markPrice", True, _check_symbol(symbol, True)))

def _check_symbol(symbol: object, futures: bool) -> str:
    # The symbol, if the builders accept it for the market; otherwise a
    # TypeError or ValueError that says what was expected.
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str, not {type(symbol).__name__}")
    if futures:
        if _FUTURES_SYMBOL.fullmatch(symbol):
            return symbol
        expected = "a futures symbol BASE-QUOTE-SUFFIX such as 'BTC-USDT-M'"
        if _SPOT_SYMBOL.fullmatch(symbol.upper()):
            hint = "; it lacks the contract suffix"
        else:
            hint = _case_hint(symbol, _FUTURES_SYMBOL)
    else:
        if _SPOT_SYMBOL.fullmatch(symbol):
            return symbol
        expected = "a spot symbol BASE-QUOTE such as 'BTC-USDT'"
        if _FUTURES_SYMBOL.fullmatch(symbol.upper()):
            hint = "; futures symbols need futures=True"
        else:
            hint = _case_hint(symbol, _SPOT_SYMBOL)
    raise ValueError(
        f"symbol must be {expected}, in upper-case letters and digits; got {_show(symbol)}{hint}"
    )


def _case_hint(symbol: str, pattern: re.Pattern[str]) -> str:
    if pattern.fullmatch(symbol.upper()):
        return f"; symbols are upper case: {symbol.upper()!r}"
    return ""
