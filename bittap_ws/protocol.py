"""
The BitTap wire format: request frames out (built by
:mod:`bittap_ws._encode`), answers in.

This module is pure: it turns Python values into JSON text and JSON text
into attrs values. It does no I/O and starts no threads, so every malformed
input can be tested without a socket.

:func:`decode` sorts every incoming text frame into one of:

* :class:`Response`: a successful answer (status 200) to a request, as the
  client hands it to its caller;
* :class:`Reply`: an answer to a request with another status;
* :class:`Ack`: the acknowledgement of a ``SUBSCRIBE`` or ``UNSUBSCRIBE``,
  with ``id`` and ``code``;
* :class:`BadReply`: a frame carrying a request id whose other fields cannot
  be understood; it is routed to the caller as a :exc:`ProtocolError`;
* :class:`Event`: a stream event, without ``id``, with a topic in ``e``;
* :class:`Unroutable`: anything else; the caller logs it and moves on.

"""

from __future__ import annotations

from typing import Any, Union

import attrs

from ._encode import REQUEST_ID_PATTERN, encode_request, new_request_id
from ._json import loads as _loads
from .errors import ProtocolError

__all__ = [
    "RateLimit",
    "Response",
    "Reply",
    "Ack",
    "BadReply",
    "Event",
    "Unroutable",
    "Decoded",
    "new_request_id",
    "encode_request",
    "decode",
    "parse_rate_limits",
    "REQUEST_ID_PATTERN",
]


@attrs.frozen
class RateLimit:
    """
    One rate limit reported by the server in ``rateLimits``.

    Attributes:
        rate_limit_type: What is counted, e.g. ``"REQUEST_WEIGHT"``.
        interval: The unit of the window: ``"SECOND"``, ``"MINUTE"``,
            ``"HOUR"`` or ``"DAY"``.
        interval_num: How many units the window spans.
        limit: The most the server allows in one window.
        count: How much of the limit the current window has used.

    """

    rate_limit_type: str
    interval: str
    interval_num: int
    limit: int
    count: int


@attrs.frozen
class Response:
    """
    A successful answer (status 200) to a request.

    Attributes:
        id: The id of the request.
        status: The status of the answer, 200.
        result: The ``result`` of the answer, decoded from JSON, or
            :obj:`None` when the answer had none.
        rate_limits: The ``rateLimits`` carried by the answer.

    """

    id: str
    status: int
    result: Any
    rate_limits: tuple[RateLimit, ...] = ()


@attrs.frozen
class Reply:
    """
    An answer to a request with a status other than 200 (a status 200
    answer decodes into a :class:`Response`).

    ``error`` holds the ``error`` object of a failed request: ``code``,
    ``msg`` and ``data`` are lifted out of it. ``retry_after_ms`` is the
    ``retryAfter`` epoch-milliseconds value, from ``error.data`` or from the
    top level, when the server sent one.

    """

    id: str
    status: int
    result: Any = None
    code: int | None = None
    msg: str = ""
    data: Any = None
    rate_limits: tuple[RateLimit, ...] = ()
    retry_after_ms: int | None = None


@attrs.frozen
class Ack:
    """
    The acknowledgement of a ``SUBSCRIBE`` or ``UNSUBSCRIBE``.

    ``code`` 0 means success; ``topics`` lists the topics that failed.

    """

    id: str
    code: int
    msg: str = ""
    topics: tuple[str, ...] = ()


@attrs.frozen
class BadReply:
    """
    A frame addressed to request ``id`` that cannot be understood.

    """

    id: str
    error: ProtocolError = attrs.field(eq=False)


@attrs.frozen
class Event:
    """
    A stream event: ``topic`` is its ``e`` field, ``data`` the whole frame.

    """

    topic: str
    data: dict[str, Any] = attrs.field(eq=False, repr=False)


@attrs.frozen
class Unroutable:
    """
    A frame that belongs to nobody, with the reason why.

    """

    reason: str
    text: str = attrs.field(repr=False)


Decoded = Union[Response, Reply, Ack, BadReply, Event, Unroutable]


def parse_rate_limits(value: Any) -> tuple[RateLimit, ...]:
    """
    Parse a ``rateLimits`` list.

    Raises:
        ProtocolError: If it is not a list of well-formed rate limits.

    """
    if not isinstance(value, list):
        raise ProtocolError(f"rateLimits must be a list, not {type(value).__name__}")
    limits = []
    for item in value:
        try:
            rate_limit_type = item["rateLimitType"]
            interval = item["interval"]
            interval_num = item["intervalNum"]
            limit = item["limit"]
            count = item["count"]
        except (KeyError, TypeError) as exc:
            raise ProtocolError(f"malformed rate limit: {item!r}") from exc
        # The exact types JSON gives pass at once; anything else goes
        # through _expect(), which accepts subclasses other than bool.
        if not (
            type(rate_limit_type) is str
            and type(interval) is str
            and type(interval_num) is int
            and type(limit) is int
            and type(count) is int
        ):
            try:
                _expect(rate_limit_type, str)
                _expect(interval, str)
                _expect(interval_num, int)
                _expect(limit, int)
                _expect(count, int)
            except TypeError as exc:
                raise ProtocolError(f"malformed rate limit: {item!r}") from exc
        limits.append(RateLimit(rate_limit_type, interval, interval_num, limit, count))
    return tuple(limits)


def _expect(value: Any, kind: type) -> Any:
    # bool is a subclass of int; JSON true is never a valid count.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def decode(text: str | bytes) -> Decoded:
    """
    Sort one text frame received from the server.

    This never raises: whatever the server sends, the result says where it
    goes. See the module docstring for the possible results.

    """
    try:
        frame = _loads(text)
    # JSONDecodeError, UnicodeDecodeError, orjson's errors; RecursionError
    # for absurdly deep nesting with the stdlib parser.
    except (ValueError, RecursionError):
        return Unroutable("not JSON", _as_text(text))
    if not isinstance(frame, dict):
        return Unroutable("not a JSON object", _as_text(text))

    request_id = frame.get("id")
    if request_id is None:
        topic = frame.get("e")
        if isinstance(topic, str):
            return Event(topic, frame)
        if "id" in frame:
            return Unroutable("id is null", _as_text(text))
        return Unroutable("no id", _as_text(text))
    if not isinstance(request_id, str):
        # This client only sends string ids.
        return Unroutable("id is not a string", _as_text(text))

    try:
        if "status" in frame:
            return _decode_reply(request_id, frame)
        if "code" in frame:
            return _decode_ack(request_id, frame)
        raise ProtocolError("answer has neither status nor code")
    except ProtocolError as exc:
        return BadReply(request_id, exc)


def _decode_reply(request_id: str, frame: dict[str, Any]) -> Response | Reply:
    status = frame["status"]
    if not isinstance(status, int) or isinstance(status, bool):
        raise ProtocolError(f"status must be an integer, not {status!r}")
    rate_limits: tuple[RateLimit, ...] = ()
    rate_limits_value = frame.get("rateLimits")
    if rate_limits_value is not None:
        rate_limits = parse_rate_limits(rate_limits_value)
    if status == 200:
        return Response(request_id, status, frame.get("result"), rate_limits)

    code: int | None = None
    msg = ""
    data: Any = None
    error = frame.get("error")
    if isinstance(error, dict):
        if isinstance(error.get("code"), int):
            code = error["code"]
        if isinstance(error.get("msg"), str):
            msg = error["msg"]
        data = error.get("data")
    elif isinstance(error, str):
        msg = error
    retry_after = None
    if isinstance(data, dict):
        retry_after = data.get("retryAfter")
    if retry_after is None:
        retry_after = frame.get("retryAfter")
    if not isinstance(retry_after, int) or isinstance(retry_after, bool):
        retry_after = None
    return Reply(
        request_id,
        status,
        code=code,
        msg=msg,
        data=data,
        rate_limits=rate_limits,
        retry_after_ms=retry_after,
    )


def _decode_ack(request_id: str, frame: dict[str, Any]) -> Ack:
    code = frame["code"]
    if not isinstance(code, int) or isinstance(code, bool):
        raise ProtocolError(f"code must be an integer, not {code!r}")
    msg = frame.get("msg")
    topics = frame.get("topic")
    if isinstance(topics, str):
        topics = [topics]
    elif not isinstance(topics, list):
        topics = []
    return Ack(
        request_id,
        code,
        msg if isinstance(msg, str) else "",
        tuple(str(topic) for topic in topics),
    )


def _as_text(text: str | bytes) -> str:
    if isinstance(text, str):
        return text
    return text.decode("utf-8", "replace")
