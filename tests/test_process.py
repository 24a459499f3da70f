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


SIGNAL_BARRAGE = """
    import gc, os, random, signal, sys, threading, time
    from bittap_ws import BitTapError, Client

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # Thousands of calls a minute: more than the server's rate limit, which
    # the guard would then enforce. Interrupts are what this is about.
    client = Client(sys.argv[1], timeout=2, connect_timeout=2, rate_limit_guard=False)
    threads, fds = threading.active_count(), len(os.listdir("/proc/self/fd"))
    client.time()
    signal.signal(signal.SIGALRM, interrupt)
    interrupts = calls = 0
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        # One interrupt, from 50 us to 5 ms into the step: wherever it lands,
        # the script's own except and finally clauses included, the outer
        # handler counts it, and no second one can come.
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, random.uniform(50e-6, 5e-3))
                step = random.random()
                if step < 0.05:
                    client.close()
                elif step < 0.1:
                    client.connect()
                else:
                    client.time()
                    calls += 1
            except BitTapError:
                pass
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except KeyboardInterrupt:
            interrupts += 1
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    print("BARRAGE", interrupts, calls, flush=True)
    start = time.monotonic()
    client.connect()
    print("TIME", client.time(timeout=2), "%.3f" % (time.monotonic() - start), flush=True)
    client.close()
    # Threads that run. An interrupt inside Thread.start() can leave a
    # Thread that never runs in threading's registry (CPython's start() is
    # not interrupt-safe): it counts in active_count() but holds nothing.
    def running():
        return [t for t in threading.enumerate() if t.is_alive()]

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (
        len(running()) > threads or len(os.listdir("/proc/self/fd")) > fds
    ):
        # A socket that websocket-client made, interrupted before it could
        # hand it over, is closed when its traceback is collected.
        gc.collect()
        time.sleep(0.01)
    names = sorted(t.name for t in running() if t is not threading.main_thread())
    print("THREADS", len(running()) - threads, *names, flush=True)
    print("FDS", len(os.listdir("/proc/self/fd")) - fds, flush=True)
"""


@posix_only
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_barrage_of_interrupts_leaves_the_client_usable(server):
    """Interrupts at random points of calls, close() and connect() leave no lock held, thread or descriptor behind."""
    process = start(SIGNAL_BARRAGE, server.url, "6")
    interrupts, calls = map(int, expect_line(process, "BARRAGE", 15_000 * MS).split()[1:])
    assert interrupts > 100 and calls > 10
    server_time, elapsed = expect_line(process, "TIME").split()[1:]
    assert int(server_time) > 0 and float(elapsed) < 2
    assert expect_line(process, "THREADS").startswith("THREADS 0")
    assert expect_line(process, "FDS") == "FDS 0"
    out, err = finish(process)
    assert process.returncode == 0, err


REENTRANT_HANDLER = """
    import faulthandler, signal, sys, time
    from bittap_ws import BitTapError, Client

    faulthandler.dump_traceback_later(20, exit=True)  # a deadlock ends here

    client = Client(sys.argv[1], timeout=5)
    client.time()
    outcome = []

    def handler(signum, frame):
        start = time.monotonic()
        try:
            outcome.append(type(client.time(timeout=1)).__name__)
        except BitTapError as exc:
            outcome.append(type(exc).__name__)
        outcome.append("%.3f" % (time.monotonic() - start))

    signal.signal(signal.SIGALRM, handler)
    conn = client._session.current
    for name, lock in [("pending", conn.pending._lock), ("send", conn._send_lock)]:
        with lock:  # the handler runs while this thread holds the lock
            signal.raise_signal(signal.SIGALRM)
        print(name.upper(), *outcome, flush=True)
        outcome.clear()
    conn.close()
    with client._session._connect_lock:
        signal.raise_signal(signal.SIGALRM)
    print("CONNECT", *outcome, flush=True)
    print("AFTER", client.time(), flush=True)
"""


@posix_only
def test_a_call_from_a_signal_handler_never_waits_for_its_own_thread(server):
    """A call made by a signal handler while its thread holds a lock of the client ends at once."""
    process = start(REENTRANT_HANDLER, server.url)
    # The reader cannot hand over the answer while the lock is held: the
    # call times out, by its own timeout (1 s), instead of hanging.
    _, result, elapsed = expect_line(process, "PENDING", 10_000 * MS).split()
    assert result == "RequestTimeout" and float(elapsed) < 2
    # Waiting for the send or connect lock would wait for itself: at once.
    _, result, elapsed = expect_line(process, "SEND").split()
    assert result == "RequestTimeout" and float(elapsed) < 0.5
    _, result, elapsed = expect_line(process, "CONNECT").split()
    assert result == "ConnectError" and float(elapsed) < 0.5
    assert int(expect_line(process, "AFTER").split()[1]) > 0
    out, err = finish(process)
    assert process.returncode == 0, err
