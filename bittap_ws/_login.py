"""
LOGIN: what opens the private streams, on one connection at a time.

BitTap's private topics (``s_private``, ``f_private``) need a ``LOGIN`` on
the connection first, with the API key, a timestamp in the server's time and
a signature of it. A new connection is a new session: :class:`Login` is the
session's first restoration step, so that after a reconnect it logs in again
before the streams subscribe again. A refusal then ends the private
subscriptions with :exc:`~bittap_ws.errors.AuthenticationError`; the public
ones resume.

The timestamp is the local clock plus the clock offset measured on the
connection (its first LOGIN measures it), since the server refuses a
timestamp more than about a minute off its own clock.

Neither the secret nor a signature is kept in a repr, put in an exception or
logged.

"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import attrs

from ._deadline import Deadline
from .auth import login_params, sign_login
from .errors import (
    ApiError,
    AuthenticationError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from .protocol import Response

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection
    from .streams import Streams

__all__ = ["Login", "measure_offset", "server_time"]

#: Sends a request on a connection: (method, params, conn, timeout).
Call = Callable[[str, Any, "Connection | None", float], Response]

# Round trips measured for the clock offset of a new connection.
OFFSET_SAMPLES = 3


def server_time(response: Response) -> int:
    """
    The ``serverTime`` of an answer to ``time``.

    Raises:
        ProtocolError: If the answer has no integer ``serverTime``.

    """
    result = response.result
    value = result.get("serverTime") if isinstance(result, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"time answered without serverTime: {result!r}")
    return value


def measure_offset(ask_time: Callable[[], int], samples: int) -> float:
    """
    The server clock minus the local clock, in milliseconds, from the
    ``samples`` round trips of ``ask_time`` with the smallest round trip,
    taking the server to have read its clock halfway through it.

    """
    best_rtt = float("inf")
    best_offset = 0.0
    for _ in range(samples):
        start_wall = time.time()
        start = time.perf_counter()
        server_ms = ask_time()
        rtt = time.perf_counter() - start
        if rtt < best_rtt:
            best_rtt = rtt
            best_offset = server_ms - (start_wall + rtt / 2) * 1000
    return best_offset


@attrs.define(eq=False, repr=False)
class Login:
    """
    Logs in with ``api_key`` and ``api_secret``, and does so again on every
    new connection that serves private subscriptions.

    """

    _call: Call
    _streams: Streams
    _timeout: float
    _api_key: str | None
    _api_secret: str | None
    _signer: Callable[[str, int], str] | None
    # The connection (by generation) logged in on, and the one the clock
    # offset was measured on.
    _generation: int = attrs.field(init=False, default=0)
    _offset_generation: int = attrs.field(init=False, default=0)
    _offset_ms: float = attrs.field(init=False, default=0.0)

    def __repr__(self) -> str:
        return f"<Login generation={self._generation}>"

    # Public methods

    @property
    def configured(self) -> bool:
        """
        Whether there are credentials to log in with.

        """
        return self._api_key is not None and self._api_secret is not None

    def ensure(self, conn: Connection, deadline: Deadline) -> None:
        """
        Log in on ``conn`` unless it is logged in already.

        """
        if self._generation != conn.generation:
            self.login(conn, deadline)

    def login(self, conn: Connection, deadline: Deadline) -> None:
        """
        Send ``LOGIN`` on ``conn`` and wait for its answer.

        Raises:
            ValueError: If there are no credentials.
            AuthenticationError: If the server refuses.
            ConnectionClosed, RequestTimeout, RateLimitError, ServerError,
            ProtocolError: As for any request.

        """
        if self._api_key is None or self._api_secret is None:
            raise ValueError("LOGIN needs the client's api_key and api_secret")
        if self._offset_generation != conn.generation:
            self._offset_ms = measure_offset(
                lambda: server_time(self._call("time", None, conn, deadline.left())),
                OFFSET_SAMPLES,
            )
            self._offset_generation = conn.generation
        timestamp = int(time.time() * 1000 + self._offset_ms)
        signer = sign_login if self._signer is None else self._signer
        signature = signer(self._api_secret, timestamp)
        if not isinstance(signature, str):
            raise TypeError(f"signer must return a str, not {type(signature).__name__}")
        params = login_params(self._api_key, timestamp, signature)
        try:
            self._call("LOGIN", params, conn, deadline.left())
        except ApiError as exc:
            # A server that echoes what it was sent must not leak it
            # through us: scrub the error in place, its context included.
            self._scrub(exc, signature)
            if isinstance(exc, (RateLimitError, ServerError)):
                raise  # not a refusal of the credentials
            # The ack shape (code != 0) arrives as a SubscriptionError.
            error = AuthenticationError(
                exc.status,
                exc.code,
                exc.msg,
                data=exc.data,
                method="LOGIN",
                request_id=exc.request_id,
                rate_limits=exc.rate_limits,
            )
            raise error from None
        self._generation = conn.generation

    # Restoration step (see bittap_ws.session.Step)

    def wanted(self) -> bool:
        """
        Tell whether a private subscription needs a LOGIN.

        """
        return self.configured and self._streams.has_private()

    def restore(self, conn: Connection) -> None:
        """
        Log in on ``conn`` if private subscriptions are open; if the server
        refuses, end them with the refusal.

        """
        if not self.wanted():
            return
        try:
            self.ensure(conn, Deadline(self._timeout))
        except AuthenticationError as exc:
            self._streams.fail_private(exc)

    def give_up(self, error: Exception) -> None:
        """
        Nothing to do: the streams step ends the subscriptions.

        """

    def after_fork(self) -> None:
        """
        Forget the parent's connection.

        """
        self._generation = 0
        self._offset_generation = 0

    # Private methods

    def _scrub(self, error: ApiError, signature: str) -> None:
        secrets = [secret for secret in (self._api_secret, signature) if secret]
        error.msg = _scrubbed(error.msg, secrets)
        try:
            error.data = _scrubbed(error.data, secrets)
        except RecursionError:
            error.data = None  # nested deeper than anything worth keeping
        error.args = (error.status, error.code, error.msg)


def _scrubbed(value: Any, secrets: list[str]) -> Any:
    # ``value`` with every secret in its strings replaced by ***.
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {_scrubbed(k, secrets): _scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrubbed(item, secrets) for item in value)
    return value
