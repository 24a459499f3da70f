"""
A synchronous, blocking client for the BitTap Spot WebSocket API.

"""

from __future__ import annotations

import logging

from . import topics
from .auth import sign_login
from .client import DEFAULT_URL, Client
from .errors import (
    ApiError,
    AuthenticationError,
    BitTapError,
    ConnectError,
    ConnectionClosed,
    EventTimeout,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    SubscriptionError,
)
from .protocol import RateLimit, Response
from .streams import Subscription

__all__ = [
    "DEFAULT_URL",
    "Client",
    "Response",
    "RateLimit",
    "Subscription",
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
    "sign_login",
    "topics",
]

__version__ = "0.1.0"

# A library must not print to stderr in a program that configured no
# logging: without a handler of its own, Python's last-resort handler would
# print every WARNING. Configured handlers still receive every record.
logging.getLogger("bittap_ws").addHandler(logging.NullHandler())
