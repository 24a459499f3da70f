"""
A BitTap-compatible WebSocket server for tests, demos and your own tests.

It runs in background threads of the current process, binds 127.0.0.1 on a
free port by default, and can be told to misbehave in the ways a real
server or network does::

    from bittap_ws import Client
    from bittap_ws.testing import run_server

    with run_server() as server, Client(server.url) as client:
        client.time()
        server.on("time", action="silence")   # the next time() times out

It needs the ``testing`` extra (``pip install bittap-ws[testing]``), which
installs :mod:`websockets`; the client itself never imports this package.

Inside: ``_run`` starts and stops the :mod:`websockets` server; ``_server``
hands it each request and applies the knobs; ``_emulator`` says what BitTap
would say, from the market model of ``_market`` (with ``_symbols``,
``_marketframes`` and ``_account``); ``_faults`` holds the rules and the
connections that misbehave on demand.

"""

from __future__ import annotations

from ._emulator import DEFAULT_RATE_LIMIT
from ._faults import ACTIONS, Rule
from ._market import Market
from ._run import run_server
from ._server import Server

__all__ = ["run_server", "Server", "Rule", "ACTIONS", "DEFAULT_RATE_LIMIT", "Market"]
