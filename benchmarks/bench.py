"""
Measure bittap_ws against the transports it is built on and against asyncio.

Run it with ``make bench``. It starts the bundled BitTap-compatible server
(:func:`bittap_ws.testing.run_server`) in a child process on 127.0.0.1 and
measures, in rounds whose order is shuffled each time:

* (a) websocket-client, default options: ``send()`` then ``recv()``, one
  thread; the floor a user of the transport meets;
* (b) ``bittap_ws.Client.time()`` in a loop, one thread;
* (c) 8 threads sharing one ``bittap_ws.Client``, calling ``time()``;
* (d) the websockets asyncio client, 8 tasks over one connection, answers
  matched to futures by id by one reader task;
* (e) the websockets sync client, one thread.

Every contender sends the same ``time`` request and decodes the answer with
the same JSON library (orjson when installed, else :mod:`json`), so what
differs is only what sits between the caller and the socket. Every
contender connects once and warms up; then each round times a fixed number
of requests of every contender, in a new random order. Rounds are short, so
that a change in the load of the machine hits the contenders alike. The
ratios b/a (median latency) and c/d (throughput) are taken within each
round, and their median over the rounds is reported.

Then: the time to open a connection, the CPU time used by an idle connected
client over 5 s, the memory held by 10,000 pending requests, and the rate at
which stream events reach one consumer thread through a
:class:`~bittap_ws.Subscription`, against an asyncio consumer of the same
stream with websockets.

The traffic is bounded: a fixed number of requests per round and a fixed
number of rounds. The server process ends when this process closes its
standard input, or dies.

"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import itertools
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from typing import Any, Callable

import websocket
import websockets
import websockets.asyncio.client
import websockets.sync.client

import bittap_ws
from bittap_ws import Client

try:
    import orjson

    def dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

    loads: Callable[[Any], Any] = orjson.loads
    JSON = "orjson " + orjson.__version__
except ImportError:  # pragma: no cover - without the speedups extra
    import json

    dumps = json.dumps
    loads = json.loads
    JSON = "json (stdlib)"

THREADS = 8
SILENT = "bench.silent"  # a method the server never answers

_ids = itertools.count()


def request_text() -> str:
    return dumps({"id": f"bench-{next(_ids)}", "method": "time"})


def send_recv_loop(ws: Any, n: int) -> tuple[list[float], float]:
    """
    Time ``n`` requests made with ``ws.send()`` then ``ws.recv()``, the API
    websocket-client and the websockets sync client share.

    """
    perf = time.perf_counter
    latencies = []
    begin = perf()
    for _ in range(n):
        start = perf()
        ws.send(request_text())
        answer = loads(ws.recv())
        latencies.append(perf() - start)
        assert answer["status"] == 200
    return latencies, perf() - begin


# Contenders. Each opens its connection once, runs rounds of ``n`` timed
# requests, each round returning (latencies in seconds, elapsed seconds),
# and closes.


class RawWebsocketClient:
    """(a) websocket-client, default options, one thread."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url)

    def run(self, n: int) -> tuple[list[float], float]:
        return send_recv_loop(self.ws, n)

    def close(self) -> None:
        self.ws.close()


class Bittap:
    """(b) bittap_ws, one thread."""

    def __init__(self, url: str) -> None:
        self.client = Client(url)
        self.client.connect()

    def run(self, n: int) -> tuple[list[float], float]:
        time_ = self.client.time
        perf = time.perf_counter
        latencies = []
        begin = perf()
        for _ in range(n):
            start = perf()
            time_()
            latencies.append(perf() - start)
        return latencies, perf() - begin

    def close(self) -> None:
        self.client.close()


class BittapThreads(Bittap):
    """(c) bittap_ws, THREADS threads sharing one client."""

    def run(self, n: int) -> tuple[list[float], float]:
        per_thread = n // THREADS
        time_ = self.client.time
        results: list[list[float]] = [[] for _ in range(THREADS)]
        barrier = threading.Barrier(THREADS + 1)

        def work(latencies: list[float]) -> None:
            perf = time.perf_counter
            barrier.wait()
            for _ in range(per_thread):
                start = perf()
                time_()
                latencies.append(perf() - start)

        threads = [threading.Thread(target=work, args=(r,)) for r in results]
        for thread in threads:
            thread.start()
        barrier.wait()
        begin = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - begin
        return [x for r in results for x in r], elapsed


class WebsocketsAsyncio:
    """(d) websockets asyncio client, THREADS tasks over one connection."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._open(url))

    async def _open(self, url: str) -> None:
        self.ws = await websockets.asyncio.client.connect(url)
        self.futures: dict[str, asyncio.Future[Any]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        futures = self.futures
        async for message in self.ws:
            answer = loads(message)
            future = futures.pop(answer.get("id"), None)
            if future is not None and not future.done():
                future.set_result(answer)

    async def _call(self) -> Any:
        request_id = f"bench-{next(_ids)}"
        future = self.loop.create_future()
        self.futures[request_id] = future
        try:
            await self.ws.send(dumps({"id": request_id, "method": "time"}))
            return await future
        finally:
            self.futures.pop(request_id, None)

    async def _run(self, n: int) -> tuple[list[float], float]:
        per_task = n // THREADS

        async def work(latencies: list[float]) -> None:
            perf = time.perf_counter
            for _ in range(per_task):
                start = perf()
                answer = await self._call()
                latencies.append(perf() - start)
                assert answer["status"] == 200

        results: list[list[float]] = [[] for _ in range(THREADS)]
        begin = time.perf_counter()
        await asyncio.gather(*(work(r) for r in results))
        elapsed = time.perf_counter() - begin
        return [x for r in results for x in r], elapsed

    def run(self, n: int) -> tuple[list[float], float]:
        return self.loop.run_until_complete(self._run(n))

    async def _close(self) -> None:
        self.reader.cancel()
        await self.ws.close()

    def close(self) -> None:
        self.loop.run_until_complete(self._close())
        self.loop.close()


class WebsocketsSync:
    """(e) websockets sync client, one thread."""

    def __init__(self, url: str) -> None:
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(websockets.sync.client.connect(url))

    def run(self, n: int) -> tuple[list[float], float]:
        return send_recv_loop(self.ws, n)

    def close(self) -> None:
        self.stack.close()


CONTENDERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "a": ("websocket-client send()+recv(), 1 thread", RawWebsocketClient),
    "b": ("bittap_ws Client.time(), 1 thread", Bittap),
    "c": (f"bittap_ws, {THREADS} threads, one Client", BittapThreads),
    "d": (f"websockets asyncio, {THREADS} tasks, one connection", WebsocketsAsyncio),
    "e": ("websockets sync client, 1 thread", WebsocketsSync),
}


# The server, in a child process.


def serve() -> None:
    """
    Run the server until standard input closes; print its URL first.

    """
    from bittap_ws.testing import run_server

    # Answers carry rateLimits, as BitTap's do, with a limit the benchmark
    # never reaches: the client's local guard must not refuse calls.
    rate_limits = [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": 1_000_000_000,
            "count": 1,
        }
    ]
    with run_server(rate_limits=rate_limits) as server:
        server.on(SILENT, action="silence")

        def forget() -> None:
            # The server keeps every request it receives; the benchmark
            # does not need them.
            while True:
                time.sleep(1)
                server.requests.clear()

        threading.Thread(target=forget, daemon=True).start()
        server.stream_rate = 0  # events only when asked, below
        print(server.url, flush=True)
        # Each line "prepare <topic> <count>" makes that many events of the
        # topic, with the market model, and "publish <topic>" sends them to
        # the connections subscribed to it; end of input stops.
        prepared: list[str] = []
        for line in sys.stdin:
            command, topic, *count = line.split()
            if command == "prepare":
                events = server._events(topic, int(count[0]), {})
                prepared = [json.dumps(event) for event in events]
                print("prepared", flush=True)
            else:
                assert command == "publish"
                server.publish_frames(topic, prepared)
                print("published", flush=True)


def prepare(process: subprocess.Popen[str], topic: str, count: int) -> None:
    """
    Ask the server to make ``count`` events of ``topic``, to publish later.

    """
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"prepare {topic} {count}\n")
    process.stdin.flush()
    assert process.stdout.readline().strip() == "prepared"


def publish(process: subprocess.Popen[str], topic: str, count: int) -> None:
    """
    Ask the server to publish the ``count`` events of ``topic`` prepared.

    """
    assert process.stdin is not None
    process.stdin.write(f"publish {topic}\n")
    process.stdin.flush()


def published(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "published"


def stream_bittap(process: subprocess.Popen[str], url: str, count: int) -> tuple[float, int]:
    """
    Events per second delivered by a Subscription to one consumer thread.

    """
    topic = "s_trade@BTC-USDT"
    prepare(process, topic, count)
    with Client(url) as client, client.subscribe(topic, maxsize=count) as events:
        start = time.perf_counter()
        publish(process, topic, count)
        received = 0
        with contextlib.suppress(TimeoutError):
            while received < count:
                event = events.get(timeout=10.0)
                assert event["e"] == "s_trade"
                received += 1
        elapsed = time.perf_counter() - start
        published(process)
        return received / elapsed, events.dropped


def stream_asyncio(process: subprocess.Popen[str], url: str, count: int) -> float:
    """
    Events per second read by an asyncio consumer with websockets.

    """
    topic = "s_trade@ETH-USDT"

    prepare(process, topic, count)

    async def consume() -> float:
        async with websockets.asyncio.client.connect(url) as ws:
            await ws.send(dumps({"id": "sub", "method": "SUBSCRIBE", "params": [topic]}))
            assert loads(await ws.recv())["code"] == 0
            start = time.perf_counter()
            publish(process, topic, count)
            received = 0
            while received < count:
                event = loads(await asyncio.wait_for(ws.recv(), 10.0))
                if event.get("e") == "s_trade":
                    received += 1
            elapsed = time.perf_counter() - start
        published(process)
        return received / elapsed

    return asyncio.run(consume())


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("ws://"):
        process.kill()
        raise SystemExit(f"the server did not start: {url!r}")
    return process, url


def stop_server(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


# Other measurements.


def connect_times(url: str, count: int) -> dict[str, float]:
    def bittap() -> None:
        client = Client(url)
        start = time.perf_counter()
        client.connect()
        elapsed = time.perf_counter() - start
        client.close()
        samples["b"].append(elapsed)

    def raw() -> None:
        start = time.perf_counter()
        ws = websocket.create_connection(url)
        elapsed = time.perf_counter() - start
        ws.close()
        samples["a"].append(elapsed)

    samples: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(count):
        for func in random.sample([bittap, raw], 2):
            func()
    return {key: statistics.median(values) for key, values in samples.items()}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle_cpu(url: str, seconds: float) -> tuple[float, int]:
    with Client(url) as client:
        client.time()
        threads = threading.active_count()
        before = cpu_seconds()
        time.sleep(seconds)
        used = cpu_seconds() - before
    return used, threads


def pending_memory(url: str, count: int) -> tuple[int, float]:
    """
    Memory held by ``count`` requests sent and waiting for their answers.

    Each is registered and sent as :meth:`Client.request` does it, to a
    method the server never answers; the waiting itself (a thread per
    caller) is not counted.

    """
    from bittap_ws._deadline import Deadline
    from bittap_ws.protocol import encode_request, new_request_id

    with Client(url) as client:
        client.time()
        conn = client._session.connection(Deadline(10.0))
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        slots = []
        for _ in range(count):
            request_id = new_request_id()
            slots.append(conn.pending.add(request_id))
            conn.send(encode_request(request_id, SILENT), 1, Deadline(10.0))
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        assert len(conn.pending) == count
        held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        # The list holding the slots belongs to the benchmark.
        held -= sys.getsizeof(slots)
    # close() fails every pending slot at once.
    woken = sum(slot.exc is not None for slot in slots)
    assert woken == count, woken
    return held, held / count


# Reporting.


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument(
        "--requests", type=int, default=400, help="timed requests per contender and round"
    )
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--only", default="abcde", help="contenders to run, e.g. ab")
    parser.add_argument("--no-extras", action="store_true", help="skip connect, idle CPU and memory")
    parser.add_argument("--no-streams", action="store_true", help="skip the stream benchmark")
    parser.add_argument("--stream-rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=20_000, help="events per stream round")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0

    started = time.perf_counter()
    print(
        f"bittap_ws {bittap_ws.__version__}, websocket-client {websocket.__version__}, "
        f"websockets {websockets.__version__}, {JSON}"
    )
    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.platform(terse=True)}"
    )
    process, url = start_server()
    try:
        keys = [key for key in "abcde" if key in args.only]
        samples: dict[str, list[list[float]]] = {key: [] for key in keys}
        throughput: dict[str, list[float]] = {key: [] for key in keys}
        medians: dict[str, list[float]] = {key: [] for key in keys}
        ratios: dict[str, list[float]] = {"b/a": [], "c/d": []}
        print(
            f"server {url} in process {process.pid}; {args.rounds} rounds of "
            f"{args.requests} requests per contender, in shuffled order"
        )
        contenders = {key: CONTENDERS[key][1](url) for key in keys}
        try:
            for contender in contenders.values():
                contender.run(args.warmup)
            for _ in range(args.rounds):
                for key in random.sample(keys, len(keys)):
                    latencies, elapsed = contenders[key].run(args.requests)
                    samples[key].append(latencies)
                    medians[key].append(statistics.median(latencies))
                    throughput[key].append(len(latencies) / elapsed)
                if "a" in keys and "b" in keys:
                    ratios["b/a"].append(medians["b"][-1] / medians["a"][-1])
                if "c" in keys and "d" in keys:
                    ratios["c/d"].append(throughput["c"][-1] / throughput["d"][-1])
        finally:
            for contender in contenders.values():
                contender.close()

        print()
        print(f"{'':4}{'contender':<48}{'median':>9}{'p99':>9}{'requests/s':>12}")
        for key in keys:
            every = [x for latencies in samples[key] for x in latencies]
            print(
                f"({key}) {CONTENDERS[key][0]:<48}"
                f"{statistics.median(medians[key]) * 1e6:>7.1f}us"
                f"{percentile(every, 0.99) * 1e6:>7.1f}us"
                f"{statistics.median(throughput[key]):>12,.0f}"
            )
        print()
        targets = {"b/a": "target <= 1.10, stretch 1.00", "c/d": "target >= 0.50, stretch 1.00"}
        for name, values in ratios.items():
            if values:
                print(
                    f"{name}: {statistics.median(values):.3f} "
                    f"(rounds: {min(values):.3f} to {max(values):.3f}; {targets[name]})"
                )
        if not args.no_extras:
            print()
            connect = connect_times(url, 20)
            print(
                f"connect: bittap_ws {connect['b'] * 1e3:.2f} ms, "
                f"websocket-client {connect['a'] * 1e3:.2f} ms (median of 20)"
            )
            used, threads = idle_cpu(url, 5.0)
            print(f"idle connected client: {used * 1e3:.1f} ms of CPU in 5 s ({threads} threads)")
            held, each = pending_memory(url, 10_000)
            print(f"10,000 pending requests: {held / 1024:.0f} KiB ({each:.0f} bytes each)")
        if not args.no_streams:
            print()
            rates: dict[str, list[float]] = {"bittap": [], "asyncio": []}
            stream_ratios = []
            dropped = 0
            for _ in range(args.stream_rounds):
                for name in random.sample(list(rates), 2):
                    if name == "bittap":
                        rate, lost = stream_bittap(process, url, args.events)
                        dropped += lost
                    else:
                        rate = stream_asyncio(process, url, args.events)
                    rates[name].append(rate)
                stream_ratios.append(rates["bittap"][-1] / rates["asyncio"][-1])
            print(
                f"stream events to one consumer ({args.stream_rounds} rounds of "
                f"{args.events:,} events): bittap_ws Subscription "
                f"{statistics.median(rates['bittap']):,.0f}/s ({dropped} dropped), "
                f"websockets asyncio {statistics.median(rates['asyncio']):,.0f}/s; "
                f"ratio {statistics.median(stream_ratios):.3f}"
            )
    finally:
        stop_server(process)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
