"""
Print snapshots of an order book: the best levels on each side.

    python examples/depth.py                           # the bundled test server
    python examples/depth.py ETH-USDT --scale 0.1 --levels 10 --url wss://...

Each snapshot replaces the whole book (BitTap sends the top levels in full
each time, not changes). Ends on Ctrl-C, or after ``--count`` snapshots.
Without ``--url`` it runs the bundled test server, which needs the testing
extra: ``pip install bittap-ws[testing]``.

"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator

from bittap_ws import BitTapError, Client, topics


@contextlib.contextmanager
def api_url(url: str | None) -> Iterator[str]:
    """Yield ``url``, or the URL of the bundled test server when it is None."""
    if url is not None:
        yield url
        return
    from bittap_ws.testing import run_server

    with run_server() as server:
        print(f"bundled test server at {server.url}")
        yield server.url


def show(book: dict) -> None:
    """Print ``book``, asks above bids, best prices in the middle."""
    print(f"{book['s']} scale {book['i']}, update {book['lastUpdateId']}")
    for price, quantity in reversed(book["asks"]):
        print(f"    ask {price:>14} {quantity:>12}")
    for price, quantity in book["bids"]:
        print(f"    bid {price:>14} {quantity:>12}")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("symbol", nargs="?", default="BTC-USDT")
    parser.add_argument("--scale", default="0.01", help="price aggregation step")
    parser.add_argument("--levels", type=int, default=5, help="levels per side")
    parser.add_argument("--url", help="WebSocket URL (default: run the bundled test server)")
    parser.add_argument("--count", type=int, help="stop after this many snapshots")
    args = parser.parse_args(argv)
    topic = topics.depth(args.symbol, args.scale, args.levels)

    try:
        with api_url(args.url) as url, Client(url) as client:
            # maxsize=1: only the latest snapshot matters.
            with client.subscribe(topic, maxsize=1) as books:
                for number, book in enumerate(books, 1):
                    show(book)
                    if number == args.count:
                        break
    except KeyboardInterrupt:
        pass
    except BitTapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
