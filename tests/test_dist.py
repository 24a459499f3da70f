"""
The wheel as users get it: installed with its testing extra into a new
virtualenv, away from this checkout, it runs ``bittap-ws demo``.

It takes a virtualenv and an install from the package index, about half a
minute, so the suite leaves it out (``-m "not dist"`` in setup.cfg);
``make test-dist`` runs it on the wheel that ``make dist`` built, named by
BITTAP_WS_DIST. Without that variable it builds the wheel itself.

"""

import os
import pathlib
import subprocess
import sys

import pytest

from .conftest import MS

pytestmark = pytest.mark.dist

ROOT = pathlib.Path(__file__).parent.parent

# Installing downloads the dependencies; allow for a slow index.
INSTALL_TIMEOUT = 180_000 * MS


def tool_env():
    """The environment for pip: without PYTHONWARNINGS, which is for our code."""
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return env


@pytest.fixture
def wheel(tmp_path):
    """The wheel from BITTAP_WS_DIST, or one built from this checkout."""
    dist = os.environ.get("BITTAP_WS_DIST")
    if dist is None:
        dist = tmp_path / "dist"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
            check=True,
            env=tool_env(),
            timeout=INSTALL_TIMEOUT,
        )
    wheels = list(pathlib.Path(dist).glob("bittap_ws-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}: {wheels}"
    return wheels[0].resolve()


def test_wheel_installs_and_runs_the_demo(wheel, tmp_path):
    """pip installs the wheel with [testing] into a new virtualenv; bittap-ws demo runs from it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=tool_env())
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[testing]"],
        check=True,
        env=tool_env(),
        timeout=INSTALL_TIMEOUT,
    )

    # Run from an empty directory, so that this checkout cannot be imported.
    workdir = tmp_path / "work"
    workdir.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import bittap_ws, pathlib; print(pathlib.Path(bittap_ws.__file__).parent)"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    package = pathlib.Path(where.stdout.strip())
    assert venv in package.parents
    assert (package / "py.typed").is_file()

    demo = subprocess.run(
        [str(bin_dir / "bittap-ws"), "demo"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60_000 * MS,
    )
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.startswith("bundled BitTap-compatible server at ws://127.0.0.1:")
    assert demo.stdout.endswith("closed cleanly\n")
    assert demo.stderr == ""
