import logging
import re
import time

import pytest

from bittap_ws import (
    AuthenticationError,
    Client,
    ConnectionClosed,
    ServerError,
    SubscriptionError,
    sign_login,
)
from bittap_ws.testing import run_server

from .conftest import MS, wait_for

KEY = "test-key"
SECRET = "test-secret"
# The test vector of KNOWN-FACTS: our reading of BitTap's signature.
VECTOR_TIME = 1762509526408
VECTOR_SIGNATURE = "d11e8fafa947e43322ede6af8d11ec0bac67b353b9ef47ae34d303b4b918d169"


@pytest.fixture
def server():
    with run_server(credentials={KEY: SECRET}) as server:
        yield server


def make_client(server, **kwargs):
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("api_secret", SECRET)
    kwargs.setdefault("timeout", 2000 * MS)
    kwargs.setdefault("connect_timeout", 2000 * MS)
    return Client(server.url, **kwargs)


def methods(server):
    return [request["method"] for request in server.requests]


def logins(server):
    return [request for request in server.requests if request["method"] == "LOGIN"]


class TestLogin:
    def test_login_frame(self, server):
        """LOGIN sends [key, "<ms>", "<64 hex>"], the signature of that timestamp."""
        with make_client(server) as client:
            client.login()
        [login] = logins(server)
        key, timestamp, signature = login["params"]
        assert key == KEY
        assert re.fullmatch(r"[0-9]{13}", timestamp)
        assert re.fullmatch(r"[0-9a-f]{64}", signature)
        assert signature == sign_login(SECRET, int(timestamp))

    def test_timestamp_in_server_time(self, server):
        """The timestamp is within a second of the server's clock, even 10 s off ours."""
        server.clock_offset_ms = 10_000
        with make_client(server) as client:
            client.login()
            now = server.server_time()
        timestamp = int(logins(server)[0]["params"][1])
        assert abs(timestamp - now) < 1000
        # The offset was measured on this connection, before the LOGIN.
        assert methods(server)[-1] == "LOGIN" and "time" in methods(server)

    @pytest.mark.parametrize("shape", ["status", "ack"])
    def test_either_answer_shape(self, server, shape):
        """A LOGIN answered with status 200 or with code 0 succeeds."""
        server.login_answer = shape
        with make_client(server) as client:
            client.login()

    def test_emulator_accepts_the_documented_vector(self, server):
        """The emulator accepts a LOGIN written by hand from the test vector."""
        server.credentials = {KEY: SECRET}
        server.clock_offset_ms = VECTOR_TIME - int(time.time() * 1000)
        with Client(server.url) as client:
            response = client.request("LOGIN", [KEY, str(VECTOR_TIME), VECTOR_SIGNATURE])
        assert response.status == 200

    def test_emulator_refuses_a_stale_timestamp(self, server):
        """The emulator refuses a timestamp more than a minute off its clock."""
        stale = int(time.time() * 1000) - 120_000
        with Client(server.url) as client:
            with pytest.raises(Exception) as exc_info:
                client.request("LOGIN", [KEY, str(stale), sign_login(SECRET, stale)])
        assert exc_info.value.code == -1021

    @pytest.mark.parametrize("shape, status", [("status", 401), ("ack", 400)])
    def test_wrong_secret(self, server, shape, status):
        """A wrong secret raises AuthenticationError; the connection stays usable."""
        server.login_answer = shape
        with make_client(server, api_secret="wrong-secret") as client:
            with pytest.raises(AuthenticationError) as exc_info:
                client.login()
            client.ping()
        exc = exc_info.value
        assert (exc.status, exc.code, exc.method) == (status, -1022, "LOGIN")
        assert server.connection_count == 1

    def test_unknown_key(self, server):
        """An unknown API key raises AuthenticationError with the server's code."""
        with make_client(server, api_key="nobody") as client:
            with pytest.raises(AuthenticationError) as exc_info:
                client.login()
        assert exc_info.value.code == -2014

    def test_custom_signer(self, server):
        """A signer given to the client signs the LOGIN."""
        calls = []

        def signer(secret, timestamp):
            calls.append(timestamp)
            return sign_login(secret, timestamp)

        with make_client(server, signer=signer) as client:
            client.login()
        assert calls == [int(logins(server)[0]["params"][1])]

    def test_custom_signer_refused(self, server):
        """A signer the server disagrees with gets AuthenticationError."""
        with make_client(server, signer=lambda secret, ts: "0" * 64) as client:
            with pytest.raises(AuthenticationError):
                client.login()
        assert logins(server)[0]["params"][2] == "0" * 64

    def test_login_needs_credentials(self, server):
        """login() without credentials raises ValueError and sends nothing."""
        with Client(server.url) as client:
            with pytest.raises(ValueError):
                client.login()
            with pytest.raises(ValueError):
                client.subscribe("s_private")
        assert server.requests == []


class TestPrivateStreams:
    def test_subscribe_logs_in_first(self, server):
        """Subscribing to s_private sends LOGIN, then SUBSCRIBE, and gets account events."""
        with make_client(server) as client, client.subscribe("s_private") as events:
            server.publish("s_private")
            event = events.get(timeout=2000 * MS)
        assert methods(server)[-3:] == ["LOGIN", "SUBSCRIBE", "UNSUBSCRIBE"]
        assert (event["e"], event["c"]) == ("s_private", "BALANCE_UPDATE")

    def test_logged_in_once_per_connection(self, server):
        """A second private subscription on the same connection sends no second LOGIN."""
        with make_client(server) as client:
            with client.subscribe("s_private"), client.subscribe("f_private"):
                pass
        assert len(logins(server)) == 1

    def test_emulator_refuses_private_topics_before_login(self, server):
        """Without a LOGIN, the emulator refuses a private topic in its ack."""
        with Client(server.url) as client:
            with pytest.raises(SubscriptionError) as exc_info:
                client.request("SUBSCRIBE", ["s_private"])
        assert exc_info.value.topics == ("s_private",)

    def test_resume_logs_in_again(self, server):
        """After a drop, the client logs in again before it subscribes again."""
        with make_client(server) as client, client.subscribe("s_private") as events:
            server.drop()
            assert wait_for(lambda: events.reconnects == 1, 5000 * MS)
            server.publish("s_private")
            assert events.get(timeout=2000 * MS)["e"] == "s_private"
        after_drop = methods(server)[methods(server).index("SUBSCRIBE") + 1 :]
        assert after_drop.index("LOGIN") < after_drop.index("SUBSCRIBE")
        assert len(logins(server)) == 2

    def test_refused_login_on_resume_ends_private_streams(self, server):
        """A LOGIN refused on resume ends the private subscription with that error."""
        with make_client(server) as client:
            private = client.subscribe("s_private")
            public = client.subscribe("s_trade@BTC-USDT")
            server.credentials = {KEY: "rotated-secret"}
            server.drop()
            with pytest.raises(AuthenticationError):
                private.get(timeout=5000 * MS)
            assert wait_for(lambda: public.reconnects == 1, 5000 * MS)
            assert public.get(timeout=2000 * MS)["e"] == "s_trade"
            with pytest.raises(AuthenticationError):
                private.get(timeout=100 * MS)
            public.close()

    def test_client_close_ends_private_streams(self, server):
        """Closing the client ends a private subscription like any other."""
        client = make_client(server)
        events = client.subscribe("s_private")
        client.close()
        with pytest.raises(ConnectionClosed):
            events.get(timeout=100 * MS)


class TestSecrets:
    def test_no_secret_in_logs(self, server, caplog):
        """Neither the secret, nor a signature, nor the key appear in any log line."""
        caplog.set_level(logging.DEBUG, logger="bittap_ws")
        with make_client(server) as client, client.subscribe("s_private"):
            pass
        with make_client(server, api_secret="wrong-secret") as client:
            with pytest.raises(AuthenticationError):
                client.login()
        signatures = [login["params"][2] for login in logins(server)]
        text = "\n".join(record.getMessage() for record in caplog.records)
        assert "LOGIN" in text  # the frames were logged, redacted
        for secret in [SECRET, "wrong-secret", KEY, *signatures]:
            assert secret not in text

    def test_no_secret_in_repr_or_errors(self, server):
        """repr(client) and the refusal show neither secret nor signature."""
        server.login_answer = "ack"
        client = make_client(server, api_secret="wrong-secret")
        with client, pytest.raises(AuthenticationError) as exc_info:
            client.login()
        signature = logins(server)[0]["params"][2]
        for text in (repr(client), str(exc_info.value), repr(exc_info.value)):
            assert "wrong-secret" not in text and signature not in text and KEY not in text

    def test_echoed_signature_is_scrubbed(self, server):
        """A refusal that echoes the signature does not carry it into the error."""
        signature = "f" * 64
        server.on("LOGIN", status=401, error={"code": -1022, "msg": f"bad: {signature}"})
        with make_client(server, signer=lambda secret, ts: signature) as client:
            with pytest.raises(AuthenticationError) as exc_info:
                client.login()
        assert signature not in str(exc_info.value)
        assert str(exc_info.value).endswith(": bad: ***")

    def test_bad_credentials_types(self):
        """Credentials must be non-empty strings; the error does not show them."""
        with pytest.raises(TypeError) as exc_info:
            Client(api_key="k", api_secret=b"s3cr3t")
        assert "s3cr3t" not in str(exc_info.value)
        with pytest.raises(TypeError):
            Client(api_key="", api_secret="s")


class TestAccountEvents:
    def test_place_order(self, server):
        """place_order() sends NEW, FILLED and the balances it moved, as documented."""
        with make_client(server) as client, client.subscribe("s_private") as account:
            server.place_order("BTC-USDT", "BUY", "0.002")
            events = [account.get(timeout=2000 * MS) for _ in range(4)]
        assert [(e["c"], e.get("X"), e.get("a")) for e in events] == [
            ("ORDER_UPDATE", "NEW", None),
            ("ORDER_UPDATE", "FILLED", None),
            ("BALANCE_UPDATE", None, "USDT"),
            ("BALANCE_UPDATE", None, "BTC"),
        ]
        new, filled, usdt, btc = events
        assert new["i"] == filled["i"] and filled["z"] == filled["q"]
        assert btc["d"].rstrip("0") == "0.002"
        assert usdt["d"].startswith("-")
        for event in events:
            keys = {"e", "c", "E"}
            keys |= (
                {"s", "C", "S", "o", "f", "q", "p", "X", "i", "z"}
                if event["c"] == "ORDER_UPDATE"
                else {"T", "a", "d", "f", "l", "v"}
            )
            assert keys <= event.keys()

    def test_the_market_model_moves_the_account(self, server):
        """With the market running, s_private and f_private carry the account's events."""
        server.stream_rate = 100
        with make_client(server) as client, client.subscribe("s_private", "f_private") as account:
            kinds = {account.get(timeout=5000 * MS)["c"] for _ in range(5)}
        assert {"ORDER_UPDATE", "BALANCE_UPDATE"} <= kinds


class TestFailures:
    def test_a_subscription_keeps_its_client(self, server):
        """A subscription whose client was dropped still receives events, and closes."""
        import gc

        events = make_client(server).subscribe("s_trade@BTC-USDT")
        gc.collect()
        server.publish("s_trade@BTC-USDT")
        assert events.get(timeout=2000 * MS)["e"] == "s_trade"
        events.close()
        events._owner.close()

    def test_a_signer_that_raises_on_resume_ends_the_streams(self, server):
        """A signer that fails while resuming ends the subscriptions instead of leaving them waiting."""
        calls = []

        def signer(secret, timestamp):
            calls.append(timestamp)
            if len(calls) > 1:
                raise RuntimeError("the vault is down")
            return sign_login(secret, timestamp)

        with make_client(server, signer=signer) as client:
            account = client.subscribe("s_private")
            server.drop()
            with pytest.raises(ConnectionClosed) as exc_info:
                account.get(timeout=5000 * MS)
        assert isinstance(exc_info.value.__cause__, RuntimeError)

    def test_an_empty_signature_is_not_sent(self, server):
        """A signer returning an empty signature raises ValueError; no LOGIN is sent."""
        with make_client(server, signer=lambda secret, ts: "") as client:
            with pytest.raises(ValueError):
                client.login()
        assert logins(server) == []

    def test_secrets_echoed_in_a_server_error_are_scrubbed(self, server):
        """A 5xx answer to LOGIN that echoes the signature does not carry it, in msg or data."""
        signature = "e" * 64
        server.on(
            "LOGIN",
            status=503,
            error={"code": -1, "msg": f"busy {signature}", "data": {"echo": [signature]}},
        )
        with make_client(server, signer=lambda secret, ts: signature) as client:
            with pytest.raises(ServerError) as exc_info:
                client.login()
        exc = exc_info.value
        for text in (str(exc), repr(exc), repr(exc.data), repr(exc.args)):
            assert signature not in text
        assert exc.data == {"echo": ["***"]}

    def test_gave_up_errors_hold_no_traceback(self, server):
        """An error a subscription keeps after a failed resume carries no traceback of the client."""
        with make_client(server, resume_timeout=300 * MS, connect_timeout=200 * MS) as client:
            trades = client.subscribe("s_trade@BTC-USDT")
            server.on("SUBSCRIBE", action="silence")
            server.drop()
            with pytest.raises(ConnectionClosed) as exc_info:
                trades.get(timeout=5000 * MS)
        cause = exc_info.value.__cause__
        assert cause is None or cause.__traceback__ is None
