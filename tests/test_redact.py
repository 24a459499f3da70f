import json
import logging
import socket

import pytest

from bittap_ws import Client, ConnectError
from bittap_ws._redact import REDACTED, redact, redact_frame, redact_url

from .conftest import MS, wait_for

SIGNATURE = "c5b0e3f1d2a4968778a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdef"
SHA512_HMAC = SIGNATURE * 2
TOKEN = "tok-5ecr3t-value"


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

    @pytest.mark.parametrize(
        "key", ["sign", "sig", "hmac", "auth", "apiSign", "x-sig", "HMAC_SHA512", "authKey", "Auth"]
    )
    def test_short_secret_words_as_whole_words(self, key):
        """sign, sig, hmac and auth make a key secret as words of its name."""
        assert redact({key: "s3cr3t"}) == {key: REDACTED}

    @pytest.mark.parametrize(
        "key", ["signal", "design", "assigned", "author", "authorized", "sigma", "signals"]
    )
    def test_words_that_merely_contain_them_are_not_secret(self, key):
        """Keys like signal or author, which only contain those letters, are left alone."""
        assert redact({key: "visible"}) == {key: "visible"}

    def test_sha512_hex_anywhere(self):
        """A 128-hex-digit string (an HMAC-SHA512) is replaced like a 64-digit one."""
        assert redact({"params": ["a", SHA512_HMAC]}) == {"params": ["a", REDACTED]}
        assert SHA512_HMAC not in redact_frame(f"oops [{SHA512_HMAC!r}")

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

    def test_short_words_in_text_that_is_not_json(self):
        """sign=, sig: and hmac= values are redacted in a frame that is not JSON; signal= is not."""
        out = redact_frame("oops sign=aaa sig: bbb hmac=ccc signal=ddd")
        assert "aaa" not in out and "bbb" not in out and "ccc" not in out
        assert "signal=ddd" in out

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


class TestRedactUrl:
    @pytest.mark.parametrize(
        "url, shown",
        [
            ("wss://h/endpoint?format=JSON", "wss://h/endpoint?format=JSON"),
            (
                f"wss://h/endpoint?format=JSON&token={TOKEN}",
                "wss://h/endpoint?format=JSON&token=***",
            ),
            (f"ws://h:9/p?listenKey={TOKEN}&x=1", "ws://h:9/p?listenKey=***&x=***"),
            (f"ws://h/p?{TOKEN}", "ws://h/p?***"),
            (f"ws://user:{TOKEN}@h/p", "ws://user:***@h/p"),
            (f"ws://{TOKEN}@h/p", "ws://***@h/p"),
            ("ws://h/p", "ws://h/p"),
            (f"ws://h/p?a=1#{TOKEN}", "ws://h/p?a=***#***"),
        ],
    )
    def test_query_values_and_password_are_hidden(self, url, shown):
        """Every query value but format's, the userinfo password and a fragment are replaced."""
        assert redact_url(url) == shown

    def test_repr_hides_the_token(self):
        """repr(client) shows the URL without the token."""
        client = Client(f"ws://127.0.0.1:9/endpoint?format=JSON&token={TOKEN}")
        assert TOKEN not in repr(client)
        assert "format=JSON&token=***" in repr(client)

    def test_invalid_url_error_hides_the_token(self):
        """The ValueError for a URL that is not ws:// or wss:// hides the token."""
        with pytest.raises(ValueError) as exc_info:
            Client(f"https://h/endpoint?token={TOKEN}")
        assert TOKEN not in str(exc_info.value)

    def test_connect_errors_and_logs_hide_the_token(self, server, caplog):
        """ConnectError messages and DEBUG logs never show the token of the URL."""
        caplog.set_level(logging.DEBUG, logger="bittap_ws")
        refused = socket.socket()
        refused.bind(("127.0.0.1", 0))
        port = refused.getsockname()[1]
        refused.close()
        # Below the first backoff (0.25 s at least), so that the second
        # attempt is refused by it: a refused connection fails at once.
        client = Client(f"ws://127.0.0.1:{port}/endpoint?token={TOKEN}", connect_timeout=0.2)
        errors = []
        for _ in range(2):  # the second is refused by the backoff
            with pytest.raises(ConnectError) as exc_info:
                client.connect()
            errors.append(str(exc_info.value))
        assert all(TOKEN not in error and "token=***" in error for error in errors)
        assert "not retrying" in errors[1]
        with Client(f"{server.url}&token={TOKEN}", timeout=2000 * MS) as client:
            client.time()
            assert TOKEN not in repr(client)
            server.drop()
            assert wait_for(lambda: "disconnected" in repr(client))
        assert any("lost" in record.getMessage() for record in caplog.records)
        assert TOKEN not in caplog.text
