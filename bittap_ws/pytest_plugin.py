"""
A pytest plugin for testing code that uses bittap-ws.

Installed with bittap-ws, it provides the ``bittap_server`` fixture: a
running :mod:`bittap_ws.testing` server, one per test::

    from bittap_ws import Client

    def test_server_time(bittap_server):
        with Client(bittap_server.url) as client:
            assert client.time() > 0

The fixture needs the ``testing`` extra: ``pip install bittap-ws[testing]``.

"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .testing import Server

__all__ = ["bittap_server"]


@pytest.fixture
def bittap_server() -> Iterator[Server]:
    """
    A BitTap-compatible server on 127.0.0.1, running for one test.

    """
    from .testing import run_server

    with run_server() as server:
        yield server
