"""
Watch your own orders and balances on the private stream.

    python examples/order_monitor.py                   # the bundled test server
    BITTAP_API_KEY=... BITTAP_API_SECRET=... \\
        python examples/order_monitor.py --url wss://stream.bittap.com/endpoint?format=JSON

The client logs in with the key and secret from the environment before it
subscribes to ``s_private``, and again after every reconnect. Ends on
Ctrl-C, or after ``--count`` events. Without ``--url`` it runs the bundled
test server with demo credentials, where the account trades by itself; it
needs the testing extra: ``pip install bittap-ws[testing]``.

"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Iterator

from bittap_ws import AuthenticationError, BitTapError, Client, topics

DEMO_KEY, DEMO_SECRET = "demo-key", "demo-secret"


@contextlib.contextmanager
def api_url(url: str | None) -> Iterator[str]:
    """Yield ``url``, or the URL of a bundled test server that knows the demo key."""
    if url is not None:
        yield url
        return
    from bittap_ws.testing import run_server

    with run_server(credentials={DEMO_KEY: DEMO_SECRET}, stream_rate=50) as server:
        print(f"bundled test server at {server.url}")
        os.environ.setdefault("BITTAP_API_KEY", DEMO_KEY)
        os.environ.setdefault("BITTAP_API_SECRET", DEMO_SECRET)
        yield server.url


def describe(event: dict) -> str:
    """One line for an account event."""
    if event.get("c") == "ORDER_UPDATE":
        return (
            f"order {event['i']} {event['S']} {event['q']} {event['s']} "
            f"{event['o']} -> {event['X']} (filled {event['z']} at {event['p']})"
        )
    if event.get("c") == "BALANCE_UPDATE":
        return f"balance {event['a']}: {event['d']} (free {event['f']}, locked {event['l']})"
    return f"event {event}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--url", help="WebSocket URL (default: run the bundled test server)")
    parser.add_argument("--count", type=int, help="stop after this many events")
    args = parser.parse_args(argv)

    try:
        with api_url(args.url) as url:
            key = os.environ.get("BITTAP_API_KEY")
            secret = os.environ.get("BITTAP_API_SECRET")
            if not key or not secret:
                print("error: set BITTAP_API_KEY and BITTAP_API_SECRET", file=sys.stderr)
                return 1
            with Client(url, api_key=key, api_secret=secret) as client:
                with client.subscribe(topics.PRIVATE) as account:
                    print("logged in; watching the account", flush=True)
                    for number, event in enumerate(account, 1):
                        print(describe(event), flush=True)
                        if number == args.count:
                            break
    except KeyboardInterrupt:
        pass
    except AuthenticationError as exc:
        print(f"error: LOGIN refused: {exc.msg} (code {exc.code})", file=sys.stderr)
        return 1
    except BitTapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
