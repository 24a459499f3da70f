"""
Share one client between the threads of a pool.

Every worker calls ``time()`` on the same ``Client``. The client sends the
requests over its one connection and hands each thread its own answer,
whatever the order in which the answers come back.

    python examples/thread_pool.py                     # the bundled test server
    python examples/thread_pool.py --url wss://stream.bittap.com/endpoint?format=JSON

Without ``--url`` it runs the bundled test server, which needs the testing
extra: ``pip install bittap-ws[testing]``.

"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import statistics
import sys
import threading
import time
from typing import Iterator

from bittap_ws import BitTapError, Client


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
    parser.add_argument("--url", help="WebSocket URL (default: run the bundled test server)")
    parser.add_argument("--workers", type=int, default=8, help="threads in the pool")
    parser.add_argument("--calls", type=int, default=100, help="time() calls in all")
    args = parser.parse_args(argv)

    try:
        with api_url(args.url) as url, Client(url, timeout=10) as client:

            def call(_: int) -> tuple[str, float]:
                start = time.perf_counter()
                client.time()
                return threading.current_thread().name, time.perf_counter() - start

            with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
                results = list(pool.map(call, range(args.calls)))
            print(repr(client))
    except BitTapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    threads = collections.Counter(name for name, _ in results)
    rtts_ms = sorted(rtt * 1000 for _, rtt in results)
    print(f"{len(results)} calls from {len(threads)} threads over one connection")
    print(f"round trip: median {statistics.median(rtts_ms):.2f} ms, slowest {rtts_ms[-1]:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
