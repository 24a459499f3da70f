"""
Run the Autobahn TestSuite fuzzingserver on 127.0.0.1 only (wstest itself
listens on every interface). Python 2.7, with autobahntestsuite installed.

"""

import sys

import autobahntestsuite.fuzzing as fuzzing
from autobahntestsuite.wstest import run


def listen_on_loopback(factory, context_factory=None, backlog=50, interface=""):
    return listen(factory, context_factory, backlog, "127.0.0.1")


listen = fuzzing.listenWS
fuzzing.listenWS = listen_on_loopback

if __name__ == "__main__":
    sys.argv = ["wstest", "-m", "fuzzingserver", "-s", "fuzzingserver.json", "--webport", "0"]
    sys.exit(run())
