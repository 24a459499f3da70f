"""
The scripts in examples/, each run briefly against the bundled server.

"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from .conftest import MS
from .test_process import expect_line, finish

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"

# The scripts that run to completion: the script, arguments that keep the
# run short, and text that its output must contain. One line per example.
BRIEF_RUNS = [
    ("thread_pool.py", ["--workers", "4", "--calls", "40"], "40 calls from "),
    ("ticker.py", ["--count", "4"], "ETH-USDT "),
    ("depth.py", ["--count", "2"], "BTC-USDT scale 0.01"),
    ("order_monitor.py", ["--count", "4"], "order 1 "),
]

# The scripts that serve until interrupted, each with a test of its own.
SERVERS = ["wsgi_time.py"]


def test_every_example_is_run():
    """Each script in examples/ is run by a test in this module."""
    scripts = {path.name for path in EXAMPLES.glob("*.py")}
    assert scripts == {script for script, _, _ in BRIEF_RUNS} | set(SERVERS)


@pytest.mark.parametrize(
    "script, args, expected", BRIEF_RUNS, ids=[script for script, _, _ in BRIEF_RUNS]
)
def test_brief_run(script, args, expected):
    """The example runs against the bundled server, prints what it should and exits 0."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=30_000 * MS,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "bundled test server at ws://127.0.0.1:" in result.stdout
    # Nothing else: no warning, no traceback.
    assert result.stderr == ""


@pytest.mark.skipif(os.name != "posix", reason="stops the server with SIGINT")
def test_wsgi_time():
    """wsgi_time.py answers GET /time with the server time, 404 elsewhere, and stops on Ctrl-C."""
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "wsgi_time.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = expect_line(process, "serving on http://")
        url = line.split()[2].rstrip(";")
        with urllib.request.urlopen(url, timeout=10_000 * MS) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            data = json.load(response)
        assert data["server_time"] > 0
        assert data["iso"].startswith("20")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url.replace("/time", "/"), timeout=10_000 * MS)
        assert info.value.code == 404
        info.value.close()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = finish(process)
    assert process.returncode == 0, err
    # wsgiref logs each request to standard error; nothing else is there.
    assert [line for line in err.splitlines() if '"GET /' not in line] == []
