"""
The account behind the market model's private streams: spot balances, the
futures wallet and order ids, and the ``BALANCE_UPDATE`` and
``ORDER_UPDATE`` events of ``s_private`` and the ``ACCOUNT_UPDATE`` events
of ``f_private`` that report them.

BitTap does not list the fields of the futures ``ACCOUNT_UPDATE``: they
follow Binance's USD-M futures streams, the closest reference where BitTap
is silent: ``e, c, E, T`` and ``a`` holding ``m`` (reason), ``B`` (balances:
``a`` asset, ``wb`` wallet balance, ``cw`` cross wallet balance, ``bc``
balance change) and ``P`` (positions; this model holds none).

The account is pure: it does no I/O, and reads its clock once per event,
after the event's arguments have been checked.

"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Union

import attrs

from .. import topics
from ._symbols import SymbolSpec

__all__ = ["Amount", "Account"]

#: What the private events accept as an amount.
Amount = Union[str, Decimal, int]

# Balances and wallets are written with this many decimals.
_ASSET_DECIMALS = 8
_SIDES = ("BUY", "SELL")
_ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
_ORDER_STATUSES = ("NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED")
_TIMES_IN_FORCE = ("GTC", "IOC", "FOK")

#: The spot and futures balances a new account starts with.
_SPOT_BALANCES = {"USDT": "10000", "BTC": "1", "ETH": "10"}
_FUTURES_WALLET = {"USDT": "10000"}


@attrs.define(eq=False)
class Account:
    """
    Balances, a futures wallet and order ids, changed by the events that
    report them; :class:`~bittap_ws.testing.Market` documents each event.

    Args:
        event_time: The clock of the events, in milliseconds since the
            epoch, read once per event.

    """

    event_time: Callable[[], int] = attrs.field(repr=False)
    _balances: dict[str, list[Decimal]] = attrs.field(init=False, repr=False, factory=dict)
    _balance_version: int = attrs.field(init=False, repr=False, default=0)
    _wallet: dict[str, Decimal] = attrs.field(init=False, repr=False, factory=dict)
    _order_id: int = attrs.field(init=False, repr=False, default=0)

    def __attrs_post_init__(self) -> None:
        for asset, amount in _SPOT_BALANCES.items():
            self._balances[asset] = [Decimal(amount), Decimal(0)]
        for asset, amount in _FUTURES_WALLET.items():
            self._wallet[asset] = Decimal(amount)

    def balance_update(self, asset: str, delta: Amount) -> dict[str, Any]:
        """Change a spot balance; as :meth:`Market.balance_update`."""
        _check_asset(asset)
        change = _amount(delta, _ASSET_DECIMALS, "delta", signed=True)
        free, locked = self._balances.get(asset, [Decimal(0), Decimal(0)])
        if free + change < 0:
            raise ValueError(f"{asset} free balance {free} cannot fall by {-change}")
        self._balances[asset] = [free + change, locked]
        self._balance_version += 1
        now = self.event_time()
        return {
            "e": topics.PRIVATE,
            "c": "BALANCE_UPDATE",
            "E": now,
            "T": now,
            "a": asset,
            "d": _fmt_decimal(change, _ASSET_DECIMALS),
            "f": _fmt_decimal(free + change, _ASSET_DECIMALS),
            "l": _fmt_decimal(locked, _ASSET_DECIMALS),
            "v": self._balance_version,
        }

    def order_update(
        self,
        spec: SymbolSpec,
        side: str,
        quantity: Amount,
        price: Amount,
        *,
        order_type: str,
        status: str,
        filled: Amount,
        time_in_force: str,
        client_order_id: str | None,
        order_id: int | None,
        reject_reason: str,
    ) -> dict[str, Any]:
        """An order of the spot symbol ``spec``; as :meth:`Market.order_update`."""
        for name, value, allowed in (
            ("side", side, _SIDES),
            ("order_type", order_type, _ORDER_TYPES),
            ("status", status, _ORDER_STATUSES),
            ("time_in_force", time_in_force, _TIMES_IN_FORCE),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        qty = _amount(quantity, spec.qty_decimals, "quantity")
        done = _amount(filled, spec.qty_decimals, "filled")
        limit = _amount(price, spec.price_decimals, "price")
        if qty <= 0 or done > qty:
            raise ValueError("quantity must be positive and filled at most quantity")
        if order_id is None:
            self._order_id += 1
            order_id = self._order_id
        elif isinstance(order_id, bool) or not isinstance(order_id, int):
            raise TypeError(f"order_id must be an int, not {type(order_id).__name__}")
        if client_order_id is None:
            client_order_id = f"order-{order_id}"
        elif not isinstance(client_order_id, str):
            raise TypeError("client_order_id must be a str")
        return {
            "e": topics.PRIVATE,
            "c": "ORDER_UPDATE",
            "E": self.event_time(),
            "s": spec.symbol,
            "C": client_order_id,
            "S": side,
            "o": order_type,
            "f": time_in_force,
            "q": _fmt_decimal(qty, spec.qty_decimals),
            "Q": _fmt_decimal(Decimal(0), spec.price_decimals),
            "p": _fmt_decimal(limit, spec.price_decimals),
            "X": status,
            "r": reject_reason,
            "i": order_id,
            "z": _fmt_decimal(done, spec.qty_decimals),
        }

    def account_update(self, asset: str, delta: Amount, *, reason: str) -> dict[str, Any]:
        """Change a futures wallet balance; as :meth:`Market.account_update`."""
        _check_asset(asset)
        change = _amount(delta, _ASSET_DECIMALS, "delta", signed=True)
        balance = self._wallet.get(asset, Decimal(0)) + change
        if balance < 0:
            raise ValueError(f"{asset} wallet cannot fall by {-change}")
        self._wallet[asset] = balance
        now = self.event_time()
        wallet = _fmt_decimal(balance, _ASSET_DECIMALS)
        return {
            "e": topics.FUTURES_PRIVATE,
            "c": "ACCOUNT_UPDATE",
            "E": now,
            "T": now,
            "a": {
                "m": reason,
                "B": [
                    {
                        "a": asset,
                        "wb": wallet,
                        "cw": wallet,
                        "bc": _fmt_decimal(change, _ASSET_DECIMALS),
                    }
                ],
                "P": [],
            },
        }


def _fmt_decimal(value: Decimal, decimals: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-decimals)), "f")


def _check_asset(asset: object) -> None:
    if not isinstance(asset, str):
        raise TypeError(f"asset must be a str, not {type(asset).__name__}")
    if not asset or not asset.isascii() or not asset.isalnum() or asset != asset.upper():
        raise ValueError(f"asset must be upper-case letters and digits, got {asset!r}")


def _amount(value: object, decimals: int, name: str, *, signed: bool = False) -> Decimal:
    # A decimal amount with at most ``decimals`` decimals.
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        raise TypeError(f"{name} must be a str, Decimal or int, not {type(value).__name__}")
    try:
        amount = Decimal(value)
        exact = amount.is_finite() and amount == amount.quantize(Decimal(1).scaleb(-decimals))
    except InvalidOperation:
        # Not a number, or too many digits to quantize.
        raise ValueError(f"{name} must be a decimal number, got {value!r}") from None
    if not exact:
        raise ValueError(f"{name} must be finite, with at most {decimals} decimals: {value!r}")
    if amount < 0 and not signed:
        raise ValueError(f"{name} must not be negative: {value!r}")
    return amount
