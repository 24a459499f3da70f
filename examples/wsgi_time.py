"""
Serve the server time over HTTP, from a WSGI app that shares one client.

The app holds one ``Client`` for its whole life; each HTTP request, in
whichever thread the WSGI server runs it, calls ``time()`` on that client.
The server here is the standard library's wsgiref with a thread per
request; under gunicorn (``--threads``) or waitress the app is the same.

    python examples/wsgi_time.py                       # the bundled test server
    python examples/wsgi_time.py --url wss://stream.bittap.com/endpoint?format=JSON
    curl http://127.0.0.1:8000/time

Without ``--url`` it runs the bundled test server, which needs the testing
extra: ``pip install bittap-ws[testing]``. Ctrl-C stops it.

"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import socketserver
import sys
from typing import Any, Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIServer, make_server

from bittap_ws import BitTapError, Client

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def make_app(client: Client) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI app answering ``GET /time`` with the server time, as JSON."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/time":
            status, data = "404 Not Found", {"error": "try /time"}
        else:
            try:
                server_time = client.time(timeout=2)
            except BitTapError as exc:
                # The API did not answer: say so, and keep serving.
                status, data = "502 Bad Gateway", {"error": str(exc)}
            else:
                moment = datetime.datetime.fromtimestamp(
                    server_time / 1000, tz=datetime.timezone.utc
                )
                status, data = "200 OK", {"server_time": server_time, "iso": moment.isoformat()}
        body = json.dumps(data).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, with one thread per request."""

    daemon_threads = True


@contextlib.contextmanager
def api_url(url: str | None) -> Iterator[str]:
    """Yield ``url``, or the URL of the bundled test server when it is None."""
    if url is not None:
        yield url
        return
    from bittap_ws.testing import run_server

    with run_server() as server:
        print(f"bundled test server at {server.url}", flush=True)
        yield server.url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--url", help="WebSocket URL (default: run the bundled test server)")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address to bind")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port; 0 picks a free one")
    args = parser.parse_args(argv)

    try:
        with api_url(args.url) as url, Client(url) as client:
            app = make_app(client)
            with make_server(args.host, args.port, app, server_class=ThreadingWSGIServer) as httpd:
                host, port = httpd.server_address[:2]
                print(f"serving on http://{host}:{port}/time; press Ctrl-C to stop", flush=True)
                httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    except BitTapError as exc:
        # Connecting failed: the client connects when the with block opens.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
