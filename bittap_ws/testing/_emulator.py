"""
What the bundled server says, as BitTap would: answers to requests,
acknowledgements of subscriptions, stream events and rate limits.

Nothing here touches a socket: :class:`BitTap` turns a decoded request
into the frame to send back, and the server sends it.

"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import attrs

from ._faults import Rule

__all__ = ["BitTap", "DEFAULT_RATE_LIMIT", "TOPIC_PATTERN", "error"]

#: Topics the server knows: trades, tickers and depth of any symbol.
TOPIC_PATTERN = re.compile(r"^s_(trade|ticker|depth[0-9]+)@[A-Z0-9]+-[A-Z0-9]+(_[0-9.]+)?$")

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
        stream_rate: Events per second published to each subscribed topic
            of each connection; 0 publishes none (see ``publish()``).

    """

    clock_offset_ms: int = attrs.field(default=0, kw_only=True)
    rate_limits: list[dict[str, Any]] | None = attrs.field(default=None, kw_only=True)
    stream_rate: float = attrs.field(default=10.0, kw_only=True)
    # _emulator_lock guards the counters below.
    _emulator_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)
    _sequences: dict[str, int] = attrs.field(init=False, factory=dict, repr=False)
    _weight: int = attrs.field(init=False, default=0, repr=False)
    _weight_minute: int = attrs.field(init=False, default=0, repr=False)

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

    def _acknowledge(
        self, subscribed: set[str], request: dict[str, Any]
    ) -> tuple[list[str], dict[str, Any]]:
        """
        Apply a SUBSCRIBE or UNSUBSCRIBE to ``subscribed``, the topics of a
        connection; return the topics newly accepted and the ack to send.

        """
        params = request.get("params")
        topics = [str(topic) for topic in params] if isinstance(params, list) else []
        failed = [topic for topic in topics if not TOPIC_PATTERN.match(topic)]
        ok = [topic for topic in topics if topic not in failed]
        if request["method"] == "SUBSCRIBE":
            subscribed.update(ok)
        else:
            subscribed.difference_update(topics)
            ok = []
        if failed or not topics:
            return ok, {"code": -1, "msg": "Invalid topic.", "topic": failed, "id": request["id"]}
        return ok, {"code": 0, "msg": "", "topic": [], "id": request["id"]}

    def _event(self, topic: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._emulator_lock:
            sequence = self._sequences[topic] = self._sequences.get(topic, 0) + 1
        event: dict[str, Any] = {"e": topic, "E": self.server_time(), "n": sequence}
        if topic.startswith("s_trade@"):
            event.update(s=topic.split("@", 1)[1], p="50000.00", q="0.010", m=False)
        event.update(fields)
        return event

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
