"""
Measure bittap_ws against the transports it is built on, against asyncio,
and against the clients users would pick instead.

Run it with ``make bench`` (which installs the ``bench`` extra). It starts
the bundled BitTap-compatible server (:func:`bittap_ws.testing.run_server`)
in a child process on 127.0.0.1 and measures, in rounds whose order is
shuffled each time:

* (a) websocket-client, default options: ``send()`` then ``recv()``, one
  thread; the floor a user of the transport meets;
* (b) ``bittap_ws.Client.time()`` in a loop, one thread;
* (c) 8 threads sharing one ``bittap_ws.Client``, calling ``time()``;
* (d) the websockets asyncio client, 8 tasks over one connection, answers
  matched to futures by id by one reader task;
* (e) the websockets sync client, one thread;
* (f) python-binance ``Client.ws_get_time()``, one thread, and (g) 8
  threads with a python-binance client each (one cannot be shared between
  threads: each runs its calls on its thread's event loop);
* (h) binance-connector's ``SpotWebsocketAPIClient.server_time()`` made
  blocking with a ``threading.Event`` per call, one thread, and (i) 8
  threads sharing one such client.

Every contender sends a ``time`` request to the same server, so what differs
is what sits between the caller and the socket. Each round times a fixed
number of requests of every contender, in a new random order; rounds are
short, so that a change in the load of the machine hits the contenders
alike. Ratios are taken within each round and their median over the rounds
is reported: latency ratios of medians, throughput ratios, and the CPU time
of this process (the server runs in its own) per call.

Then, scaling: 1, 2, 4, 8, 16, 32 and 64 threads sharing one client against
as many asyncio tasks over one websockets connection, paired the same way;
a table and a plot of throughput and p99 latency against concurrency are
written to ``benchmarks/results/``.

Then: the time to open a connection, the CPU time used by an idle connected
client over 5 s, the memory held by 10,000 pending requests, and the rate at
which stream events reach one consumer thread through a
:class:`~bittap_ws.Subscription`, against an asyncio consumer of the same
stream with websockets.

The traffic goes to 127.0.0.1 only and is bounded: a fixed number of
requests per round and a fixed number of rounds. The server process ends
when this process closes its standard input, or dies.

"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import itertools
import logging
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
import warnings
from pathlib import Path
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
LEVELS = (1, 2, 4, 8, 16, 32, 64)  # threads, and asyncio tasks, when scaling
SILENT = "bench.silent"  # a method the server never answers
RESULTS = Path(__file__).resolve().parent / "results"

# Each run returns (latencies in seconds, elapsed seconds, CPU seconds of
# this process).
Run = tuple[list[float], float, float]

_ids = itertools.count()


def request_text() -> str:
    return dumps({"id": f"bench-{next(_ids)}", "method": "time"})


def send_recv_loop(ws: Any, n: int) -> Run:
    """
    Time ``n`` requests made with ``ws.send()`` then ``ws.recv()``, the API
    websocket-client and the websockets sync client share.

    """
    perf = time.perf_counter
    latencies = []
    cpu = time.process_time()
    begin = perf()
    for _ in range(n):
        start = perf()
        ws.send(request_text())
        answer = loads(ws.recv())
        latencies.append(perf() - start)
        assert answer["status"] == 200
    return latencies, perf() - begin, time.process_time() - cpu


def timed_loop(call: Callable[[], Any], n: int) -> Run:
    """
    Time ``n`` calls of ``call`` in this thread.

    """
    perf = time.perf_counter
    latencies = []
    cpu = time.process_time()
    begin = perf()
    for _ in range(n):
        start = perf()
        call()
        latencies.append(perf() - start)
    return latencies, perf() - begin, time.process_time() - cpu


def timed_threads(calls: list[Callable[[], Any]], n: int) -> Run:
    """
    Time ``n`` calls in all, spread over one new thread per item of
    ``calls``, each calling its own item.

    """
    per_thread = max(1, n // len(calls))
    results: list[list[float]] = [[] for _ in calls]
    barrier = threading.Barrier(len(calls) + 1)

    def work(call: Callable[[], Any], latencies: list[float]) -> None:
        perf = time.perf_counter
        barrier.wait()
        for _ in range(per_thread):
            start = perf()
            call()
            latencies.append(perf() - start)

    threads = [threading.Thread(target=work, args=(c, r)) for c, r in zip(calls, results)]
    for thread in threads:
        thread.start()
    barrier.wait()
    cpu = time.process_time()
    begin = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - begin
    return [x for r in results for x in r], elapsed, time.process_time() - cpu


# Contenders. Each opens its connection once, runs rounds of ``n`` timed
# requests, each round returning (latencies in seconds, elapsed seconds),
# and closes.


class RawWebsocketClient:
    """(a) websocket-client, default options, one thread."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url)

    def run(self, n: int) -> Run:
        return send_recv_loop(self.ws, n)

    def close(self) -> None:
        self.ws.close()


class Bittap:
    """(b) bittap_ws, one thread."""

    def __init__(self, url: str) -> None:
        self.client = Client(url)
        self.client.connect()

    def run(self, n: int) -> Run:
        return timed_loop(self.client.time, n)

    def close(self) -> None:
        self.client.close()


class BittapThreads(Bittap):
    """(c) bittap_ws, ``threads`` threads sharing one client."""

    def __init__(self, url: str, threads: int = THREADS) -> None:
        super().__init__(url)
        self.threads = threads

    def run(self, n: int) -> Run:
        return timed_threads([self.client.time] * self.threads, n)


class WebsocketsAsyncio:
    """(d) websockets asyncio client, ``tasks`` tasks over one connection."""

    def __init__(self, url: str, tasks: int = THREADS) -> None:
        self.tasks = tasks
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

    async def _run(self, n: int) -> Run:
        per_task = max(1, n // self.tasks)

        async def work(latencies: list[float]) -> None:
            perf = time.perf_counter
            for _ in range(per_task):
                start = perf()
                answer = await self._call()
                latencies.append(perf() - start)
                assert answer["status"] == 200

        results: list[list[float]] = [[] for _ in range(self.tasks)]
        cpu = time.process_time()
        begin = time.perf_counter()
        await asyncio.gather(*(work(r) for r in results))
        elapsed = time.perf_counter() - begin
        return [x for r in results for x in r], elapsed, time.process_time() - cpu

    def run(self, n: int) -> Run:
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

    def run(self, n: int) -> Run:
        return send_recv_loop(self.ws, n)

    def close(self) -> None:
        self.stack.close()


class Workers:
    """
    Threads that live as long as the contender, each with a client of its
    own made in that thread by ``make``, for clients bound to the thread
    that made them.

    """

    def __init__(self, threads: int, make: Callable[[], Any]) -> None:
        self.jobs: list[list[Any]] = [[] for _ in range(threads)]
        self.ready = threading.Barrier(threads + 1)
        self.start = threading.Barrier(threads + 1)
        self.done = threading.Barrier(threads + 1)
        self.results: list[list[float]] = [[] for _ in range(threads)]
        self.threads = [
            threading.Thread(target=self._work, args=(i, make), daemon=True)
            for i in range(threads)
        ]
        self.call: Callable[[Any], Any] | None = None
        self.closer: Callable[[Any], Any] | None = None
        self.count = 0
        for thread in self.threads:
            thread.start()
        self.ready.wait()

    def _work(self, i: int, make: Callable[[], Any]) -> None:
        client = make()
        self.ready.wait()
        while True:
            self.start.wait()
            call = self.call
            if call is None:
                if self.closer is not None:
                    self.closer(client)
                break
            perf = time.perf_counter
            latencies = self.results[i] = []
            for _ in range(self.count):
                begin = perf()
                call(client)
                latencies.append(perf() - begin)
            self.done.wait()
        self.done.wait()

    def run(self, call: Callable[[Any], Any], n: int) -> Run:
        self.call = call
        self.count = max(1, n // len(self.threads))
        cpu = time.process_time()
        begin = time.perf_counter()
        self.start.wait()
        self.done.wait()
        elapsed = time.perf_counter() - begin
        return [x for r in self.results for x in r], elapsed, time.process_time() - cpu

    def close(self, call: Callable[[Any], Any]) -> None:
        """End the threads, each calling ``call`` with its client first."""
        self.call = None
        self.closer = call
        self.start.wait()
        self.done.wait()
        for thread in self.threads:
            thread.join(5)


def python_binance_client(url: str) -> Any:
    """
    A python-binance client whose WebSocket API requests go to ``url``;
    made in the thread that will use it.

    """
    from binance.client import Client as BinanceClient
    from binance.ws.websocket_api import WebsocketAPI

    # ping=False: no REST request at construction.
    client = BinanceClient(ping=False)
    client.ws_api = WebsocketAPI(url=url)
    return client


def python_binance_close(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.loop.run_until_complete(client.ws_api.close())
    client.close_connection()
    client.loop.close()


class PythonBinance:
    """(f) python-binance ``Client.ws_get_time()``, one thread."""

    def __init__(self, url: str) -> None:
        # Its event loop belongs to the thread: run it on a worker thread.
        self.workers = Workers(1, lambda: python_binance_client(url))

    def run(self, n: int) -> Run:
        return self.workers.run(lambda client: client.ws_get_time(), n)

    def close(self) -> None:
        self.workers.close(python_binance_close)


class PythonBinanceThreads(PythonBinance):
    """(g) python-binance, THREADS threads with a client each."""

    def __init__(self, url: str) -> None:
        self.workers = Workers(THREADS, lambda: python_binance_client(url))


class BinanceConnector:
    """
    (h) binance-connector's WebSocket API client, made blocking: each call
    waits on a ``threading.Event`` that its on_message callback sets when
    the answer with the call's id comes; one thread.

    """

    threads = 1

    def __init__(self, url: str) -> None:
        from binance.websocket.spot.websocket_api import SpotWebsocketAPIClient

        self.waiting: dict[str, list[Any]] = {}
        self.client = SpotWebsocketAPIClient(stream_url=url, on_message=self._on_message)

    def _on_message(self, _: Any, text: str) -> None:
        answer = loads(text)
        waiter = self.waiting.get(answer.get("id"))
        if waiter is not None:
            waiter[1] = answer
            waiter[0].set()

    def server_time(self) -> Any:
        request_id = f"bench-{next(_ids)}"
        waiter = self.waiting[request_id] = [threading.Event(), None]
        try:
            self.client.server_time(id=request_id)
            if not waiter[0].wait(10.0):
                raise TimeoutError(request_id)
        finally:
            del self.waiting[request_id]
        return waiter[1]

    def run(self, n: int) -> Run:
        if self.threads == 1:
            return timed_loop(self.server_time, n)
        return timed_threads([self.server_time] * self.threads, n)

    def close(self) -> None:
        self.client.stop()
        # stop() sends a close frame and waits for the reader; the socket
        # stays open.
        self.client.socket_manager.ws.shutdown()


class BinanceConnectorThreads(BinanceConnector):
    """(i) binance-connector, made blocking, THREADS threads sharing it."""

    threads = THREADS


CONTENDERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "a": ("websocket-client send()+recv(), 1 thread", RawWebsocketClient),
    "b": ("bittap_ws Client.time(), 1 thread", Bittap),
    "c": (f"bittap_ws, {THREADS} threads, one Client", BittapThreads),
    "d": (f"websockets asyncio, {THREADS} tasks, one connection", WebsocketsAsyncio),
    "e": ("websockets sync client, 1 thread", WebsocketsSync),
    "f": ("python-binance ws_get_time(), 1 thread", PythonBinance),
    "g": (f"python-binance, {THREADS} threads, a client each", PythonBinanceThreads),
    "h": ("binance-connector + Event, 1 thread", BinanceConnector),
    "i": (f"binance-connector + Event, {THREADS} threads, one", BinanceConnectorThreads),
}

# Ratios reported, as (name, numerator, denominator, what, target).
RATIOS = [
    ("b/a", "b", "a", "latency", "target <= 1.05"),
    ("c/d", "c", "d", "throughput", "target >= 0.90, stretch 1.00"),
    ("f/b", "f", "b", "latency", "python-binance, one thread"),
    ("g/c", "g", "c", "throughput", "python-binance, 8 threads"),
    ("h/b", "h", "b", "latency", "binance-connector, one thread"),
    ("i/c", "i", "c", "throughput", "binance-connector, 8 threads"),
    ("cpu b/a", "b", "a", "cpu", "target <= 1.30"),
    ("cpu c/a", "c", "a", "cpu", "target <= 1.30"),
    ("cpu d/a", "d", "a", "cpu", "asyncio"),
]


def peers_available() -> bool:
    try:
        with warnings.catch_warnings():
            # python-binance imports what websockets deprecates.
            warnings.simplefilter("ignore", DeprecationWarning)
            import binance.client
            import binance.websocket.spot.websocket_api
            import binance.ws.websocket_api  # noqa: F401
    except ImportError:
        return False
    # Both log lost connections at ERROR level when closed; not news here.
    logging.getLogger("binance").addHandler(logging.NullHandler())
    logging.getLogger("binance").propagate = False
    return True


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


def paired_rounds(
    contenders: dict[str, Any], rounds: int, requests: Callable[[str], int]
) -> dict[str, list[Run]]:
    """
    Run every contender once per round, in a new random order each round.

    """
    runs: dict[str, list[Run]] = {key: [] for key in contenders}
    keys = list(contenders)
    for _ in range(rounds):
        for key in random.sample(keys, len(keys)):
            runs[key].append(contenders[key].run(requests(key)))
    return runs


def figure(run: Run, what: str) -> float:
    latencies, elapsed, cpu = run
    if what == "latency":
        return statistics.median(latencies)
    if what == "throughput":
        return len(latencies) / elapsed
    assert what == "cpu"
    return cpu / len(latencies)


def paired_ratio(top: list[Run], bottom: list[Run], what: str) -> list[float]:
    return [figure(x, what) / figure(y, what) for x, y in zip(top, bottom)]


def main_rounds(url: str, args: argparse.Namespace) -> dict[str, list[float]]:
    keys = [key for key in CONTENDERS if key in args.only]
    if not peers_available():
        print("python-binance or binance-connector is missing (pip install .[bench]): no f-i")
        keys = [key for key in keys if key in "abcde"]
    print(
        f"{args.rounds} rounds of {args.requests} requests per contender, in shuffled order"
    )
    contenders = {key: CONTENDERS[key][1](url) for key in keys}
    try:
        for contender in contenders.values():
            contender.run(args.warmup)
        runs = paired_rounds(contenders, args.rounds, lambda key: args.requests)
    finally:
        for contender in contenders.values():
            contender.close()
    print()
    print(
        f"{'':4}{'contender':<50}{'median':>9}{'p99':>10}{'requests/s':>12}{'CPU/call':>10}"
    )
    for key in keys:
        every = [x for run in runs[key] for x in run[0]]
        print(
            f"({key}) {CONTENDERS[key][0]:<50}"
            f"{statistics.median(figure(r, 'latency') for r in runs[key]) * 1e6:>7.1f}us"
            f"{percentile(every, 0.99) * 1e6:>8.1f}us"
            f"{statistics.median(figure(r, 'throughput') for r in runs[key]):>12,.0f}"
            f"{statistics.median(figure(r, 'cpu') for r in runs[key]) * 1e6:>8.1f}us"
        )
    print()
    ratios: dict[str, list[float]] = {}
    for name, top, bottom, what, note in RATIOS:
        if top in runs and bottom in runs:
            values = ratios[name] = paired_ratio(runs[top], runs[bottom], what)
            print(
                f"{name:<8} {what:<10} {statistics.median(values):6.3f} "
                f"(rounds {min(values):.2f} to {max(values):.2f}; {note})"
            )
    return ratios


def scaling(url: str, args: argparse.Namespace) -> list[dict[str, float]]:
    """
    Threads sharing one client against as many asyncio tasks, at each of
    LEVELS; paired rounds.

    """
    print(
        f"\nscaling: bittap_ws, N threads sharing one Client, against websockets "
        f"asyncio, N tasks over one connection ({args.scaling_rounds} paired rounds "
        f"of max(400, 16 N) requests)"
    )
    rows = []
    for level in LEVELS:
        contenders = {"bittap": BittapThreads(url, level), "asyncio": WebsocketsAsyncio(url, level)}
        try:
            for contender in contenders.values():
                contender.run(max(100, 4 * level))
            count = max(400, 16 * level)
            runs = paired_rounds(contenders, args.scaling_rounds, lambda key, n=count: n)
        finally:
            for contender in contenders.values():
                contender.close()
        row: dict[str, float] = {"level": level}
        for key, values in runs.items():
            every = [x for run in values for x in run[0]]
            row[f"{key} rps"] = statistics.median(figure(r, "throughput") for r in values)
            row[f"{key} p50"] = statistics.median(every)
            row[f"{key} p99"] = percentile(every, 0.99)
            row[f"{key} cpu"] = statistics.median(figure(r, "cpu") for r in values)
        row["ratio"] = statistics.median(
            paired_ratio(runs["bittap"], runs["asyncio"], "throughput")
        )
        rows.append(row)
    table = scaling_table(rows)
    print()
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.md").write_text(table + "\n")
    written = [str(RESULTS / "scaling.md")]
    if plot(rows, RESULTS / "scaling.png"):
        written.append(str(RESULTS / "scaling.png"))
    print("written: " + ", ".join(written))
    return rows


def scaling_table(rows: list[dict[str, float]]) -> str:
    lines = [
        "| N | bittap_ws req/s | asyncio req/s | ratio (paired) "
        "| bittap_ws p50 / p99 ms | asyncio p50 / p99 ms | bittap_ws p99/p50 "
        "| CPU/call bittap_ws / asyncio us |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['level']:.0f} | {row['bittap rps']:,.0f} | {row['asyncio rps']:,.0f} "
            f"| {row['ratio']:.2f} "
            f"| {row['bittap p50'] * 1e3:.2f} / {row['bittap p99'] * 1e3:.2f} "
            f"| {row['asyncio p50'] * 1e3:.2f} / {row['asyncio p99'] * 1e3:.2f} "
            f"| {row['bittap p99'] / row['bittap p50']:.1f} "
            f"| {row['bittap cpu'] * 1e6:.0f} / {row['asyncio cpu'] * 1e6:.0f} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, float]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter
    except ImportError:
        print("matplotlib is missing (pip install .[bench]): no plot")
        return False
    levels = [row["level"] for row in rows]
    figure_, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=80)
    for key, label in (("bittap", "bittap_ws, N threads"), ("asyncio", "websockets asyncio, N tasks")):
        left.plot(levels, [row[f"{key} rps"] for row in rows], marker="o", label=label)
        right.plot(levels, [row[f"{key} p99"] * 1e3 for row in rows], marker="o", label=label)
    for axes in (left, right):
        axes.set_xscale("log", base=2)
        axes.set_xticks(levels, [str(int(level)) for level in levels])
        axes.set_xlabel("concurrent callers")
        axes.grid(True, alpha=0.3)
    left.set_ylabel("requests/s")
    left.set_ylim(bottom=0)
    right.set_ylabel("p99 latency, ms")
    right.set_yscale("log")
    right.yaxis.set_major_formatter(ScalarFormatter())
    right.yaxis.set_minor_formatter(NullFormatter())
    left.legend(fontsize=8)
    left.set_title("throughput", fontsize=10)
    right.set_title("p99 latency", fontsize=10)
    figure_.tight_layout()
    figure_.savefig(path)
    plt.close(figure_)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--requests", type=int, default=400, help="timed requests per contender and round"
    )
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--only", default="abcdefghi", help="contenders to run, e.g. ab")
    parser.add_argument("--scaling-rounds", type=int, default=10, help="0 skips scaling")
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
        print(f"server {url} in process {process.pid}")
        if args.only:
            main_rounds(url, args)
        if args.scaling_rounds:
            scaling(url, args)
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
