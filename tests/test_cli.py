import datetime
import json
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from bittap_ws.cli import main

from .conftest import MS

# Each command runs in a new interpreter: allow for its start-up.
RUN_TIMEOUT = 15000 * MS


def run(*args, timeout=RUN_TIMEOUT):
    """Run ``python -m bittap_ws *args``; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "bittap_ws", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONWARNINGS="default"),
    )


def parse_iso(text):
    """Parse the ISO 8601 time printed by the CLI."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_one_line_failure(proc, command):
    """The process failed with one line on stderr and no traceback."""
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"bittap-ws {command}: error: ")
    assert "Traceback" not in proc.stderr


class ServeProcess:
    """``bittap-ws serve`` in a subprocess, with its URL read from stdout."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bittap_ws", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            ready = selector.select(RUN_TIMEOUT)
        if not ready:
            self.stop(signal.SIGKILL)
            pytest.fail("serve printed no URL in time")
        self.url = self.proc.stdout.readline().strip()

    def stop(self, signum=signal.SIGTERM):
        """Send ``signum``; return the exit status and the rest of the output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            out, err = self.proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        return self.proc.returncode, out, err


@pytest.fixture
def serve_process():
    served = ServeProcess()
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            served.stop(signal.SIGKILL)


class TestSubprocess:
    def test_ping_unreachable_fails_in_one_line(self):
        """ping against a closed port prints one line to stderr and exits 1."""
        proc = run("ping", "--url", "ws://127.0.0.1:9/", "--timeout", "5")
        assert_one_line_failure(proc, "ping")
        assert "cannot connect to ws://127.0.0.1:9/" in proc.stderr

    def test_serve_then_time(self, serve_process):
        """serve prints its URL first; time against it prints the server time."""
        assert serve_process.url.startswith("ws://127.0.0.1:")
        proc = run("time", "--url", serve_process.url)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("server time ")
        iso = proc.stdout.split()[2]
        moment = parse_iso(iso)
        now = datetime.datetime.now(datetime.timezone.utc)
        assert abs((moment - now).total_seconds()) < 60
        assert "clock offset" in proc.stdout
        status, out, _ = serve_process.stop(signal.SIGTERM)
        assert status == 0
        assert out == ""

    def test_serve_stops_on_sigint(self, serve_process):
        """serve exits 0 on Ctrl-C, without a traceback."""
        assert run("ping", "--url", serve_process.url).returncode == 0
        status, _, err = serve_process.stop(signal.SIGINT)
        assert status == 0
        assert "Traceback" not in err

    def test_serve_port(self, server):
        """serve on a port in use fails in one line."""
        proc = run("serve", "--port", str(server.port))
        assert_one_line_failure(proc, "serve")

    def test_verbose_logs_frames(self, server):
        """ping -v logs the frames sent and received to stderr."""
        proc = run("ping", "--url", server.url, "-v")
        assert proc.returncode == 0, proc.stderr
        assert "sending" in proc.stderr and '"method":"ping"' in proc.stderr
        assert "received" in proc.stderr

    def test_demo(self):
        """demo runs the client against the bundled server and closes cleanly."""
        proc = run("demo")
        assert proc.returncode == 0, proc.stderr
        assert "closed cleanly" in proc.stdout
        assert "Traceback" not in proc.stderr

    def test_console_script(self, server):
        """The bittap-ws console script is installed next to the interpreter."""
        script = os.path.join(os.path.dirname(sys.executable), "bittap-ws")
        if not os.path.exists(script):  # pragma: no cover - not installed with pip
            pytest.skip("bittap-ws script not installed")
        proc = subprocess.run(
            [script, "ping", "--url", server.url, "--json"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["url"] == server.url


class TestInProcess:
    def test_ping(self, server, capsys):
        """ping prints the round trip."""
        assert main(["ping", "--url", server.url]) == 0
        out = capsys.readouterr().out
        assert out.startswith("pong in ") and out.endswith(" ms\n")

    def test_ping_json(self, server, capsys):
        """ping --json prints one JSON object."""
        assert main(["ping", "--url", server.url, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["url"] == server.url
        assert data["rtt_ms"] >= 0

    def test_time_json(self, server, capsys):
        """time --json prints the server time, in ms and ISO 8601, and the offset."""
        server.clock_offset_ms = 5000
        before = time.time() * 1000
        assert main(["time", "--url", server.url, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert before + 4000 < data["server_time"] < time.time() * 1000 + 6000
        assert round(parse_iso(data["iso"]).timestamp() * 1000) == data["server_time"]
        assert 4000 < data["clock_offset_ms"] < 6000

    def test_time_text(self, server, capsys):
        """time prints the ISO 8601 time and a signed offset."""
        assert main(["time", "--url", server.url]) == 0
        out = capsys.readouterr().out
        assert out.startswith("server time 20") and "Z (clock offset " in out

    def test_timeout(self, server, capsys):
        """A server that does not answer makes time fail within --timeout."""
        server.on("time", action="silence")
        start = time.monotonic()
        assert main(["time", "--url", server.url, "--timeout", str(200 * MS)]) == 1
        assert time.monotonic() - start < 2000 * MS
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("bittap-ws time: error: ")
        assert len(captured.err.splitlines()) == 1

    def test_api_error(self, server, capsys):
        """An error status is reported in one line."""
        server.on("ping", status=400, error={"code": -1100, "msg": "Bad\nthing."})
        assert main(["ping", "--url", server.url]) == 1
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "-1100" in err

    def test_bad_url(self, capsys):
        """A URL that is not ws:// or wss:// is reported in one line."""
        assert main(["ping", "--url", "http://example.com/"]) == 1
        err = capsys.readouterr().err
        assert err == "bittap-ws ping: error: not a WebSocket URL (ws:// or wss://): 'http://example.com/'\n"

    def test_usage(self, capsys):
        """No command is a usage error, as argparse reports it."""
        with pytest.raises(SystemExit) as info:
            main([])
        assert info.value.code == 2


class TestStream:
    def test_serve_then_stream_five_trades(self, serve_process):
        """stream --count 5 against serve prints five trades and exits 0."""
        proc = run("stream", "s_trade@BTC-USDT", "--count", "5", "--url", serve_process.url)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == 5
        for line in lines:
            clock, topic, side, quantity, at, price, *_ = line.split()
            assert topic == "s_trade@BTC-USDT"
            assert side in ("BUY", "SELL") and at == "@"
            assert float(quantity) > 0 and float(price) > 0
            assert len(clock) == len("12:00:00.000")

    def test_stream_ends_on_ctrl_c(self, serve_process):
        """stream runs until Ctrl-C, then exits 0 without a traceback."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "bittap_ws", "stream", "s_ticker@ETH-USDT", "--url", serve_process.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            first = proc.stdout.readline()
            assert "s_ticker@ETH-USDT last " in first
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=RUN_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0
        assert "Traceback" not in err

    def test_stream_json(self, server, capsys):
        """stream --json prints each event as one JSON object per line."""
        topics = ["s_depth5@BTC-USDT_0.01", "s_kline_1m@BTC-USDT"]
        assert main(["stream", *topics, "--url", server.url, "--count", "4", "--json"]) == 0
        events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(events) == 4
        assert {event["e"] for event in events} == {"s_depth5", "s_kline_1m"}

    @pytest.mark.parametrize(
        "topic, expected",
        [
            ("s_depth5@BTC-USDT_0.01", " bid "),
            ("s_kline_1m@BTC-USDT", " close "),
            ("f_markPrice@BTC-USDT-M", " funding "),
            ("f_bookTicker@BTC-USDT-M", " | ask "),
        ],
    )
    def test_stream_lines(self, server, capsys, topic, expected):
        """Each stream kind has its own compact line."""
        assert main(["stream", topic, "--url", server.url, "--count", "1"]) == 0
        line = capsys.readouterr().out
        assert f" {topic} " in line and expected in line

    def test_stream_refused_topic(self, server, capsys):
        """A topic the server refuses fails in one line."""
        assert main(["stream", "s_trade@NOPE-USDT", "--url", server.url]) == 1
        err = capsys.readouterr().err
        assert err.startswith("bittap-ws stream: error: ") and "NOPE-USDT" in err

    def test_demo_shows_trades_and_a_depth_snapshot(self, capsys):
        """demo prints a few trades and a depth snapshot."""
        assert main(["demo"]) == 0
        out = capsys.readouterr().out
        assert out.count(" s_trade@BTC-USDT ") == 3
        assert " s_depth5@BTC-USDT_0.01 bid " in out


class TestLogin:
    @pytest.fixture
    def server(self):
        from bittap_ws.testing import run_server

        with run_server(credentials={"key": "secret"}) as server:
            yield server

    def test_login_succeeds(self, server, capsys, monkeypatch):
        """login with good credentials from the environment says so and exits 0."""
        monkeypatch.setenv("BITTAP_API_KEY", "key")
        monkeypatch.setenv("BITTAP_API_SECRET", "secret")
        assert main(["login", "--url", server.url]) == 0
        assert capsys.readouterr().out == "LOGIN succeeded\n"

    def test_login_refused(self, server, capsys, monkeypatch):
        """login with a wrong secret fails in one line, without the secret."""
        monkeypatch.setenv("BITTAP_API_KEY", "key")
        monkeypatch.setenv("BITTAP_API_SECRET", "wrong-secret")
        assert main(["login", "--url", server.url]) == 1
        err = capsys.readouterr().err
        assert err.startswith("bittap-ws login: error: LOGIN failed with status 401")
        assert "wrong-secret" not in err

    def test_login_needs_the_environment(self, server, capsys, monkeypatch):
        """login without credentials in the environment says where to put them."""
        monkeypatch.delenv("BITTAP_API_KEY", raising=False)
        monkeypatch.delenv("BITTAP_API_SECRET", raising=False)
        assert main(["login", "--url", server.url]) == 1
        assert "BITTAP_API_KEY" in capsys.readouterr().err
        assert server.requests == []

    def test_stream_private(self, server, capsys, monkeypatch):
        """stream s_private logs in with the environment's credentials."""
        monkeypatch.setenv("BITTAP_API_KEY", "key")
        monkeypatch.setenv("BITTAP_API_SECRET", "secret")
        import threading

        def publish_when_subscribed():
            for _ in range(200):
                if server.publish("s_private"):
                    return
                threading.Event().wait(0.01)

        thread = threading.Thread(target=publish_when_subscribed)
        thread.start()
        try:
            assert main(["stream", "s_private", "--url", server.url, "--count", "1"]) == 0
        finally:
            thread.join()
        assert " s_private BALANCE_UPDATE USDT " in capsys.readouterr().out
