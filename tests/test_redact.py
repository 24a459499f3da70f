import json
import logging

import pytest

from bittap_ws import Client
from bittap_ws._redact import REDACTED, redact, redact_frame

from .conftest import MS

SIGNATURE = "c5b0e3f1d2a4968778a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdef"


class TestRedact:
    @pytest.mark.parametrize(
        "key",
        ["apiKey", "secretKey", "signature", "password", "listenKey", "token", "API_KEY"],
    )
    def test_secret_keys(self, key):
        """The value of a secret-looking key is replaced, whatever its type."""
        assert redact({key: "s3cr3t", "symbol": "BTC-USDT"}) == {
            key: REDACTED,
            "symbol": "BTC-USDT",
        }
        assert redact({key: 12345}) == {key: REDACTED}

    def test_nested(self):
        """Secrets are found at any depth, in objects inside lists."""
        frame = {"params": {"orders": [{"apiKey": "k", "quantity": "1"}]}, "id": "1"}
        assert redact(frame) == {
            "params": {"orders": [{"apiKey": REDACTED, "quantity": "1"}]},
            "id": "1",
        }

    def test_login_list_params(self):
        """LOGIN's list params keep the timestamp and lose the key and the signature."""
        frame = {"method": "LOGIN", "params": ["my-api-key", "1700000000000", "sig"], "id": "1"}
        assert redact(frame)["params"] == [REDACTED, "1700000000000", REDACTED]

    def test_login_is_case_insensitive(self):
        """A lower-case login is redacted too."""
        frame = {"method": "login", "params": ["my-api-key", "1700000000000", "sig"]}
        assert redact(frame)["params"] == [REDACTED, "1700000000000", REDACTED]

    def test_hex_signature_anywhere(self):
        """A 64-hex-digit string looks like a signature and is replaced."""
        assert redact({"method": "X", "params": ["a", SIGNATURE]})["params"] == ["a", REDACTED]

    def test_ordinary_frames_unchanged(self):
        """Frames without secrets come out equal."""
        frame = {
            "id": "1",
            "status": 200,
            "result": {"serverTime": 1700000000000},
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "count": 1}],
        }
        assert redact(frame) == frame

    def test_input_not_modified(self):
        """Redaction returns a copy."""
        frame = {"params": {"apiKey": "k"}}
        redact(frame)
        assert frame == {"params": {"apiKey": "k"}}


class TestRedactFrame:
    def test_json_text(self):
        """A JSON frame comes back as compact JSON without its secrets."""
        text = json.dumps({"method": "order", "params": {"apiKey": "k", "signature": SIGNATURE}})
        out = redact_frame(text)
        assert json.loads(out) == {
            "method": "order",
            "params": {"apiKey": REDACTED, "signature": REDACTED},
        }
        assert "k\"" not in out and SIGNATURE not in out

    def test_bytes(self):
        """A frame given as bytes is decoded."""
        assert redact_frame(b'{"token": "t"}') == '{"token":"***"}'

    def test_not_json(self):
        """Secret pairs in a frame that is not JSON are redacted too."""
        out = redact_frame('oops {"apiKey": "abc", apiSecret=xyz&x=1 signature: def')
        assert "abc" not in out and "xyz" not in out and "def" not in out
        assert "x=1" in out

    def test_invalid_utf8(self):
        """A frame that is not UTF-8 does not raise."""
        assert redact_frame(b"\xff\xfe apiKey=abc") == "\ufffd\ufffd apiKey=***"

    def test_limit(self):
        """A long frame is cut and says how long it was."""
        out = redact_frame("x" * 50, limit=10)
        assert out == "xxxxxxxxxx... (50 characters)"


class TestLogging:
    def test_debug_shows_frames_redacted(self, server, caplog):
        """At DEBUG, frames sent and received are logged without their secrets."""
        server.on("LOGIN", result={"apiKey": "my-api-key", "authorized": True})
        caplog.set_level(logging.DEBUG, logger="bittap_ws")
        with Client(server.url, timeout=2000 * MS) as client:
            client.request("LOGIN", ["my-api-key", "1700000000000", SIGNATURE])
        messages = [record.getMessage() for record in caplog.records]
        sent = [m for m in messages if m.startswith("sending")]
        received = [m for m in messages if m.startswith("received")]
        assert len(sent) == 1 and len(received) == 1
        assert '"LOGIN"' in sent[0] and "1700000000000" in sent[0]
        assert '"authorized":true' in received[0]
        assert all("my-api-key" not in m and SIGNATURE not in m for m in messages)
        assert {record.name for record in caplog.records} == {"bittap_ws"}

    def test_no_frames_logged_above_debug(self, client, caplog):
        """At INFO, nothing is logged for a normal call."""
        caplog.set_level(logging.INFO, logger="bittap_ws")
        client.time()
        assert caplog.records == []

    def test_ignored_frame_warning_redacted(self, server, caplog):
        """The warning for an unroutable frame does not leak its secrets."""
        caplog.set_level(logging.WARNING, logger="bittap_ws")
        with Client(server.url, timeout=2000 * MS) as client:
            server.garbage = ['not json apiKey=my-api-key']
            client.ping()
        messages = [record.getMessage() for record in caplog.records]
        assert any("ignored a frame" in m for m in messages)
        assert all("my-api-key" not in m for m in messages)
