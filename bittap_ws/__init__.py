"""
A synchronous, blocking client for the BitTap Spot WebSocket API.

"""

from __future__ import annotations

from .client import DEFAULT_URL, Client
from .errors import (
    ApiError,
    BitTapError,
    ConnectError,
    ConnectionClosed,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    SubscriptionError,
)
from .protocol import RateLimit, Response

__all__ = [
    "DEFAULT_URL",
    "Client",
    "Response",
    "RateLimit",
    "BitTapError",
    "ConnectError",
    "ConnectionClosed",
    "RequestTimeout",
    "ProtocolError",
    "ApiError",
    "ServerError",
    "RateLimitError",
    "SubscriptionError",
]

__version__ = "0.1.0"
