"""
The ``bittap-ws`` command: ``ping``, ``time``, ``stream``, ``login``,
``serve`` and ``demo``.

Credentials come from the environment, ``BITTAP_API_KEY`` and
``BITTAP_API_SECRET``, never from the command line, where other users of the
machine can read them.

Also runs as ``python -m bittap_ws``. Results go to standard output, as text
or, with ``--json``, as one JSON object per line. A failure prints one line
to standard error, without a traceback, and exits with status 1.

"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Sequence

from ._display import describe
from ._redact import redact_url
from .client import DEFAULT_URL, Client
from .errors import BitTapError

__all__ = ["main"]


def _iso(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(data))
    else:
        print(text)


def _ping(args: argparse.Namespace) -> None:
    with Client(args.url, timeout=args.timeout, connect_timeout=args.timeout) as client:
        start = time.perf_counter()
        client.ping()
        rtt_ms = (time.perf_counter() - start) * 1000
    _print(args, {"url": redact_url(args.url), "rtt_ms": round(rtt_ms, 3)}, f"pong in {rtt_ms:.2f} ms")


def _time(args: argparse.Namespace) -> None:
    with Client(args.url, timeout=args.timeout, connect_timeout=args.timeout) as client:
        server_time = client.time()
        offset = client.clock_offset()
    data = {"server_time": server_time, "iso": _iso(server_time), "clock_offset_ms": round(offset, 3)}
    _print(args, data, f"server time {_iso(server_time)} (clock offset {offset:+.1f} ms)")


def _client(args: argparse.Namespace) -> Client:
    return Client(
        args.url,
        timeout=args.timeout,
        connect_timeout=args.timeout,
        api_key=os.environ.get("BITTAP_API_KEY") or None,
        api_secret=os.environ.get("BITTAP_API_SECRET") or None,
    )


def _login(args: argparse.Namespace) -> None:
    client = _client(args)
    if client.api_key is None or client.api_secret is None:
        raise ValueError("set BITTAP_API_KEY and BITTAP_API_SECRET in the environment")
    with client:
        client.login()
    _print(args, {"url": redact_url(args.url), "login": "ok"}, "LOGIN succeeded")


def _stream(args: argparse.Namespace) -> None:
    if args.count is not None and args.count < 1:
        raise ValueError(f"--count must be at least 1, not {args.count}")
    client = _client(args)
    try:
        with client, client.subscribe(*args.topics) as subscription:
            for number, event in enumerate(subscription, 1):
                print(json.dumps(event) if args.json else describe(event), flush=True)
                if number == args.count:
                    break
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a stream ends


class _Stop(Exception):
    """
    Raised in the main thread by SIGTERM, to stop ``serve``.

    """


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def _serve(args: argparse.Namespace) -> None:
    from .testing import run_server

    with run_server(args.host, args.port) as server:
        # The URL comes first and alone, so that a script can read it.
        print(server.url, flush=True)
        print("serving; press Ctrl-C to stop", file=sys.stderr, flush=True)
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _raise_stop)
        try:
            while True:
                time.sleep(3600)
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _demo(args: argparse.Namespace) -> None:
    from .testing import run_server

    with run_server() as server:
        print(f"bundled BitTap-compatible server at {server.url}")
        with Client(server.url, timeout=args.timeout) as client:
            start = time.perf_counter()
            client.ping()
            print(f"ping() answered in {(time.perf_counter() - start) * 1000:.2f} ms")
            rtts = []
            for _ in range(5):
                start = time.perf_counter()
                server_time = client.time()
                rtts.append((time.perf_counter() - start) * 1000)
            print(f"time() says the server time is {_iso(server_time)}")
            print(
                "time() round trips: "
                + ", ".join(f"{rtt:.2f}" for rtt in rtts)
                + " ms"
            )
            limits = ", ".join(
                f"{limit.rate_limit_type} {limit.count}/{limit.limit} per "
                f"{limit.interval_num} {limit.interval}"
                for limit in client.rate_limits
            )
            print(f"rate limits: {limits}")
            print(f"clock offset: {client.clock_offset():+.2f} ms")
            with client.subscribe("s_trade@BTC-USDT") as trades:
                for event in itertools.islice(trades, 3):
                    print(describe(event))
            with client.subscribe("s_depth5@BTC-USDT_0.01") as books:
                book = books.get(timeout=args.timeout)
            print(describe(book))
            for side in ("asks", "bids"):
                levels = book[side] if side == "bids" else book[side][::-1]
                for price, quantity in levels:
                    print(f"    {side[:-1]:>4} {price:>12} {quantity:>10}")
            print(repr(client))
        print("closed cleanly")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bittap-ws", description="Talk to the BitTap WebSocket API."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (
        ("ping", _ping, "test connectivity"),
        ("time", _time, "print the server time and the clock offset"),
        ("login", _login, "check BITTAP_API_KEY and BITTAP_API_SECRET with a LOGIN"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(func=func)
        command.add_argument("--url", default=DEFAULT_URL, help="WebSocket URL")
        command.add_argument("--timeout", type=float, default=10.0, help="seconds")
        command.add_argument("--json", action="store_true", help="print JSON")
        command.add_argument(
            "-v", "--verbose", action="store_true", help="log the frames (secrets redacted)"
        )
    stream = commands.add_parser("stream", help="print the events of streams as they come")
    stream.set_defaults(func=_stream)
    stream.add_argument("topics", nargs="+", metavar="TOPIC", help="e.g. s_trade@BTC-USDT")
    stream.add_argument("--url", default=DEFAULT_URL, help="WebSocket URL")
    stream.add_argument("--timeout", type=float, default=10.0, help="seconds")
    stream.add_argument("--count", type=int, help="stop after this many events")
    stream.add_argument("--json", action="store_true", help="print each event as JSON")
    stream.add_argument(
        "-v", "--verbose", action="store_true", help="log the frames (secrets redacted)"
    )
    serve = commands.add_parser("serve", help="run the bundled test server")
    serve.set_defaults(func=_serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind")
    serve.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    demo = commands.add_parser("demo", help="run the client against the bundled server")
    demo.set_defaults(func=_demo)
    demo.add_argument("--timeout", type=float, default=10.0, help="seconds")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the command line; return the exit status.

    """
    args = _parser().parse_args(argv)
    if getattr(args, "verbose", False):
        logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("bittap_ws").setLevel(logging.DEBUG)
    try:
        args.func(args)
    except ImportError as exc:
        _fail(args, f"{exc} (pip install bittap-ws[testing])")
        return 1
    except (BitTapError, OSError, ValueError) as exc:
        # OSError: serve cannot bind; ValueError: a bad --url or --timeout.
        _fail(args, str(exc) or type(exc).__name__)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _fail(args: argparse.Namespace, message: str) -> None:
    message = " ".join(message.splitlines())
    print(f"bittap-ws {args.command}: error: {message}", file=sys.stderr, flush=True)
