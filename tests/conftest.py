import os
import threading
import time

import pytest

from bittap_ws import Client
from bittap_ws.testing import run_server

# One unit of time for every timeout in the tests, scaled on slow machines
# with BITTAP_WS_TEST_TIMEOUT_FACTOR.
MS = 0.001 * float(os.environ.get("BITTAP_WS_TEST_TIMEOUT_FACTOR", "1"))


def wait_for(predicate, timeout=2000 * MS):
    """Poll ``predicate`` until it holds or ``timeout`` passes; return it."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(MS)
    return True


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a thread of its own running."""
    before = set(threading.enumerate())
    yield

    def leaked():
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]

    wait_for(lambda: not leaked(), 3000 * MS)
    assert not leaked(), f"leaked threads: {leaked()}"


@pytest.fixture
def server():
    with run_server() as server:
        yield server


@pytest.fixture
def client(server):
    with Client(server.url, timeout=2000 * MS, connect_timeout=2000 * MS) as client:
        yield client
