"""
Sessions for nox: the suite on every Python that setup.cfg claims, and the
type check with and without the optional extras.

    nox -s tests            # every claimed Python found on this machine
    nox -s tests-3.12       # one of them
    nox -s tests -- -k tls  # arguments after -- go to pytest
    nox -s types            # mypy --strict, with and without speedups

An interpreter that is not installed is skipped and named in the summary,
not counted as a failure. Interpreters installed with pyenv are found even
when pyenv has not selected them (its shims only run selected versions).

"""

from __future__ import annotations

import configparser
import os
import pathlib
import re

import nox

ROOT = pathlib.Path(__file__).parent

nox.options.sessions = ["tests", "types"]
nox.options.reuse_venv = "yes"
# Never fail for a missing interpreter, even where CI is set (nox's default
# there): the summary lists each one skipped.
nox.options.error_on_missing_interpreters = False
# Nor download one: only the interpreters on this machine are tried.
nox.options.download_python = "never"


def claimed_pythons() -> list[str]:
    """The Python versions named in setup.cfg's classifiers: "3.9", ..."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    classifiers = config["metadata"]["classifiers"].split("\n")
    pattern = re.compile(r"Programming Language :: Python :: (3\.\d+)")
    return [m.group(1) for m in map(pattern.fullmatch, map(str.strip, classifiers)) if m]


def add_pyenv_pythons(versions: list[str]) -> None:
    """
    Put the newest pyenv build of each version first on PATH.

    pyenv's shims are on PATH for every version it has, but a shim for a
    version that is not selected fails instead of running it; nox would
    then report an error rather than a skip.

    """
    pyenv_root = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv"))
    builds = [
        path
        for path in (pyenv_root / "versions").glob("*")
        if re.fullmatch(r"\d+\.\d+\.\d+", path.name)
    ]
    builds.sort(key=lambda path: tuple(map(int, path.name.split("."))), reverse=True)
    found = []
    for version in versions:
        for build in builds:
            if build.name.startswith(version + ".") and (build / "bin" / f"python{version}").exists():
                found.append(str(build / "bin"))
                break
    if found:
        os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


PYTHONS = claimed_pythons()
add_pyenv_pythons(PYTHONS)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (not the wheel test: `make test-dist`)."""
    session.install(".[testing,speedups,tests]")
    session.run(
        "python", "-m", "pytest", *session.posargs, env={"PYTHONWARNINGS": "default"}
    )


@nox.session
@nox.parametrize("extras", ["testing,lint", "testing,speedups,lint"], ids=["bare", "speedups"])
def types(session: nox.Session, extras: str) -> None:
    """mypy --strict, without and with the optional speedups installed."""
    session.install(f".[{extras}]")
    session.run("python", "-m", "mypy", "--strict", "bittap_ws")
