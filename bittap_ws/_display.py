"""
Stream events as one readable line each, for the command line.

:func:`describe` picks, for each stream kind, the fields a person watching
the stream wants: a trade's side, quantity and price; a ticker's last price
and change; a candle's open, high, low and close; the best levels of a depth
snapshot; an account event's asset or order. Anything it does not recognise
is shown as compact JSON. It never raises: the event came from the network.

"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any, Callable, Mapping

from .topics import parse_frame

__all__ = ["describe"]


def describe(event: Mapping[str, Any]) -> str:
    """
    One line for ``event``: its time (UTC), its topic, and what matters in
    it.

    """
    try:
        parts = parse_frame(event)
        if parts is not None:
            show = _KINDS.get(parts.kind)
            if show is not None:
                return f"{_time_of(event)} {parts} {show(event)}"
    except Exception:  # a frame of the right kind with odd fields
        pass
    return f"{_time_of(event)} {json.dumps(event, separators=(',', ':'), default=str)}"


def _time_of(event: Mapping[str, Any]) -> str:
    when = event.get("E") or event.get("T")
    if not isinstance(when, int) or isinstance(when, bool):
        when = int(time.time() * 1000)  # depth snapshots carry no time
    try:
        moment = datetime.datetime.fromtimestamp(when / 1000, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(when)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _trade(event: Mapping[str, Any]) -> str:
    # "m": the buyer is the maker, so the taker sold.
    side = "SELL" if event.get("m") else "BUY "
    return f"{side} {event['q']} @ {event['p']}  id {event['t']}"


def _ticker(event: Mapping[str, Any]) -> str:
    return (
        f"last {event['c']}  24h {event['P']}%  "
        f"high {event['h']}  low {event['l']}  volume {event['v']}"
    )


def _kline(event: Mapping[str, Any]) -> str:
    k = event["k"]
    state = "closed" if k.get("x") else "open"
    return (
        f"open {k['o']}  high {k['h']}  low {k['l']}  close {k['c']}  "
        f"volume {k['v']}  ({state})"
    )


def _depth(event: Mapping[str, Any]) -> str:
    bids, asks = event.get("bids") or [], event.get("asks") or []
    bid = f"{bids[0][1]} @ {bids[0][0]}" if bids else "-"
    ask = f"{asks[0][1]} @ {asks[0][0]}" if asks else "-"
    return f"bid {bid} | ask {ask}  ({len(bids)}+{len(asks)} levels)"


def _book_ticker(event: Mapping[str, Any]) -> str:
    return f"bid {event['B']} @ {event['b']} | ask {event['A']} @ {event['a']}"


def _mark_price(event: Mapping[str, Any]) -> str:
    return f"mark {event['p']}  index {event['i']}  funding {event['r']}"


def _private(event: Mapping[str, Any]) -> str:
    kind = event.get("c")
    if kind == "BALANCE_UPDATE":
        return f"{kind} {event['a']} {event['d']}  free {event['f']}  locked {event['l']}"
    if kind == "ORDER_UPDATE":
        return (
            f"{kind} {event['s']} {event['S']} {event['o']} {event['q']} @ {event['p']}  "
            f"{event['X']}  filled {event['z']}  id {event['i']}"
        )
    return json.dumps(event, separators=(",", ":"), default=str)


_KINDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "trade": _trade,
    "ticker": _ticker,
    "kline": _kline,
    "depth": _depth,
    "bookTicker": _book_ticker,
    "markPrice": _mark_price,
    "private": _private,
}
