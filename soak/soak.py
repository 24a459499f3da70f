"""
A bounded soak of one client against the bundled server, with faults.

Several threads share one :class:`~bittap_ws.Client` and call it without
pause: ``ping``, ``time``, unknown methods, server errors, slow answers and
calls that time out. Meanwhile the server drops the connection, sends close
frames, stalls (answers nothing, pongs included, for longer than the
client's ``ping_timeout``) and slows down, at random.

Every call must return or raise a :exc:`~bittap_ws.BitTapError` within its
timeout plus a margin; a call that does neither is *lost*. At the end, no
slot may remain in any connection and no thread of the client may remain.
The exit status is 1 if anything was lost, wrong, re-sent or leaked.

Usage::

    python soak/soak.py [--duration SECONDS] [--threads N] [--seed N] [--tls]

The duration defaults to ``$SOAK_DURATION``, else 300 seconds.

"""

from __future__ import annotations

import argparse
import collections
import gc
import itertools
import logging
import os
import random
import re
import ssl
import sys
import threading
import time
import traceback
from typing import Any, Callable

from bittap_ws import ApiError, BitTapError, Client, RequestTimeout, ServerError
from bittap_ws.connection import Connection
from bittap_ws.testing import run_server

# Client settings: a short keepalive, so that a stall is detected quickly.
TIMEOUT = 3.0
CONNECT_TIMEOUT = 2.0
PING_INTERVAL = 0.5
PING_TIMEOUT = 1.0

# A call that has neither returned nor raised this long after its timeout
# is lost. It covers scheduling delays on a loaded machine.
MARGIN = 2.0

# How long a stall lasts: well beyond what keepalive needs to notice it.
STALL = PING_INTERVAL + PING_TIMEOUT + 1.0

SLOW_METHODS = {"slow100": 0.1, "slow500": 0.5, "slow2000": 2.0}
LATE_METHOD, LATE_DELAY, LATE_TIMEOUT = "late", 1.0, 0.5
SILENT_METHOD, SILENT_TIMEOUT = "silent", 0.3


class Stats:
    """Counters shared by every thread; one lock guards them all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = 0
        self.answered = 0
        self.failed: collections.Counter[str] = collections.Counter()
        self.failed_by_op: collections.Counter[str] = collections.Counter()
        self.wrong: list[str] = []
        self.lost: list[str] = []
        self.faults: collections.Counter[str] = collections.Counter()
        # Calls in flight: token -> (thread, operation, start, limit).
        self.in_flight: dict[int, tuple[threading.Thread, str, float, float]] = {}
        self.flagged: set[int] = set()

    def summary(self) -> str:
        with self.lock:
            failed = ", ".join(f"{k}={v}" for k, v in sorted(self.failed.items()))
            return (
                f"sent={self.sent} answered={self.answered} "
                f"failed={sum(self.failed.values())} ({failed or 'none'}) "
                f"wrong={len(self.wrong)} lost={len(self.lost)}"
            )


def operations(client: Client) -> list[tuple[int, str, float, Callable[[], Any]]]:
    """
    The mix of calls: (weight, name, timeout, call). A call raises
    AssertionError when the answer is wrong.

    """

    def check_time() -> None:
        server_time = client.time(timeout=TIMEOUT)
        assert abs(server_time - time.time() * 1000) < 60_000, server_time

    def echo() -> None:
        n = random.randrange(1_000_000)
        response = client.request("echo", {"n": n}, timeout=TIMEOUT)
        assert response.result == {"echo": True}, response

    def expect(exc_type: type[BaseException], call: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                call()
            except exc_type:
                raise
            else:
                raise AssertionError(f"expected {exc_type.__name__}")

        return run

    def slow(method: str) -> Callable[[], None]:
        return lambda: client.request(method, timeout=TIMEOUT)

    return [
        (25, "ping", TIMEOUT, lambda: client.ping(timeout=TIMEOUT)),
        (25, "time", TIMEOUT, check_time),
        (10, "echo", TIMEOUT, echo),
        (8, "unknown", TIMEOUT, expect(ApiError, lambda: client.request("nosuch", timeout=TIMEOUT))),
        (5, "server-error", TIMEOUT, expect(ServerError, lambda: client.request("fail", timeout=TIMEOUT))),
        (3, "slow100", TIMEOUT, slow("slow100")),
        (1, "slow500", TIMEOUT, slow("slow500")),
        (1, "slow2000", TIMEOUT, slow("slow2000")),
        (
            1,
            "late",
            LATE_TIMEOUT,
            expect(RequestTimeout, lambda: client.request(LATE_METHOD, timeout=LATE_TIMEOUT)),
        ),
        (
            2,
            "silent",
            SILENT_TIMEOUT,
            expect(RequestTimeout, lambda: client.request(SILENT_METHOD, timeout=SILENT_TIMEOUT)),
        ),
    ]


def worker(client: Client, stats: Stats, stop: threading.Event, tokens: Any) -> None:
    """Call the client without pause until ``stop``; count every outcome."""
    ops = operations(client)
    weights = [op[0] for op in ops]
    me = threading.current_thread()
    while not stop.is_set():
        _, name, timeout, call = random.choices(ops, weights)[0]
        token = next(tokens)
        start = time.monotonic()
        with stats.lock:
            stats.sent += 1
            stats.in_flight[token] = (me, name, start, timeout + MARGIN)
        outcome: str | None = None
        try:
            call()
        except AssertionError as exc:
            with stats.lock:
                stats.wrong.append(f"{name}: {exc}")
        except BitTapError as exc:
            outcome = type(exc).__name__
        except Exception as exc:  # untyped: counted as lost below
            with stats.lock:
                stats.lost.append(f"{name}: untyped {type(exc).__name__}: {exc}")
        elapsed = time.monotonic() - start
        with stats.lock:
            del stats.in_flight[token]
            if elapsed > timeout + MARGIN and token not in stats.flagged:
                stats.lost.append(f"{name}: took {elapsed:.2f} s (timeout {timeout} s)")
            if outcome is None:
                stats.answered += 1
            else:
                stats.failed[outcome] += 1
                stats.failed_by_op[f"{name} -> {outcome}"] += 1
        # Expected failures (ApiError of unknown, RequestTimeout of late
        # and silent) are counted by type too: they are what those calls
        # are for. "failed by call" tells them apart.
        time.sleep(random.uniform(0, 0.002))


def watchdog(stats: Stats, stop: threading.Event) -> None:
    """Flag calls that overrun their timeout plus margin, with their stack."""
    while not stop.wait(0.2):
        now = time.monotonic()
        with stats.lock:
            overdue = [
                (token, entry)
                for token, entry in stats.in_flight.items()
                if now - entry[2] > entry[3] and token not in stats.flagged
            ]
            stats.flagged.update(token for token, _ in overdue)
        for token, (thread, name, start, limit) in overdue:
            frame = sys._current_frames().get(thread.ident or 0)
            stack = "".join(traceback.format_stack(frame)) if frame else "(no frame)"
            message = f"{name}: no outcome after {now - start:.2f} s (limit {limit} s)"
            print(f"LOST {message}\n{stack}", flush=True)
            with stats.lock:
                stats.lost.append(message)


def chaos(server: Any, stats: Stats, stop: threading.Event, pace: float) -> None:
    """Inflict a random fault every ``pace`` seconds or so."""
    faults = ["drop", "close", "stall", "slow", "calm"]
    while not stop.wait(random.uniform(0.5 * pace, 1.5 * pace)):
        fault = random.choice(faults)
        stats.faults[fault] += 1
        if fault == "drop":
            server.drop()
        elif fault == "close":
            server.close_connections(random.choice([1000, 1001, 1011, 1012, 4000]), "soak")
        elif fault == "stall":
            server.stall()
            stop.wait(STALL)
            server.unstall()
        elif fault == "slow":
            server.delay = random.uniform(0.05, 0.5)
            stop.wait(random.uniform(0.5, 2.0))
            server.delay = 0.0


def client_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("bittap-ws-") and not t.name.startswith("bittap-ws-test-")
    ]


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def pending_of(client: Client) -> int:
    match = re.search(r"pending=(\d+)", repr(client))
    return int(match.group(1)) if match else -1


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context and a client context trusting it, from trustme."""
    import trustme  # in the tests extra

    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


def soak(
    duration: float, threads: int, pace: float, report_every: float, tls: bool = False
) -> int:
    """Run the soak; print the figures; return the exit status."""
    server_context, client_context = tls_contexts() if tls else (None, None)
    baseline = set(threading.enumerate())
    stats = Stats()
    stop = threading.Event()
    tokens = itertools.count()
    duplicates = 0
    seen_ids: set[str] = set()
    began = time.monotonic()

    with run_server(jitter=0.002, ssl=server_context) as server:
        server.on("echo", result={"echo": True})
        server.on("fail", status=503)
        for method, delay in SLOW_METHODS.items():
            server.on(method, result={}, delay=delay)
        server.on(LATE_METHOD, result={}, delay=LATE_DELAY)
        server.on(SILENT_METHOD, action="silence")

        client = Client(
            server.url,
            timeout=TIMEOUT,
            connect_timeout=CONNECT_TIMEOUT,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            ssl_context=client_context,
            # The soak outpaces the bundled server's 6000 calls a minute;
            # it tests the connection, not the rate-limit guard.
            rate_limit_guard=False,
        )
        workers = [
            threading.Thread(target=worker, args=(client, stats, stop, tokens), name=f"soak-{n}")
            for n in range(threads)
        ]
        helpers = [
            threading.Thread(target=watchdog, args=(stats, stop), name="soak-watchdog"),
            threading.Thread(target=chaos, args=(server, stats, stop, pace), name="soak-chaos"),
        ]
        for thread in workers + helpers:
            thread.start()

        def check_requests() -> None:
            # Every request the server got carries a new id: nothing re-sent.
            nonlocal duplicates
            with server._lock:  # the server appends under this lock
                batch, server.requests = server.requests, []
            for request in batch:
                if request["id"] in seen_ids:
                    duplicates += 1
                seen_ids.add(request["id"])

        end = began + duration
        next_report = began + report_every
        while time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))
            check_requests()
            if time.monotonic() >= next_report:
                next_report += report_every
                print(
                    f"[{time.monotonic() - began:6.1f} s] {stats.summary()} "
                    f"connections={server.connection_count} "
                    f"faults={dict(stats.faults)}",
                    flush=True,
                )
        stop.set()
        deadline = time.monotonic() + TIMEOUT + MARGIN + STALL
        for thread in workers + helpers:
            thread.join(max(0.0, deadline - time.monotonic()))
        hung = [t.name for t in workers + helpers if t.is_alive()]
        check_requests()

        pending_before_close = pending_of(client)
        client.close()
        wait_until(lambda: not client_threads(), 3.0)
        leaked_client_threads = [t.name for t in client_threads()]
        connections = server.connection_count

    wait_until(lambda: not (set(threading.enumerate()) - baseline), 5.0)
    leaked_threads = sorted(t.name for t in set(threading.enumerate()) - baseline)
    gc.collect()
    live = [o for o in gc.get_objects() if isinstance(o, Connection)]
    leaked_slots = sum(len(conn.pending) for conn in live)

    elapsed = time.monotonic() - began
    print()
    scheme = "wss" if tls else "ws"
    print(f"soak: {elapsed:.1f} s over {scheme}://, {threads} threads, {connections} connections")
    print(f"faults: {dict(sorted(stats.faults.items()))}")
    print(f"requests sent: {stats.sent}")
    print(f"answered: {stats.answered}")
    print(f"failed: {sum(stats.failed.values())}")
    for name, count in sorted(stats.failed.items()):
        print(f"    {name}: {count}")
    print("failed by call:")
    for name, count in sorted(stats.failed_by_op.items()):
        print(f"    {name}: {count}")
    print(f"wrong answers: {len(stats.wrong)}")
    for line in stats.wrong[:10]:
        print(f"    {line}")
    print(f"lost: {len(stats.lost)}")
    for line in stats.lost[:10]:
        print(f"    {line}")
    print(f"re-sent request ids: {duplicates}")
    print(f"hung threads: {hung or 0}")
    print(f"leaked slots: {leaked_slots} (pending before close: {pending_before_close})")
    print(f"leaked client threads: {leaked_client_threads or 0}")
    print(f"leaked threads: {leaked_threads or 0}")
    bad = (
        stats.wrong
        or stats.lost
        or duplicates
        or hung
        or leaked_slots
        or pending_before_close
        or leaked_client_threads
        or leaked_threads
    )
    print("FAIL" if bad else "OK")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("SOAK_DURATION") or 300),
        help="seconds to run (default: $SOAK_DURATION, else 300)",
    )
    parser.add_argument("--threads", type=int, default=12, help="calling threads (default: 12)")
    parser.add_argument(
        "--pace", type=float, default=3.0, help="mean seconds between faults (default: 3)"
    )
    parser.add_argument(
        "--report-every", type=float, default=10.0, help="seconds between progress lines"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--tls", action="store_true", help="over wss:// (needs trustme)")
    parser.add_argument("--verbose", action="store_true", help="log the client at DEBUG")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    random.seed(seed)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.ERROR,
        format="%(asctime)s %(threadName)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # The bundled server plays dead by blocking its connection's reader;
        # when a stalled connection is then cut, websockets may log an
        # internal error on the server's side. It says nothing of the client.
        logging.getLogger("websockets").setLevel(logging.CRITICAL)
    print(f"soak: duration={args.duration:g} s threads={args.threads} seed={seed}", flush=True)
    return soak(args.duration, args.threads, args.pace, args.report_every, args.tls)


if __name__ == "__main__":
    sys.exit(main())
