import pytest

from bittap_ws._display import describe

from .test_topics import FRAMES, ORDER_UPDATE, SPOT_DEPTH, SPOT_TRADE


@pytest.mark.parametrize(("frame", "topic"), FRAMES)
def test_every_documented_frame(frame, topic):
    """Each documented frame gets one line naming its topic."""
    line = describe(frame)
    assert "\n" not in line
    assert f" {topic} " in line or line.endswith(f" {topic}")


def test_trade_line():
    """A trade shows the taker's side, quantity and price."""
    assert describe(SPOT_TRADE).endswith("s_trade@BTC-USDT SELL 0.01200 @ 101234.56  id 12345")


def test_depth_line():
    """A depth snapshot shows its best bid and ask."""
    assert "bid 0.50000 @ 101234.55 | ask 0.30000 @ 101234.57" in describe(SPOT_DEPTH)


def test_order_line():
    """An order update shows the order."""
    assert "ORDER_UPDATE BTC-USDT BUY LIMIT 0.01000 @ 100000.00  NEW" in describe(ORDER_UPDATE)


@pytest.mark.parametrize(
    "frame",
    [{}, {"e": "s_trade", "s": "BTC-USDT"}, {"e": "s_kline_1m", "s": "X-Y", "k": 3}, {"E": 10**30}],
)
def test_odd_frames_do_not_raise(frame):
    """A frame with missing or odd fields is shown as JSON."""
    assert "{" in describe(frame)
