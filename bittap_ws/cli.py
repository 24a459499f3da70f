"""
The ``bittap-ws`` command: ``ping``, ``time``, ``serve`` and ``demo``.

"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from typing import Any, Sequence

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
    _print(args, {"url": args.url, "rtt_ms": round(rtt_ms, 3)}, f"pong in {rtt_ms:.2f} ms")


def _time(args: argparse.Namespace) -> None:
    with Client(args.url, timeout=args.timeout, connect_timeout=args.timeout) as client:
        server_time = client.time()
        offset = client.clock_offset()
    data = {"server_time": server_time, "iso": _iso(server_time), "clock_offset_ms": round(offset, 3)}
    _print(args, data, f"server time {_iso(server_time)} (clock offset {offset:+.1f} ms)")


def _serve(args: argparse.Namespace) -> None:
    from .testing import run_server

    with run_server(args.host, args.port) as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


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
    ):
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(func=func)
        command.add_argument("--url", default=DEFAULT_URL, help="WebSocket URL")
        command.add_argument("--timeout", type=float, default=10.0, help="seconds")
        command.add_argument("--json", action="store_true", help="print JSON")
    serve = commands.add_parser("serve", help="run the bundled test server")
    serve.set_defaults(func=_serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    demo = commands.add_parser("demo", help="run the client against the bundled server")
    demo.set_defaults(func=_demo)
    demo.add_argument("--timeout", type=float, default=10.0, help="seconds")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the command line; return the exit status.

    """
    args = _parser().parse_args(argv)
    try:
        args.func(args)
    except BitTapError as exc:
        print(f"bittap-ws {args.command}: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"bittap-ws {args.command}: {exc} (install bittap-ws[testing])", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
