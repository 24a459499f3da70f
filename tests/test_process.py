"""
The client in whole programs: Ctrl-C, exiting without close(), fork().

Each test runs a short program in a subprocess and watches it from outside.

"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from .conftest import MS

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals and fork")


def start(program, *args):
    """Start ``program`` in a new Python interpreter, with pipes for its output."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(program), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expect_line(process, prefix, timeout=10_000 * MS):
    """Read lines from ``process`` until one starts with ``prefix``; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line.strip()
    process.kill()
    out, err = process.communicate()
    pytest.fail(f"no line starting with {prefix!r}; stdout: {out!r}; stderr: {err!r}")


def finish(process, timeout=10_000 * MS):
    """Wait for ``process`` to end; return its remaining stdout and stderr."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"still running after {timeout} s; stdout: {out!r}; stderr: {err!r}")


INTERRUPTED_CALL = """
    import sys, threading, time
    from bittap_ws import Client
    from bittap_ws.testing import run_server

    with run_server() as server:
        server.on("time", action="silence", times=1)
        with Client(server.url, timeout=30) as client:
            def announce():
                while not server.requests:
                    time.sleep(0.001)
                print("WAITING", flush=True)
            threading.Thread(target=announce).start()
            start = time.monotonic()
            try:
                client.time()
            except KeyboardInterrupt:
                print("INTERRUPTED %.3f" % (time.monotonic() - start), flush=True)
            print("STATE", repr(client), flush=True)
            print("TIME", client.time(timeout=5), flush=True)
    print("OK", flush=True)
"""


@posix_only
def test_ctrl_c_interrupts_a_blocking_call():
    """SIGINT during a 30 s call raises KeyboardInterrupt at once; the client stays usable."""
    process = start(INTERRUPTED_CALL)
    expect_line(process, "WAITING")
    time.sleep(100 * MS)  # the caller is now blocked waiting for its answer
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    interrupted = expect_line(process, "INTERRUPTED")
    latency = time.monotonic() - sent
    assert latency < 1000 * MS
    assert float(interrupted.split()[1]) < 5
    assert "pending=0" in expect_line(process, "STATE")
    assert int(expect_line(process, "TIME").split()[1]) > 0
    expect_line(process, "OK")
    out, err = finish(process)
    assert process.returncode == 0, err


FORGETFUL = """
    import sys
    from bittap_ws import Client

    client = Client(sys.argv[1], timeout=5, ping_interval=0.05, ping_timeout=5)
    client.time()
    print("CONNECTED", repr(client), flush=True)
    # No close(): the interpreter must exit anyway.
"""


def test_program_without_close_exits_promptly(server):
    """A program that never calls close() exits at once, with keepalive running."""
    process = start(FORGETFUL, server.url)
    line = expect_line(process, "CONNECTED")
    assert "state=open" in line
    connected = time.monotonic()
    out, err = finish(process, timeout=2000 * MS)
    assert time.monotonic() - connected < 2000 * MS
    assert process.returncode == 0, err
    assert "Traceback" not in err


BLOCKED_THREAD = """
    import sys, threading
    from bittap_ws import Client

    client = Client(sys.argv[1], timeout=30, ping_interval=0.05, ping_timeout=5)
    client.connect()
    # A worker thread blocked on a call must not keep the program alive either.
    threading.Thread(target=client.time, daemon=True).start()
    print("CONNECTED", flush=True)
"""


def test_program_exits_while_a_daemon_thread_waits_for_an_answer(server):
    """A program exits promptly while a daemon thread waits on an unanswered call."""
    server.on("time", action="silence")
    process = start(BLOCKED_THREAD, server.url)
    expect_line(process, "CONNECTED")
    connected = time.monotonic()
    out, err = finish(process, timeout=2000 * MS)
    assert time.monotonic() - connected < 2000 * MS
    assert process.returncode == 0, err


FORKED = """
    import os, sys, threading, time, warnings
    from bittap_ws import Client

    client = Client(sys.argv[1], timeout=5)
    print("PARENT", client.time(), flush=True)
    def wait_in_vain():
        try:
            client.request("slow", timeout=1)
        except Exception as exc:
            print("WAITER", type(exc).__name__, flush=True)

    waiter = threading.Thread(target=wait_in_vain)
    if sys.argv[2] == "pending":
        # A call is waiting on the parent's connection while it forks.
        waiter.start()
        time.sleep(0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            print("CHILD", client.time(timeout=3), repr(client), flush=True)
            code = 0
        except Exception as exc:
            print("CHILD FAILED", type(exc).__name__, exc, flush=True)
        finally:
            os._exit(code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            print("CHILD EXIT", os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8, flush=True)
            break
        time.sleep(0.01)
    else:
        os.kill(pid, 9)
        print("CHILD HUNG", flush=True)
    print("PARENT AGAIN", client.time(), repr(client), flush=True)
    if waiter.ident is not None:
        waiter.join()
    client.close()
"""


@posix_only
@pytest.mark.parametrize("situation", ["idle", "pending"])
def test_client_after_fork_reconnects(server, situation):
    """A client used in a forked child opens its own connection; the parent's keeps working."""
    if situation == "pending":
        server.on("slow", action="silence")
    process = start(FORKED, server.url, situation)
    expect_line(process, "PARENT")
    child = expect_line(process, "CHILD")
    assert child.startswith("CHILD ") and "FAILED" not in child, child
    assert "state=open" in child
    assert expect_line(process, "CHILD EXIT") == "CHILD EXIT 0"
    assert "state=open" in expect_line(process, "PARENT AGAIN")
    if situation == "pending":
        assert expect_line(process, "WAITER") == "WAITER RequestTimeout"
    out, err = finish(process)
    assert process.returncode == 0, err
    # The child opened a connection of its own, with request ids of its own.
    assert server.connection_count == 2
    prefixes = {request["id"].rsplit("-", 1)[0] for request in server.requests}
    assert len(prefixes) == 2


UNCONFIGURED_LOGGING = """
    import sys, time
    from bittap_ws import Client

    with Client(sys.argv[1], timeout=5) as client:
        client.time()
        print("CONNECTED", flush=True)
        sys.stdin.readline()  # the test sends a frame nobody asked for
        time.sleep(0.2)
        client.time()
    print("OK", flush=True)
"""


def test_warnings_stay_quiet_without_logging_configured(server):
    """A program that configured no logging prints nothing on stderr when the client warns."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(UNCONFIGURED_LOGGING), server.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    expect_line(process, "CONNECTED")
    server.send("not JSON")  # logged at WARNING by the reader
    process.stdin.write("\n")
    process.stdin.flush()
    expect_line(process, "OK")
    out, err = finish(process)
    assert process.returncode == 0, err
    assert "ignored a frame" not in err
