"""
What the bundled server says, as BitTap would: answers to requests,
acknowledgements of subscriptions, stream events and rate limits.

Nothing here touches a socket: :class:`BitTap` turns a decoded request
into the frame to send back, and the server sends it. Stream events come
from a seeded :class:`~bittap_ws.testing._market.Market`, in the shapes
BitTap documents: ``{"e": "s_trade", "s": "BTC-USDT", ...}``, never the
subscribed topic itself.

"""

from __future__ import annotations

import hmac
import threading
import time
from decimal import Decimal
from typing import Any, Iterable

import attrs

from ..auth import sign_login
from ..topics import FUTURES_PRIVATE, PRIVATE, parse
from ._faults import Rule
from ._market import Market

__all__ = ["BitTap", "DEFAULT_RATE_LIMIT", "error"]

# How many steps of the market model publish() takes, at most, for each
# trade it must publish (a step has none a quarter of the time).
_STEPS_PER_TRADE = 16

# How many steps of the market pass between two events of the account.
PRIVATE_EVERY = 20

# How far, in ms, a LOGIN timestamp may be from the server's clock.
LOGIN_WINDOW_MS = 60_000

#: What ``login_answer`` may be: the shape of the answer to LOGIN, which
#: BitTap does not document.
LOGIN_ANSWERS = ("status", "ack")

DEFAULT_RATE_LIMIT = {
    "rateLimitType": "REQUEST_WEIGHT",
    "interval": "MINUTE",
    "intervalNum": 1,
    "limit": 6000,
}


def error(code: int, msg: str) -> dict[str, Any]:
    """
    An ``error`` object, as BitTap's answers carry it.

    """
    return {"code": code, "msg": msg}


@attrs.define(eq=False)
class BitTap:
    """
    The emulated exchange, with the knobs that change what it says.

    Attributes:
        clock_offset_ms: Milliseconds added to the server's clock.
        rate_limits: The ``rateLimits`` of every answer: :obj:`None` for a
            REQUEST_WEIGHT counter per minute, ``[]`` to send none, or a
            list of objects to send as they are.
        stream_rate: Steps of the market model per second; each step
            publishes, to each subscribed topic of each connection, its
            current frame (a few trades, or none, for trade topics); 0
            publishes nothing by itself (see ``publish()``).
        seed: Seeds the market model.
        market: The market model, whose clock is :meth:`server_time`.
        credentials: API keys and their secrets, ``{"key": "secret"}``,
            that LOGIN accepts, with the signature of
            :func:`~bittap_ws.sign_login` and a timestamp within a minute of
            :meth:`server_time`; private topics need a LOGIN first.
        login_answer: ``"status"`` to answer LOGIN in the API's shape
            (``status: 200``), ``"ack"`` in the acknowledgement's
            (``code: 0``).

    """

    clock_offset_ms: int = attrs.field(default=0, kw_only=True)
    rate_limits: list[dict[str, Any]] | None = attrs.field(default=None, kw_only=True)
    stream_rate: float = attrs.field(default=10.0, kw_only=True)
    seed: int = attrs.field(default=0, kw_only=True)
    credentials: dict[str, str] = attrs.field(factory=dict, kw_only=True, repr=False)
    login_answer: str = attrs.field(
        default="status", kw_only=True, validator=attrs.validators.in_(LOGIN_ANSWERS)
    )
    market: Market = attrs.field(init=False, repr=False)
    # _emulator_lock guards the counters below.
    _emulator_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)
    _weight: int = attrs.field(init=False, default=0, repr=False)
    _steps: int = attrs.field(init=False, default=0, repr=False)
    _weight_minute: int = attrs.field(init=False, default=0, repr=False)

    @market.default
    def _make_market(self) -> Market:
        return Market(seed=self.seed, now_ms=self.server_time)

    def server_time(self) -> int:
        """
        The server's clock, in milliseconds since the epoch.

        """
        return int(time.time() * 1000) + self.clock_offset_ms

    # Private methods

    def _answer(self, request: dict[str, Any], rule: Rule) -> dict[str, Any]:
        method = request["method"]
        answer: dict[str, Any] = {"id": request["id"], "status": rule.status}
        if rule.status == 200:
            if rule.result is not None:
                answer["result"] = rule.result
            elif method == "ping":
                answer["result"] = {}
            elif method == "time":
                answer["result"] = {"serverTime": self.server_time()}
            else:
                answer["status"] = 400
                answer["error"] = error(-1000, f"Unknown method '{method}'.")
        else:
            answer["error"] = rule.error or error(-1000, f"Failed with status {rule.status}.")
        rate_limits = self._rate_limits()
        if rate_limits:
            answer["rateLimits"] = rate_limits
        if rule.extra:
            answer.update(rule.extra)
        return answer

    def _login(self, request: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """
        Check a LOGIN; return the API key it logs in with, or :obj:`None`,
        and the answer to send.

        """
        params = request.get("params")
        code, msg = -1022, "Signature for this request is not valid."
        key = None
        if not isinstance(params, list) or len(params) != 3:
            code, msg = -1102, "LOGIN takes [apiKey, timestamp, signature]."
        elif not all(isinstance(param, str) for param in params):
            code, msg = -1100, "Illegal characters found in a parameter."
        elif params[0] not in self.credentials:
            code, msg = -2014, "API-key format invalid."
        elif not params[1].isdigit():
            code, msg = -1100, "Illegal characters found in parameter 'timestamp'."
        elif abs(int(params[1]) - self.server_time()) > LOGIN_WINDOW_MS:
            code, msg = -1021, "Timestamp for this request is outside of the recvWindow."
        else:
            expected = sign_login(self.credentials[params[0]], int(params[1]))
            if hmac.compare_digest(expected, params[2]):
                key = params[0]
        if self.login_answer == "ack":
            if key is not None:
                return key, {"code": 0, "msg": "", "id": request["id"]}
            return None, {"code": code, "msg": msg, "id": request["id"]}
        if key is not None:
            return key, {"id": request["id"], "status": 200, "result": {}}
        return None, {"id": request["id"], "status": 401, "error": error(code, msg)}

    def _acknowledge(
        self, subscribed: set[str], request: dict[str, Any], logged_in: bool
    ) -> tuple[list[str], dict[str, Any]]:
        """
        Apply a SUBSCRIBE or UNSUBSCRIBE to ``subscribed``, the topics of a
        connection (logged in or not); return the topics newly accepted and
        the ack to send.

        """
        params = request.get("params")
        topics = [str(topic) for topic in params] if isinstance(params, list) else []
        failed = [
            topic
            for topic in topics
            if not self.market.known(topic)
            or (topic in (PRIVATE, FUTURES_PRIVATE) and not logged_in)
        ]
        ok = [topic for topic in topics if topic not in failed]
        if request["method"] == "SUBSCRIBE":
            subscribed.update(ok)
        else:
            subscribed.difference_update(topics)
            ok = []
        if failed or not topics:
            return ok, {"code": -1, "msg": "Invalid topic.", "topic": failed, "id": request["id"]}
        return ok, {"code": 0, "msg": "", "topic": [], "id": request["id"]}

    def _events(self, topic: str, count: int, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """
        ``count`` new events of ``topic``, stepping the market as needed,
        with ``fields`` replacing theirs.

        """
        parts = parse(topic)
        if parts is None or not self.market.known(topic):
            raise ValueError(f"the emulator serves no topic {topic!r}")
        events: list[dict[str, Any]] = []
        with self._emulator_lock:
            if parts.kind == "private":
                # Account events come when something happens: a zero
                # balance change is the smallest thing that can.
                while len(events) < count:
                    if parts.futures:
                        events.append(self.market.account_update("USDT", 0))
                    else:
                        events.append(self.market.balance_update("USDT", 0))
            else:
                for _ in range(_STEPS_PER_TRADE * count):
                    if len(events) >= count:
                        break
                    self.market.step()
                    events += self.market.frames(topic)[: count - len(events)]
        for event in events:
            event.update(fields)
        return events

    def order(
        self, symbol: str = "BTC-USDT", side: str = "BUY", quantity: str = "0.001"
    ) -> list[dict[str, Any]]:
        """
        Fill a market order at the last trade's price, as the account's own:
        return its ``s_private`` events, ``ORDER_UPDATE`` NEW then FILLED,
        and the ``BALANCE_UPDATE`` of each asset it moved.

        Raises:
            ValueError: If the symbol is unknown, the side is not BUY or
                SELL, or a balance would go below zero.

        """
        if side not in ("BUY", "SELL"):
            raise ValueError(f"side must be BUY or SELL, not {side!r}")
        base, quote = symbol.split("-", 1)
        with self._emulator_lock:
            price = Decimal(self.market.frame(f"s_trade@{symbol}")["p"])
            cost = (price * Decimal(quantity)).quantize(Decimal("0.00000001"))
            placed = self.market.order_update(
                symbol, side, quantity, order_type="MARKET", time_in_force="IOC"
            )
            # What the order spends first: it must suffice.
            changes = [(quote, -cost), (base, Decimal(quantity))]
            if side == "SELL":
                changes = [(base, -Decimal(quantity)), (quote, cost)]
            balances = [self.market.balance_update(asset, delta) for asset, delta in changes]
            filled = self.market.order_update(
                symbol,
                side,
                quantity,
                str(price),
                order_type="MARKET",
                status="FILLED",
                filled=quantity,
                time_in_force="IOC",
                client_order_id=placed["C"],
                order_id=placed["i"],
            )
        return [placed, filled, *balances]

    def _step(self, topics: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """
        Step the market; return the new frames of each subscribed topic:
        market data each step, and, every ``PRIVATE_EVERY`` steps, an order
        of the account (``s_private``) or a funding fee (``f_private``).

        """
        with self._emulator_lock:
            self.market.step()
            self._steps += 1
            account = self._steps % PRIVATE_EVERY == 0
            frames = {}
            for topic in topics:
                parts = parse(topic)
                if parts is not None and parts.kind != "private":
                    frames[topic] = self.market.frames(topic)
        if account and PRIVATE in topics:
            side = "BUY" if self._steps // PRIVATE_EVERY % 2 else "SELL"
            frames[PRIVATE] = self.order(side=side)
        if account and FUTURES_PRIVATE in topics:
            with self._emulator_lock:
                frames[FUTURES_PRIVATE] = [
                    self.market.account_update("USDT", "-0.01", reason="FUNDING_FEE")
                ]
        return frames

    def _rate_limits(self) -> list[dict[str, Any]]:
        if self.rate_limits is not None:
            return self.rate_limits
        minute = int(time.time() // 60)
        with self._emulator_lock:
            if minute != self._weight_minute:
                self._weight_minute = minute
                self._weight = 0
            self._weight += 1
            return [dict(DEFAULT_RATE_LIMIT, count=self._weight)]
