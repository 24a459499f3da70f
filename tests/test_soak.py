"""
A few seconds of the soak (``make soak``) inside the normal suite.

"""

import importlib.util
import pathlib

import pytest

SOAK = pathlib.Path(__file__).resolve().parent.parent / "soak" / "soak.py"


@pytest.fixture(scope="module")
def soak():
    if not SOAK.exists():  # pragma: no cover - e.g. tests run from an sdist
        pytest.skip("soak/soak.py is not here")
    spec = importlib.util.spec_from_file_location("bittap_ws_soak", SOAK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_short_soak(soak, capsys):
    """Five seconds of mixed calls under frequent faults: nothing lost, wrong or leaked."""
    status = soak.soak(duration=5.0, threads=8, pace=0.6, report_every=60.0)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "\nlost: 0\n" in out
    assert "leaked slots: 0 " in out
    assert "\nOK\n" in out
