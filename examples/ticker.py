"""
A live ticker in the terminal: the 24 h ticker of one or more pairs.

    python examples/ticker.py                          # the bundled test server
    python examples/ticker.py BTC-USDT ETH-USDT --url wss://stream.bittap.com/endpoint?format=JSON

Ends on Ctrl-C, or after ``--count`` updates. Without ``--url`` it runs the
bundled test server, which needs the testing extra:
``pip install bittap-ws[testing]``.

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("symbols", nargs="*", default=["BTC-USDT", "ETH-USDT"])
    parser.add_argument("--url", help="WebSocket URL (default: run the bundled test server)")
    parser.add_argument("--count", type=int, help="stop after this many updates")
    args = parser.parse_args(argv)
    wanted = [topics.ticker(symbol) for symbol in args.symbols]

    try:
        with api_url(args.url) as url, Client(url) as client:
            with client.subscribe(*wanted) as tickers:
                for number, ticker in enumerate(tickers, 1):
                    print(
                        f"{ticker['s']:<10} {ticker['c']:>12}  {ticker['P']:>7}%  "
                        f"24h high {ticker['h']}  low {ticker['l']}",
                        flush=True,
                    )
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
