"""
Many threads through one client: every answer reaches its caller.

"""

import itertools
import threading
import time

from bittap_ws import Client
from bittap_ws.testing import run_server

from .conftest import MS, wait_for

THREADS = 16
CALLS = 500


def test_16_threads_x_500_calls_through_one_client():
    """16 threads x 500 calls with answers in random order: none lost, none crossed, no slot left."""
    before = set(threading.enumerate())
    results = [[] for _ in range(THREADS)]
    errors = []
    with run_server(jitter=2 * MS) as server:  # answers come back out of order
        for n in range(THREADS):
            server.on(f"echo{n}", result={"n": n})
        # 8000 calls exceed the bundled server's 6000 a minute: the client
        # must not refuse them locally.
        client = Client(server.url, timeout=10_000 * MS, rate_limit_guard=False)
        client.connect()
        start = threading.Barrier(THREADS)
        done = itertools.count()
        finished = {}

        def work(n):
            try:
                start.wait(5)
                for i in range(CALLS):
                    response = client.request(f"echo{n}", {"i": i})
                    results[n].append((response.id, response.result["n"]))
                    finished[response.id] = next(done)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(n,), name=f"stress-{n}")
            for n in range(THREADS)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - began
        assert not any(thread.is_alive() for thread in threads)
        assert not errors, errors[:3]
        assert "pending=0" in repr(client)
        assert server.connection_count == 1

        # Each caller got one answer per call, to its own method...
        assert [len(r) for r in results] == [CALLS] * THREADS
        assert all(n_seen == n for n, r in enumerate(results) for _, n_seen in r)
        # ... and to its own request: the answer ids are those the server got.
        answered = [id for r in results for id, _ in r]
        assert len(set(answered)) == THREADS * CALLS
        received = {request["id"]: request for request in server.requests}
        assert set(answered) == set(received)
        for n, r in enumerate(results):
            sent = [received[id] for id, _ in r]
            assert [req["params"]["i"] for req in sent] == list(range(CALLS))
            assert all(req["method"] == f"echo{n}" for req in sent)

        # The answers did come back out of order.
        order = [finished[request["id"]] for request in server.requests]
        assert order != sorted(order)
        client.close()
    assert elapsed < 20_000 * MS
    assert wait_for(lambda: set(threading.enumerate()) <= before)
