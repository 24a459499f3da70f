import os
import time
import warnings

import pytest

from bittap_ws import Client, ConnectionClosed, RequestTimeout
from bittap_ws.protocol import Unroutable, decode

from .conftest import MS


def test_deeply_nested_json_is_unroutable():
    """A frame nested too deep to parse is unroutable, not an error."""
    result = decode("[" * 100_000 + "]" * 100_000)
    assert isinstance(result, Unroutable)


def test_reader_survives_deeply_nested_json(client, server):
    """The reader survives a frame nested too deep to parse."""
    server.garbage = ["[" * 100_000]
    assert client.time() > 0
    assert server.connection_count == 1


def test_write_to_a_stalled_peer_is_bounded(server):
    """A write that cannot complete ends by the call's timeout, even without keepalive."""
    with Client(server.url, ping_interval=None, ping_timeout=None) as client:
        client.ping()
        server.stall()
        start = time.monotonic()
        with pytest.raises((RequestTimeout, ConnectionClosed)):
            client.request("big", {"x": "a" * 32_000_000}, timeout=500 * MS)
        assert time.monotonic() - start < 3000 * MS
        # The half-written connection was dropped; the next call reconnects.
        server.unstall()
        assert client.time() > 0
        assert server.connection_count == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
def test_subscriptions_end_in_a_forked_child(client, server):
    """A subscription inherited through fork() fails at once in the child."""
    server.stream_rate = 0
    subscription = client.subscribe("s_trade@BTC-USDT")
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            subscription.get(timeout=5.0)
        except ConnectionClosed:
            code = 0
        except BaseException:
            code = 2
        os._exit(code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(10 * MS)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child hung")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    # The parent's subscription still works.
    server.publish("s_trade@BTC-USDT")
    assert subscription.get(timeout=2000 * MS)["e"] == "s_trade@BTC-USDT"
    subscription.close()
