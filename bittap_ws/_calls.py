"""
The way of one call: the rate-limit guard, a connection from the session,
the request on it, and its answer mapped to a value or a typed exception.

"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence, Union

import attrs

from ._deadline import Deadline
from ._ratelimit import RateLimitGuard
from .connection import Connection, NotSent
from .errors import (
    ApiError,
    ConnectionClosed,
    ProtocolError,
    RateLimitError,
    ServerError,
    SubscriptionError,
    show_method,
)
from .protocol import Ack, BadReply, RateLimit, Reply, Response, encode_request, new_request_id
from .session import Session

__all__ = ["Calls"]

Params = Union[Mapping[str, Any], Sequence[Any], None]


@attrs.define(eq=False)
class Calls:
    """
    Sends requests through ``session`` and maps their answers.

    Attributes:
        rate_limits: The ``rateLimits`` of the latest answer that carried
            any; ``()`` before the first.

    """

    session: Session
    rate_limit_guard: bool
    guard: RateLimitGuard = attrs.field(init=False, factory=RateLimitGuard)
    rate_limits: tuple[RateLimit, ...] = attrs.field(init=False, default=())
    _rate_limits_sent_at: float = attrs.field(init=False, default=0.0)

    # Public methods

    def call(
        self,
        method: str,
        params: Params,
        timeout: float,
        conn: Connection | None = None,
    ) -> tuple[Response, Connection]:
        """
        Send a request and map its answer, on ``conn`` or the current
        connection, opened if needed; return the response and the
        connection used.

        A request that could not be written because the connection had
        already ended is tried once more, on a new connection, unless
        ``conn`` was given.

        """
        deadline = Deadline(timeout)
        request_id = new_request_id()
        text = encode_request(request_id, method, params)
        if self.rate_limit_guard:
            refusal = self.guard.check(time.time(), method)
            if refusal is not None:
                if self.session.closed:
                    # Closed says more than blocked: report that.
                    raise ConnectionClosed("the client is closed")
                raise refusal
        may_reconnect = conn is None
        if conn is None:
            conn = self.session.connection(deadline)
        sent_at = time.time()
        try:
            answer = conn.request(method, request_id, text, deadline, timeout)
        except NotSent:
            if not may_reconnect:
                raise
            # The connection ended before the request could be written: it
            # was not sent, so one more try on a new connection is safe.
            conn = self.session.connection(deadline)
            sent_at = time.time()
            answer = conn.request(method, request_id, text, deadline, timeout)
        return self._to_response(method, answer, sent_at), conn

    def call_on(
        self, method: str, params: Params, conn: Connection | None, timeout: float
    ) -> Response:
        """
        Send a request on ``conn``, or on the current connection when it is
        :obj:`None`; never open one.

        Raises:
            ConnectionClosed: If there is no open connection.

        """
        if conn is None:
            conn = self.session.current
            if conn is None:
                raise ConnectionClosed("not connected")
        return self.call(method, params, timeout, conn)[0]

    # Private methods

    def _to_response(self, method: str, answer: Any, sent_at: float) -> Response:
        if isinstance(answer, (Response, Reply)):
            if answer.rate_limits and sent_at >= self._rate_limits_sent_at:
                # Answers to concurrent calls may be mapped out of order:
                # keep those of the latest request.
                self._rate_limits_sent_at = sent_at
                self.rate_limits = answer.rate_limits
                if self.rate_limit_guard:
                    self.guard.update_from_rate_limits(answer.rate_limits, sent_at)
            if isinstance(answer, Response):
                # A status 200 answer, decoded as such.
                return answer
            raise self._api_error(method, answer)
        if isinstance(answer, Ack):
            if answer.code == 0:
                result = {"code": answer.code, "msg": answer.msg, "topic": list(answer.topics)}
                return Response(answer.id, 200, result, ())
            raise SubscriptionError(
                400,
                answer.code,
                answer.msg,
                topics=answer.topics,
                method=method,
                request_id=answer.id,
            )
        assert isinstance(answer, BadReply)
        raise ProtocolError(
            f"cannot understand the answer to {show_method(method)}: {answer.error}"
        ) from answer.error

    def _api_error(self, method: str, reply: Reply) -> ApiError:
        kwargs: dict[str, Any] = {
            "data": reply.data,
            "method": method,
            "request_id": reply.id,
            "rate_limits": reply.rate_limits,
        }
        if reply.status in (418, 429):
            retry_after = None
            if reply.retry_after_ms is not None:
                retry_after = self.guard.seconds_until(reply.retry_after_ms, time.time())
                if self.rate_limit_guard:
                    self.guard.update_from_retry_after(reply.retry_after_ms)
            return RateLimitError(
                reply.status, reply.code, reply.msg, retry_after=retry_after, **kwargs
            )
        if reply.status >= 500:
            return ServerError(reply.status, reply.code, reply.msg, **kwargs)
        return ApiError(reply.status, reply.code, reply.msg, **kwargs)
