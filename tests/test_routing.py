"""
Stream frames reach the subscriptions of their topic, and no other.

Most frames here are written by hand, in the shapes BitTap documents (see
``test_topics``), and sent raw by the server: they test the client against
BitTap, not against the emulator. The emulator's own frames are then held
to the same documented shapes.
"""

import json
import logging

import pytest

from bittap_ws import Client, SubscriptionError, topics
from bittap_ws.topics import parse, topic_of

from .conftest import MS, wait_for
from .test_topics import FRAMES, SPOT_DEPTH, SPOT_TRADE

BTC = "s_trade@BTC-USDT"
ETH = "s_trade@ETH-USDT"
FINE = "s_depth5@BTC-USDT_0.01"
COARSE = "s_depth5@BTC-USDT_0.1"


def kind_of(topic):
    """The stream kind of ``topic``, and whether it is a futures one."""
    parts = parse(topic)
    return parts.kind, parts.futures


# A documented frame of each stream kind, spot and futures.
DOCUMENTED = {kind_of(topic): frame for frame, topic in FRAMES if "private" not in topic}


@pytest.fixture
def quiet_server(server):
    """A server that publishes only what a test tells it to."""
    server.stream_rate = 0
    return server


def send(server, frame):
    """Send ``frame`` as a raw text frame to every connection."""
    server.send(json.dumps(frame))


def drain(subscription, timeout=200 * MS):
    """Every event queued now, and those that come within ``timeout``."""
    events = []
    while True:
        try:
            events.append(subscription.get(timeout=timeout))
        except TimeoutError:
            return events


class TestHandWrittenFrames:
    def test_symbols_stay_apart(self, client, quiet_server):
        """Trades of two symbols each reach only their own subscription."""
        with client.subscribe(BTC) as btc, client.subscribe(ETH) as eth:
            send(quiet_server, {**SPOT_TRADE, "s": "ETH-USDT", "t": 1})
            send(quiet_server, {**SPOT_TRADE, "s": "BTC-USDT", "t": 2})
            send(quiet_server, {**SPOT_TRADE, "s": "ETH-USDT", "t": 3})
            assert [e["t"] for e in drain(btc)] == [2]
            assert [e["t"] for e in drain(eth)] == [1, 3]

    def test_scales_stay_apart(self, client, quiet_server):
        """Depth snapshots of two scales each reach only their own subscription."""
        with client.subscribe(FINE) as fine, client.subscribe(COARSE) as coarse:
            send(quiet_server, {**SPOT_DEPTH, "e": "s_depth5", "i": "0.1", "lastUpdateId": 1})
            send(quiet_server, {**SPOT_DEPTH, "e": "s_depth5", "i": "0.01", "lastUpdateId": 2})
            assert [e["lastUpdateId"] for e in drain(fine)] == [2]
            assert [e["lastUpdateId"] for e in drain(coarse)] == [1]

    def test_one_subscription_mixes_streams(self, client, quiet_server):
        """One subscription receives each of its streams' frames, in order."""
        with client.subscribe(BTC, FINE) as subscription:
            send(quiet_server, {**SPOT_DEPTH, "e": "s_depth5"})
            send(quiet_server, SPOT_TRADE)
            assert [e["e"] for e in drain(subscription)] == ["s_depth5", "s_trade"]

    @pytest.mark.parametrize(("frame", "topic"), FRAMES)
    def test_every_documented_frame_is_routed(self, quiet_server, frame, topic):
        """A documented frame of each stream reaches the subscription to its topic."""
        quiet_server.credentials = {"key": "secret"}  # private topics log in
        with Client(quiet_server.url, api_key="key", api_secret="secret") as client:
            with client.subscribe(topic) as subscription:
                send(quiet_server, frame)
                assert subscription.get(timeout=2000 * MS) == frame

    def test_symbol_without_its_dash(self, client, quiet_server):
        """A trade frame spelling the symbol "BTCUSDT" reaches s_trade@BTC-USDT."""
        with client.subscribe(BTC) as subscription:
            send(quiet_server, {**SPOT_TRADE, "s": "BTCUSDT"})
            assert subscription.get(timeout=2000 * MS)["s"] == "BTCUSDT"
        assert client.unrouted == 0

    def test_depth_level_of_another_stream(self, client, quiet_server):
        """An "s_depth30" frame reaches the only depth subscription of its symbol and scale."""
        with client.subscribe("s_depth1@BTC-USDT_0.01") as subscription:
            send(quiet_server, SPOT_DEPTH)  # e: s_depth30, i: 0.01
            assert subscription.get(timeout=2000 * MS)["e"] == "s_depth30"

    def test_ambiguous_frame_is_not_guessed(self, client, quiet_server):
        """With two candidate depth levels, a frame of a third one goes to neither."""
        one = client.subscribe("s_depth1@BTC-USDT_0.01")
        five = client.subscribe("s_depth5@BTC-USDT_0.01")
        with one, five:
            send(quiet_server, SPOT_DEPTH)  # s_depth30
            assert wait_for(lambda: client.unrouted == 1)
            assert drain(one, 50 * MS) == drain(five, 50 * MS) == []

    def test_unplaced_frames_are_counted_and_logged_once(self, client, quiet_server, caplog):
        """A frame of no subscription is counted, logged at WARNING once per stream, then at DEBUG."""
        caplog.set_level(logging.DEBUG, logger="bittap_ws")
        with client.subscribe(BTC):
            for _ in range(3):
                send(quiet_server, {**SPOT_TRADE, "s": "ETH-USDT"})
            send(quiet_server, {**SPOT_TRADE, "s": "SOL-USDT"})
            assert wait_for(lambda: client.unrouted == 4)
        unplaced = [r for r in caplog.records if "matches no subscription" in r.getMessage()]
        assert [r.levelno for r in unplaced] == [
            logging.WARNING,
            logging.DEBUG,
            logging.DEBUG,
            logging.WARNING,
        ]
        assert client.time() > 0

    def test_frames_that_are_not_data_frames(self, client, quiet_server, caplog):
        """Frames with an e that names no stream are counted and survived, without an error."""
        caplog.set_level(logging.DEBUG, logger="bittap_ws")
        with client.subscribe(BTC) as subscription:
            for frame in ({"e": "s_trade@BTC-USDT"}, {"e": "s_trade", "s": ["x"]}, {"e": "?"}):
                send(quiet_server, frame)
            send(quiet_server, SPOT_TRADE)
            assert subscription.get(timeout=2000 * MS) == SPOT_TRADE
        assert client.unrouted == 3
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


class TestEmulatedStreams:
    @pytest.mark.parametrize(
        "topic",
        [
            topics.trade("BTC-USDT"),
            topics.ticker("ETH-USDT"),
            topics.kline("BTC-USDT", "1m"),
            topics.kline("ETH-USDT", "1M"),
            topics.depth("BTC-USDT", "0.01", 5),
            topics.depth("ETH-USDT", "1"),
            topics.trade("BTC-USDT-M", futures=True),
            topics.ticker("BTC-USDT-M", futures=True),
            topics.kline("BTC-USDT-M", "4h", futures=True),
            topics.depth("BTC-USDT-M", "0.1", 10, futures=True),
            topics.book_ticker("BTC-USDT-M"),
            topics.mark_price("BTC-USDT-M"),
        ],
    )
    def test_every_stream(self, client, quiet_server, topic):
        """The emulator serves each stream in the documented shape of its kind."""
        with client.subscribe(topic) as subscription:
            quiet_server.publish(topic)
            event = subscription.get(timeout=2000 * MS)
        assert topic_of(event) == topic
        expected = DOCUMENTED[kind_of(topic)]
        assert event.keys() == expected.keys()
        for key, value in expected.items():
            assert type(event[key]) is type(value), key
        if "k" in expected:
            assert event["k"].keys() == expected["k"].keys()
            assert event["k"]["i"] == parse(topic).interval

    def test_unknown_topics_fail_in_the_ack(self, client, quiet_server):
        """A symbol or scale the exchange lacks is refused, and listed."""
        with pytest.raises(SubscriptionError) as exc_info:
            client.subscribe(BTC, "s_trade@DOGE-USDT", "s_depth5@BTC-USDT_0.003")
        assert exc_info.value.topics == ("s_trade@DOGE-USDT", "s_depth5@BTC-USDT_0.003")

    def test_streams_resume_apart_after_a_drop(self, server):
        """After a dropped connection, two symbols' streams both resume and stay apart."""
        server.stream_rate = 50
        with Client(server.url) as client:
            with client.subscribe(BTC) as btc, client.subscribe(ETH) as eth:
                btc.get(timeout=2000 * MS)
                server.drop()
                assert wait_for(lambda: btc.reconnects == eth.reconnects == 1, 5000 * MS)
                for _ in range(5):
                    assert btc.get(timeout=2000 * MS)["s"] == "BTC-USDT"
                    assert eth.get(timeout=2000 * MS)["s"] == "ETH-USDT"
