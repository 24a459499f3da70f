import pathlib
import re
import textwrap

import pytest

pytest_plugins = ["pytester"]

README = pathlib.Path(__file__).parent.parent / "README.rst"


def readme_plugin_example():
    """The pytest example of README.rst, as source code."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    [block] = [block for block in blocks if "bittap_server" in block]
    return textwrap.dedent(block)


def test_readme_example(pytester: pytest.Pytester):
    """The README's example of the bittap_server fixture passes as written."""
    pytester.makepyfile(readme_plugin_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_bittap_server_fixture(pytester: pytest.Pytester):
    """A user's test gets a running server of its own from the bittap_server fixture."""
    pytester.makepyfile(
        """
        from bittap_ws import Client, RequestTimeout
        import pytest

        def test_time(bittap_server):
            with Client(bittap_server.url, timeout=2) as client:
                assert client.time() > 0

        def test_fault(bittap_server):
            bittap_server.on("time", action="silence")
            with Client(bittap_server.url) as client:
                with pytest.raises(RequestTimeout):
                    client.time(timeout=0.1)

        def test_one_server_per_test(bittap_server):
            assert bittap_server.requests == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_fixture_listed(pytester: pytest.Pytester):
    """The plugin is registered through its entry point: --fixtures lists it."""
    result = pytester.runpytest_subprocess("--fixtures")
    result.stdout.fnmatch_lines(["bittap_server*", "*BitTap-compatible server*"])
