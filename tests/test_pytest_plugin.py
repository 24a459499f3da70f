import pytest

pytest_plugins = ["pytester"]


def test_bittap_server_fixture(pytester: pytest.Pytester):
    """A user's test gets a running server from the bittap_server fixture."""
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
