"""
Topics taken apart: the tables of BitTap's streams, :class:`Topic` and
:class:`LooseKey`, and the functions that rebuild a topic from a topic
string or from a data frame. :mod:`bittap_ws.topics` re-exports them; its
docstring tells how topics and frames relate.

This module is pure: no I/O, no threads, no state.

"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Collection, Mapping, Union

import attrs

__all__ = [
    "INTERVALS",
    "KINDS",
    "LooseKey",
    "Scale",
    "Topic",
    "canonical_scale",
    "match",
    "normalize_symbol",
    "parse",
    "parse_frame",
    "topic_of",
]

#: BitTap's kline intervals; case matters: ``1m`` is a minute, ``1M`` a month.
INTERVALS: tuple[str, ...] = (
    "1m", "3m", "5m", "15m", "30m",
    "1h", "2h", "4h", "6h", "8h", "12h",
    "1d", "3d", "1w", "1M",
)  # fmt: skip

#: What :func:`depth` accepts as a scale.
Scale = Union[str, Decimal, int, float]


@attrs.frozen
class _Kind:
    # Whether the kind exists on the spot market (all exist on futures) and
    # whether its topic names a symbol.
    spot: bool
    symbol: bool


# The stream kinds, by the name they carry in a topic.
_KINDS: dict[str, _Kind] = {
    "trade": _Kind(spot=True, symbol=True),
    "ticker": _Kind(spot=True, symbol=True),
    "kline": _Kind(spot=True, symbol=True),
    "depth": _Kind(spot=True, symbol=True),
    "bookTicker": _Kind(spot=False, symbol=True),
    "markPrice": _Kind(spot=False, symbol=True),
    "private": _Kind(spot=True, symbol=False),
}

#: The kinds of stream, as :attr:`Topic.kind` names them.
KINDS: tuple[str, ...] = tuple(_KINDS)

_PREFIX = {False: "s", True: "f"}

# A stream name, the part of a topic before "@" and the "e" of its frames.
_STREAM = re.compile(
    r"(?P<market>[sf])_(?:"
    r"kline_(?P<interval>[0-9]{1,2}[mhdwM])"
    r"|depth(?P<level>[1-9][0-9]{0,5})"
    r"|(?P<kind>[A-Za-z]+))"
)# What parse() and topic_of() accept: anything a frame may plausibly carry,
# nothing that could make a topic ambiguous.
_LOOSE_SYMBOL = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Longer values are not BitTap's; refusing them bounds the work on garbage.
_MAX_TEXT = 64


@attrs.frozen
class LooseKey:
    """
    What a topic and a frame that belongs to it agree on, even when BitTap's
    frames spell the symbol or the depth level differently.

    Attributes:
        family: The stream name without the depth level: ``"s_trade"``,
            ``"s_kline_1m"``, ``"s_depth"``, ``"f_markPrice"``,
            ``"s_private"``...
        symbol: The symbol, upper case, without dashes (``"BTCUSDT"``), or
            :obj:`None` for private topics.
        scale: The depth scale in canonical form (``"0.01"``), or
            :obj:`None` for other kinds.

    """

    family: str
    symbol: str | None = None
    scale: str | None = None


@attrs.frozen
class Topic:
    """
    A topic taken apart, as returned by :func:`parse` and
    :func:`parse_frame`; ``str(topic)`` puts it back together.

    Attributes:
        kind: One of :data:`KINDS`: ``"trade"``, ``"ticker"``, ``"kline"``,
            ``"depth"``, ``"bookTicker"``, ``"markPrice"``, ``"private"``.
        futures: Whether the stream is a futures one (``f_`` prefix).
        symbol: The symbol exactly as written, or :obj:`None` for private
            topics.
        interval: The kline interval, or :obj:`None`.
        level: The depth level, or :obj:`None`.
        scale: The depth scale exactly as written, or :obj:`None`.

    """

    kind: str
    futures: bool = False
    symbol: str | None = None
    interval: str | None = None
    level: int | None = None
    scale: str | None = None

    def __str__(self) -> str:
        if self.symbol is None:
            return self.stream
        if self.scale is None:
            return f"{self.stream}@{self.symbol}"
        return f"{self.stream}@{self.symbol}_{self.scale}"

    @property
    def stream(self) -> str:
        """
        The stream name, as the ``e`` field of its frames carries it:
        ``"s_trade"``, ``"s_kline_1m"``, ``"s_depth30"``, ``"f_private"``...

        """
        prefix = _PREFIX[self.futures]
        if self.kind == "kline":
            return f"{prefix}_kline_{self.interval}"
        if self.kind == "depth":
            return f"{prefix}_depth{self.level}"
        return f"{prefix}_{self.kind}"

    @property
    def loose_key(self) -> LooseKey:
        """
        The :class:`LooseKey` of this topic, to place frames whose fields do
        not rebuild the subscribed topic exactly (see the module docstring).

        """
        if self.kind == "depth":
            family = f"{_PREFIX[self.futures]}_depth"
        else:
            family = self.stream
        symbol = None if self.symbol is None else normalize_symbol(self.symbol)
        scale = None if self.scale is None else canonical_scale(self.scale)
        return LooseKey(family, symbol, scale)

def canonical_scale(scale: Scale) -> str:
    """
    A depth scale in the form topics use: plain decimal notation, no
    exponent, no trailing zeros after the point (``"0.01"``, ``"1"``,
    ``"10"``).

    Args:
        scale: A positive finite value, one of:

            * a :class:`str` in plain decimal notation (``"0.01"``,
              ``"0.010"``, ``"10"``; not ``"1e-2"``, ``".5"`` or ``"+1"``);
            * a :class:`~decimal.Decimal` (``Decimal("1E+1")`` gives
              ``"10"``);
            * an :class:`int`;
            * a :class:`float`, taken as its shortest repr, so that ``0.01``
              gives ``"0.01"`` and not its binary expansion.

    Returns:
        The canonical text.

    Raises:
        TypeError: ``scale`` is of another type (a :class:`bool` included).
        ValueError: ``scale`` is not positive and finite, or a string not in
            plain decimal notation.

    """
    if isinstance(scale, bool) or not isinstance(scale, (str, Decimal, int, float)):
        raise TypeError(f"scale must be a str, Decimal, int or float, not {type(scale).__name__}")
    if isinstance(scale, str):
        if not _DECIMAL.fullmatch(scale):
            raise ValueError(f"scale must be a decimal number such as '0.01', got {_show(scale)}")
        value = Decimal(scale)
    elif isinstance(scale, float):
        if not math.isfinite(scale):
            raise ValueError(f"scale must be finite, got {scale!r}")
        value = Decimal(repr(scale))
    else:
        value = Decimal(scale)
    if not value.is_finite() or value <= 0:
        raise ValueError(f"scale must be positive and finite, got {_show(scale)}")
    # format(..., "f") writes every digit without an exponent and, unlike
    # normalize(), never rounds to the context's precision.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def normalize_symbol(symbol: str) -> str:
    """
    A symbol as the loose key compares it: upper case, without dashes
    (``"btc-usdt"`` and ``"BTCUSDT"`` both give ``"BTCUSDT"``).

    Args:
        symbol: Any symbol.

    Returns:
        The normalized symbol.

    """
    return symbol.replace("-", "").upper()

def parse(topic: object) -> Topic | None:
    """
    Take a topic apart.

    Accepts every topic the builders return and every topic
    :func:`topic_of` rebuilds, with a symbol in either case and with or
    without dashes. Never raises.

    Args:
        topic: The topic, such as ``"s_depth30@BTC-USDT_0.01"``.

    Returns:
        The :class:`Topic`, or :obj:`None` if ``topic`` is not a string in
        one of the shapes of the module docstring.

    """
    if not isinstance(topic, str) or len(topic) > 3 * _MAX_TEXT:
        return None
    stream, at, rest = topic.partition("@")
    parts = _parse_stream(stream)
    if parts is None:
        return None
    if not _KINDS[parts.kind].symbol:
        return None if at else parts
    if not at:
        return None
    if parts.kind == "depth":
        symbol, underscore, scale = rest.rpartition("_")
        if not underscore or not _DECIMAL.fullmatch(scale) or not Decimal(scale):
            return None
        parts = attrs.evolve(parts, scale=scale)
    else:
        symbol = rest
    if not _LOOSE_SYMBOL.fullmatch(symbol) or len(symbol) > _MAX_TEXT:
        return None
    return attrs.evolve(parts, symbol=symbol)


def parse_frame(frame: object) -> Topic | None:
    """
    The :class:`Topic` a data frame belongs to, from its ``e``, ``s`` and
    ``i`` fields. Never raises.

    ``e`` must name a known stream (``"s_trade"``, ``"s_kline_1m"``,
    ``"f_depth30"``, ``"s_private"``...). Every kind but ``private`` also
    needs a symbol in ``s``; depth also needs its scale in ``i``, a decimal
    string (kept as written) or a JSON number (written in canonical form).
    A private frame's ``s``, if any, is an order's symbol and is ignored.

    Args:
        frame: A decoded JSON value, normally a :class:`dict`.

    Returns:
        The topic taken apart, or :obj:`None` if ``frame`` is not a data
        frame of a known stream: not a mapping, no ``e``, a field of the
        wrong type or shape...

    """
    if not isinstance(frame, Mapping):
        return None
    try:
        e, s, i = frame.get("e"), frame.get("s"), frame.get("i")
    except Exception:  # A mapping whose lookups fail is not a frame.
        return None
    if not isinstance(e, str):
        return None
    parts = _parse_stream(e)
    if parts is None or not _KINDS[parts.kind].symbol:
        return parts
    if not isinstance(s, str) or len(s) > _MAX_TEXT or not _LOOSE_SYMBOL.fullmatch(s):
        return None
    if parts.kind != "depth":
        return attrs.evolve(parts, symbol=s)
    scale = _frame_scale(i)
    if scale is None:
        return None
    return attrs.evolve(parts, symbol=s, scale=scale)


def topic_of(frame: object) -> str | None:
    """
    The topic a data frame belongs to: ``e@s``, ``e@s_i`` for depth, ``e``
    for private frames. Never raises.

    The topic is rebuilt as the frame spells it; when that does not match a
    subscription exactly, compare loose keys (see :func:`match`).

    Args:
        frame: A decoded JSON value, normally a :class:`dict`.

    Returns:
        The topic, or :obj:`None` if ``frame`` is not a data frame of a
        known stream (see :func:`parse_frame`).

    """
    parts = parse_frame(frame)
    return None if parts is None else str(parts)


def match(topic: str, subscribed: Collection[str]) -> str | None:
    """
    The subscribed topic a frame's topic belongs to, by the two steps of the
    module docstring: the exact topic, else the only subscribed topic with
    the same loose key.

    A router with many subscriptions would rather index its topics by
    :attr:`Topic.loose_key` than call this for each frame; this is the
    reference for what it must decide.

    Args:
        topic: The frame's topic, usually from :func:`topic_of`.
        subscribed: The topics subscribed to.

    Returns:
        The subscribed topic, or :obj:`None` when none matches, or when
        several match loosely and none exactly.

    """
    if topic in subscribed:
        return topic
    parts = parse(topic)
    if parts is None:
        return None
    key = parts.loose_key
    found = None
    for candidate in subscribed:
        candidate_parts = parse(candidate)
        if candidate_parts is not None and candidate_parts.loose_key == key:
            if found is not None:
                return None
            found = candidate
    return found

def _parse_stream(stream: str) -> Topic | None:
    # The topic of a stream name alone, without its symbol and scale; None
    # for a name that is not one of BitTap's streams.
    if len(stream) > _MAX_TEXT:
        return None
    found = _STREAM.fullmatch(stream)
    if found is None:
        return None
    futures = found["market"] == "f"
    if found["interval"] is not None:
        if found["interval"] not in INTERVALS:
            return None
        return Topic("kline", futures, interval=found["interval"])
    if found["level"] is not None:
        return Topic("depth", futures, level=int(found["level"]))
    kind = found["kind"]
    info = _KINDS.get(kind)
    if info is None or kind in ("kline", "depth") or not (futures or info.spot):
        return None
    return Topic(kind, futures)


def _frame_scale(value: Any) -> str | None:
    # The scale of a depth frame's "i": a decimal string as written, or a
    # JSON number in canonical form.
    if isinstance(value, str):
        if len(value) > _MAX_TEXT or not _DECIMAL.fullmatch(value) or not Decimal(value):
            return None
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return canonical_scale(value)
        except ValueError:
            return None
    return None

def _show(value: object) -> str:
    # A value for an error message, cut short: it may come from anywhere.
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
