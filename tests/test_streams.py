import math
import threading
import time

import pytest

from bittap_ws import (
    Client,
    ConnectionClosed,
    EventTimeout,
    Subscription,
    SubscriptionError,
)

from .conftest import MS, wait_for

TRADES = "s_trade@BTC-USDT"
TICKER = "s_ticker@ETH-USDT"


@pytest.fixture
def quiet_server(server):
    """A server that publishes only what a test tells it to."""
    server.stream_rate = 0
    return server


def test_subscribe_and_get(client, quiet_server):
    """subscribe() waits for the acknowledgement; get() returns the next event."""
    subscription = client.subscribe(TRADES)
    assert isinstance(subscription, Subscription)
    assert quiet_server.requests[-1] == {
        "id": quiet_server.requests[-1]["id"],
        "method": "SUBSCRIBE",
        "params": [TRADES],
    }
    quiet_server.publish(TRADES, p="1.5")
    event = subscription.get(timeout=2000 * MS)
    assert (event["e"], event["s"], event["p"]) == ("s_trade", "BTC-USDT", "1.5")
    subscription.close()


@pytest.mark.parametrize("value", [math.nan, -1.0, threading.TIMEOUT_MAX * 2])
def test_get_rejects_a_nan_negative_or_huge_timeout(client, quiet_server, value):
    """get(timeout=) that is NaN, negative or beyond TIMEOUT_MAX raises ValueError at once."""
    with client.subscribe(TRADES) as subscription:
        start = time.monotonic()
        with pytest.raises(ValueError, match="timeout"):
            subscription.get(timeout=value)
        assert time.monotonic() - start < 1000 * MS


@pytest.mark.parametrize("value", [None, math.inf])
def test_get_with_an_infinite_timeout_waits_for_the_event(client, quiet_server, value):
    """get(timeout=inf) waits as long as get(timeout=None) does."""
    with client.subscribe(TRADES) as subscription:
        timer = threading.Timer(100 * MS, quiet_server.publish, args=(TRADES,))
        timer.start()
        try:
            assert subscription.get(timeout=value)["e"] == "s_trade"
        finally:
            timer.join()


def test_get_with_a_zero_timeout_polls(client, quiet_server):
    """get(timeout=0) returns a queued event, or raises EventTimeout at once."""
    with client.subscribe(TRADES) as subscription:
        with pytest.raises(EventTimeout):
            subscription.get(timeout=0)
        quiet_server.publish(TRADES)
        assert wait_for(lambda: "queued=1" in repr(subscription))
        assert subscription.get(timeout=0)["e"] == "s_trade"


def test_iterate(client, server):
    """Iterating a subscription yields events as the server publishes them."""
    server.stream_rate = 200
    with client.subscribe(TRADES) as subscription:
        events = []
        for event in subscription:
            events.append(event)
            if len(events) == 5:
                break
    assert [(event["e"], event["s"]) for event in events] == [("s_trade", "BTC-USDT")] * 5
    ids = [event["t"] for event in events]
    assert ids == sorted(set(ids))


def test_two_topics_in_one_subscription(client, quiet_server):
    """One subscription receives the events of each of its topics."""
    with client.subscribe(TRADES, TICKER) as subscription:
        quiet_server.publish(TRADES)
        quiet_server.publish(TICKER)
        events = [subscription.get(timeout=2000 * MS) for _ in range(2)]
    assert {(event["e"], event["s"]) for event in events} == {
        ("s_trade", "BTC-USDT"),
        ("s_ticker", "ETH-USDT"),
    }


def test_failed_topic(client, quiet_server):
    """A topic the server refuses raises SubscriptionError naming it."""
    with pytest.raises(SubscriptionError) as exc_info:
        client.subscribe(TRADES, "nonsense")
    exc = exc_info.value
    assert exc.topics == ("nonsense",)
    assert exc.code != 0
    # The accepted topic is unsubscribed again.
    assert quiet_server.requests[-1]["method"] == "UNSUBSCRIBE"
    assert quiet_server.requests[-1]["params"] == [TRADES]
    assert client.time() > 0


def test_get_times_out(client, quiet_server):
    """get() raises a TimeoutError when no event comes in time."""
    with client.subscribe(TRADES) as subscription:
        start = time.monotonic()
        with pytest.raises(EventTimeout) as exc_info:
            subscription.get(timeout=100 * MS)
        assert isinstance(exc_info.value, TimeoutError)
        assert 80 * MS <= time.monotonic() - start < 2000 * MS
        quiet_server.publish(TRADES)
        assert subscription.get(timeout=2000 * MS)["e"] == "s_trade"


def test_full_queue_drops_the_oldest(client, quiet_server):
    """A full queue drops its oldest events and counts them."""
    with client.subscribe(TRADES, maxsize=3) as subscription, client.subscribe(TRADES) as every:
        quiet_server.publish(TRADES, count=10)
        assert wait_for(lambda: subscription.dropped == 7)
        ids = [subscription.get(timeout=1000 * MS)["t"] for _ in range(3)]
        published = [every.get(timeout=1000 * MS)["t"] for _ in range(10)]
    assert every.dropped == 0
    assert ids == published[-3:]


def test_slow_consumer_does_not_delay_requests(client, quiet_server):
    """Requests are answered while a subscription's queue overflows."""
    with client.subscribe(TRADES, maxsize=10) as subscription:
        quiet_server.publish(TRADES, count=500)
        start = time.monotonic()
        assert client.time() > 0
        assert time.monotonic() - start < 1000 * MS
        assert wait_for(lambda: subscription.dropped == 490)


def test_close_unsubscribes(client, quiet_server):
    """close() sends UNSUBSCRIBE, is idempotent, and ends iteration."""
    subscription = client.subscribe(TRADES)
    subscription.close()
    subscription.close()
    assert quiet_server.requests[-1]["method"] == "UNSUBSCRIBE"
    assert [r["method"] for r in quiet_server.requests].count("UNSUBSCRIBE") == 1
    assert list(subscription) == []
    with pytest.raises(ConnectionClosed):
        subscription.get(timeout=100 * MS)


def test_close_keeps_topics_other_subscriptions_use(client, quiet_server):
    """Closing one of two subscriptions to a topic leaves the other receiving."""
    first = client.subscribe(TRADES)
    second = client.subscribe(TRADES)
    first.close()
    assert quiet_server.requests[-1]["method"] == "SUBSCRIBE"
    quiet_server.publish(TRADES)
    assert second.get(timeout=2000 * MS)["e"] == "s_trade"
    second.close()
    assert quiet_server.requests[-1]["method"] == "UNSUBSCRIBE"


def test_resumes_after_a_drop(server):
    """After the server drops the connection, the stream resumes by itself."""
    server.stream_rate = 100
    with Client(server.url) as client:
        with client.subscribe(TRADES) as subscription:
            subscription.get(timeout=2000 * MS)
            server.drop()
            assert wait_for(lambda: subscription.reconnects == 1, 5000 * MS)
            # Drain what came before the drop, then see new events arrive.
            assert subscription.get(timeout=2000 * MS)["e"] == "s_trade"
            assert server.connection_count == 2
            subscribes = [r for r in server.requests if r["method"] == "SUBSCRIBE"]
            assert len(subscribes) == 2


def test_resume_gives_up_after_resume_timeout(server):
    """If the connection cannot be restored in time, get() raises ConnectionClosed."""
    server.stream_rate = 0
    client = Client(server.url, resume_timeout=500 * MS, connect_timeout=200 * MS)
    try:
        subscription = client.subscribe(TRADES)
        server.on("SUBSCRIBE", action="drop")  # every attempt to resume fails
        server.drop()
        start = time.monotonic()
        with pytest.raises(ConnectionClosed):
            subscription.get(timeout=5000 * MS)
        assert time.monotonic() - start < 4000 * MS
    finally:
        client.close()


def test_client_close_ends_subscriptions(client, quiet_server):
    """Closing the client ends its subscriptions' iteration."""
    subscription = client.subscribe(TRADES)
    results = []
    thread = threading.Thread(target=lambda: results.append(list(subscription)))
    thread.start()
    time.sleep(50 * MS)
    client.close()
    thread.join(5)
    assert not thread.is_alive()
    assert results == [[]]


@pytest.mark.parametrize("topics, kwargs", [((), {}), ((TRADES,), {"maxsize": 0}), (("",), {})])
def test_bad_arguments(client, topics, kwargs):
    """subscribe() rejects no topics, empty topics and a maxsize below 1."""
    with pytest.raises(ValueError):
        client.subscribe(*topics, **kwargs)
