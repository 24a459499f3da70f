"""
The Jupyter experience, in a real IPython kernel.

Each test starts a kernel running this interpreter, through a kernel spec
written to a temporary directory put first on JUPYTER_PATH, so it works in
any virtualenv whatever kernels the machine has installed.

"""

import json
import os
import pathlib
import sys
import textwrap
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.manager import KernelManager  # noqa: E402

from .conftest import MS  # noqa: E402

NOTEBOOK = pathlib.Path(__file__).parent.parent / "examples" / "quickstart.ipynb"
KERNEL_NAME = "bittap-ws-test"

# Starting a kernel takes about a second; allow for a slow machine.
STARTUP_TIMEOUT = 60000 * MS
CELL_TIMEOUT = 30000 * MS


@pytest.fixture
def kernel_spec(tmp_path, monkeypatch):
    """A kernel spec for this interpreter, first on Jupyter's search path."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bittap-ws tests",
        "language": "python",
        "interrupt_mode": "signal",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL_NAME


def kernel_manager(kernel_name, directory):
    """
    A manager for a kernel that talks over Unix sockets in ``directory``.

    Over TCP, the ports are picked before the kernel binds them, and another
    process on a busy machine can take one in between.

    """
    if os.name != "posix":
        return KernelManager(kernel_name=kernel_name)
    return KernelManager(kernel_name=kernel_name, transport="ipc", ip=str(directory / "kernel"))


@pytest.fixture
def kernel(kernel_spec, tmp_path):
    """A running kernel and a blocking client connected to it."""
    km = kernel_manager(kernel_spec, tmp_path)
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        km.cleanup_resources()


def run_cell(kc, code, timeout=CELL_TIMEOUT):
    """Run ``code`` in the kernel; return its reply and what it printed."""
    printed = []

    def output(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            printed.append("\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(
        textwrap.dedent(code), timeout=timeout, output_hook=output, allow_stdin=False
    )
    return reply["content"], "".join(printed)


def test_quickstart_notebook(kernel_spec):
    """examples/quickstart.ipynb runs from top to bottom without an error."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel_spec,
        timeout=int(CELL_TIMEOUT) + 1,
        startup_timeout=int(STARTUP_TIMEOUT) + 1,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs)
    assert "<Client url=ws://127.0.0.1:" in text
    assert "state=open pending=0>" in text
    assert "RequestTimeout: " in text
    assert "ApiError: status=400" in text
    assert '"params":["***","1700000000000","***"]' in text
    assert "my-api-key" not in text
    assert "state=closed" in text


def test_rerunning_a_cell_leaks_no_threads(kernel):
    """Running the cell that makes a Client again leaves no thread behind."""
    _, kc = kernel
    setup = """
        import contextlib, threading, time
        from bittap_ws import Client
        from bittap_ws.testing import run_server
        stack = contextlib.ExitStack()
        server = stack.enter_context(run_server())
    """
    make_client = """
        client = Client(server.url, timeout=5)
        print(client.time() > 0)
    """
    assert run_cell(kc, setup)[0]["status"] == "ok"
    reply, printed = run_cell(kc, make_client)
    assert reply["status"] == "ok", printed
    reply, _ = run_cell(kc, "baseline = threading.active_count()")
    assert reply["status"] == "ok"
    for _ in range(3):
        reply, printed = run_cell(kc, make_client)
        assert (reply["status"], printed) == ("ok", "True\n")
    check = """
        deadline = time.monotonic() + 3
        while threading.active_count() != baseline and time.monotonic() < deadline:
            time.sleep(0.01)
        readers = [t for t in threading.enumerate() if t.name == "bittap-ws-reader"]
        print(threading.active_count() - baseline, len(readers))
    """
    reply, printed = run_cell(kc, check)
    assert (reply["status"], printed) == ("ok", "0 1\n")
    assert run_cell(kc, "client.close(); stack.close()")[0]["status"] == "ok"


def test_interrupting_a_blocking_call(kernel):
    """Interrupting the kernel stops a waiting call at once; the client still works."""
    km, kc = kernel
    setup = """
        import contextlib
        from bittap_ws import Client
        from bittap_ws.testing import run_server
        stack = contextlib.ExitStack()
        server = stack.enter_context(run_server())
        client = Client(server.url, timeout=5)
        client.ping()
    """
    assert run_cell(kc, setup)[0]["status"] == "ok"
    # stop_on_error=False: after an error, ipykernel 7 aborts the requests
    # that reach it before it has finished handling the error, and the next
    # cell, sent as soon as the error reply arrives, may be one of them.
    msg_id = kc.execute(
        'server.on("time", action="silence")\n'
        'print("waiting", flush=True)\n'
        "client.time(timeout=60)\n",
        stop_on_error=False,
    )
    # Wait until the cell is inside the blocking call, then interrupt.
    deadline = time.monotonic() + CELL_TIMEOUT
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.0, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and "waiting" in msg["content"]["text"]:
            break
    time.sleep(100 * MS)
    start = time.monotonic()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=CELL_TIMEOUT)
    elapsed = time.monotonic() - start
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 5000 * MS
    after = """
        server.reset()
        print(client.time() > 0, client)
        client.close()
        stack.close()
    """
    reply, printed = run_cell(kc, after)
    assert reply["status"] == "ok", printed
    assert printed.startswith("True <Client url=ws://127.0.0.1:")
    assert "pending=0>" in printed
