"""
Exceptions raised by bittap-ws.

Every exception the client raises on purpose derives from :exc:`BitTapError`::

    BitTapError
    ├── ConnectError            could not open the connection
    ├── ConnectionClosed        the connection ended before the answer came
    ├── RequestTimeout          no answer within the timeout (also a TimeoutError)
    ├── EventTimeout            no stream event within the timeout (also a TimeoutError)
    ├── ProtocolError           an answer to our request that cannot be understood
    └── ApiError                the server answered with a status other than 200
        ├── ServerError         status >= 500: the outcome is unknown
        ├── RateLimitError      status 429 or 418, or refused by the local guard
        ├── SubscriptionError   a SUBSCRIBE acknowledged with a non-zero code
        └── AuthenticationError a LOGIN refused: bad key, signature or timestamp

Misuse of the API by the caller raises the usual built-in exceptions
(:exc:`ValueError`, :exc:`TypeError`) instead.

This module imports nothing from the rest of the package.

"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BitTapError",
    "ConnectError",
    "ConnectionClosed",
    "RequestTimeout",
    "EventTimeout",
    "ProtocolError",
    "ApiError",
    "ServerError",
    "RateLimitError",
    "SubscriptionError",
    "AuthenticationError",
]


def show_method(method: str) -> str:
    """
    Return ``method`` as it may appear in a message: as it is when every
    character is printable, else as its :func:`repr`, so that control
    characters sent by mistake or by malice cannot forge lines of a log or
    rewrite a terminal.

    """
    return method if method.isprintable() else repr(method)


class BitTapError(Exception):
    """
    Base class for every exception raised by bittap-ws.

    """


class ConnectError(BitTapError):
    """
    Raised when the client cannot open a connection.

    The cause (refused, DNS failure, TLS failure, failed handshake, timeout)
    is attached as ``__cause__``.

    """


class ConnectionClosed(BitTapError):
    """
    Raised when the connection ended before an answer came, or when the
    client was closed.

    Attributes:
        code: The close code sent by the server, if it sent a close frame.
        reason: The close reason sent by the server, if it sent a close frame.

    The request may or may not have reached the server: it is never re-sent.

    """

    def __init__(
        self, message: str, *, code: int | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class RequestTimeout(BitTapError, TimeoutError):
    """
    Raised when no answer came within the timeout.

    Attributes:
        method: The method of the request.
        request_id: The id of the request.
        timeout: The timeout, in seconds.

    An answer that arrives later is dropped.

    """

    def __init__(self, method: str, request_id: str, timeout: float) -> None:
        # Bypass OSError's (errno, strerror) interpretation of two arguments.
        super().__init__(f"no answer to {show_method(method)} within {timeout:g} s")
        self.method = method
        self.request_id = request_id
        self.timeout = timeout

    def __str__(self) -> str:
        return f"no answer to {show_method(self.method)} within {self.timeout:g} s"


class EventTimeout(BitTapError, TimeoutError):
    """
    Raised by :meth:`Subscription.get` when no event came within the timeout.

    Attributes:
        topics: The topics of the subscription.
        timeout: The timeout, in seconds.

    The subscription stays open.

    """

    def __init__(self, topics: tuple[str, ...], timeout: float) -> None:
        super().__init__(f"no event within {timeout:g} s")
        self.topics = topics
        self.timeout = timeout

    def __str__(self) -> str:
        return f"no event on {', '.join(self.topics)} within {self.timeout:g} s"


class ProtocolError(BitTapError):
    """
    Raised when the answer to a request cannot be understood.

    The connection stays usable: the problem is confined to one answer.

    """


class ApiError(BitTapError):
    """
    Raised when the server answers a request with a status other than 200.

    Attributes:
        status: The HTTP-like status of the answer.
        code: The error code from the ``error`` object, or :obj:`None`.
        msg: The error message from the ``error`` object.
        data: The ``data`` object of the error, or :obj:`None`.
        method: The method of the request.
        request_id: The id of the request, or :obj:`None` when the server
            answered with ``id: null``.
        rate_limits: The ``rateLimits`` carried by the answer, as a tuple of
            :class:`~bittap_ws.RateLimit`.

    The connection stays usable.

    """

    def __init__(
        self,
        status: int,
        code: int | None,
        msg: str,
        *,
        data: Any = None,
        method: str = "",
        request_id: str | None = None,
        rate_limits: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(status, code, msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.data = data
        self.method = method
        self.request_id = request_id
        self.rate_limits = rate_limits

    def __str__(self) -> str:
        code = "" if self.code is None else f" code {self.code}"
        msg = f": {self.msg}" if self.msg else ""
        method = show_method(self.method) if self.method else "request"
        return f"{method} failed with status {self.status}{code}{msg}"


class ServerError(ApiError):
    """
    Raised when the server answers with a status of 500 or more.

    The outcome of the request is unknown: the server may have executed it.
    Check the state on the server before you retry anything that is not
    idempotent.

    """


class RateLimitError(ApiError):
    """
    Raised when the server answers with status 429 (rate limited) or 418 (IP
    banned), or when the client refuses a call locally to stay within the
    limits the server announced.

    Attributes:
        retry_after: Seconds from when the error was raised until the server
            allows requests again, or :obj:`None` when unknown. It comes
            from the answer's ``retryAfter`` (in the error's ``data`` or at
            the top level), or from the local guard.

    A call refused locally was not sent: its status is 429, its ``code``
    :obj:`None` and its ``request_id`` :obj:`None`.

    """

    def __init__(
        self,
        status: int,
        code: int | None,
        msg: str,
        *,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(status, code, msg, **kwargs)
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = super().__str__()
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:.3f} s)"
        return text


class SubscriptionError(ApiError):
    """
    Raised when the server acknowledges a SUBSCRIBE with a non-zero code.

    Attributes:
        topics: The topics the server refused.

    """

    def __init__(
        self,
        status: int,
        code: int | None,
        msg: str,
        *,
        topics: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(status, code, msg, **kwargs)
        self.topics = topics

    def __str__(self) -> str:
        return f"{super().__str__()} (topics: {', '.join(self.topics) or 'none'})"


class AuthenticationError(ApiError):
    """
    Raised when the server refuses a ``LOGIN``: an unknown API key, a bad
    signature, or a timestamp too far from the server's clock.

    ``status`` is the answer's status, or 400 when the server answered in
    the acknowledgement shape (``code`` and ``msg``, no status). Neither the
    secret nor the signature is ever part of the error. The connection stays
    usable.

    """
