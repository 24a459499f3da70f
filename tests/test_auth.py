import enum
import hashlib
import hmac

import pytest

import bittap_ws
from bittap_ws.auth import login_params, sign_login

SECRET = "test-secret"
TIMESTAMP = 1762509526408
SIGNATURE = "d11e8fafa947e43322ede6af8d11ec0bac67b353b9ef47ae34d303b4b918d169"


class TestSignLogin:
    def test_vector(self):
        """The project's test vector signs as documented."""
        assert sign_login(SECRET, TIMESTAMP) == SIGNATURE

    def test_is_hmac_sha256_of_the_timestamp_text(self):
        """The signature is the hex HMAC-SHA256 of str(timestamp), keyed with the secret."""
        expected = hmac.new(b"k\xc3\xa9y", b"0", hashlib.sha256).hexdigest()
        assert sign_login("kéy", 0) == expected

    def test_is_lower_case_hex(self):
        """The signature is 64 lower-case hex characters."""
        signature = sign_login("S3CRET", 1)
        assert len(signature) == 64
        assert signature == signature.lower()
        int(signature, 16)

    def test_depends_on_secret_and_timestamp(self):
        """Another secret or another timestamp gives another signature."""
        assert sign_login("other", TIMESTAMP) != SIGNATURE
        assert sign_login(SECRET, TIMESTAMP + 1) != SIGNATURE

    def test_int_subclass_timestamp_is_signed_as_its_number(self):
        """An IntEnum timestamp is signed as its digits, not its name."""

        class When(enum.IntEnum):
            NOW = TIMESTAMP

        assert sign_login(SECRET, When.NOW) == SIGNATURE

    @pytest.mark.parametrize("secret", [None, b"test-secret", 42])
    def test_rejects_a_secret_that_is_not_a_str(self, secret):
        """A secret that is not a str raises TypeError."""
        with pytest.raises(TypeError, match="api_secret"):
            sign_login(secret, TIMESTAMP)

    def test_rejects_an_empty_secret(self):
        """An empty secret raises ValueError."""
        with pytest.raises(ValueError, match="api_secret"):
            sign_login("", TIMESTAMP)

    @pytest.mark.parametrize("timestamp", [True, 1.5, "1762509526408", None])
    def test_rejects_a_timestamp_that_is_not_an_int(self, timestamp):
        """A bool, float, str or None timestamp raises TypeError."""
        with pytest.raises(TypeError, match="timestamp_ms"):
            sign_login(SECRET, timestamp)

    def test_rejects_a_negative_timestamp(self):
        """A negative timestamp raises ValueError."""
        with pytest.raises(ValueError, match="timestamp_ms"):
            sign_login(SECRET, -1)

    @pytest.mark.parametrize("timestamp", [-1, True])
    def test_errors_never_show_the_secret(self, timestamp):
        """No exception message carries the secret."""
        with pytest.raises((TypeError, ValueError)) as info:
            sign_login("hunter2-secret", timestamp)
        assert "hunter2" not in str(info.value)
        assert "hunter2" not in repr(info.value)

    def test_is_exported_by_the_package(self):
        """sign_login is part of the public contract."""
        assert bittap_ws.sign_login is sign_login
        assert "sign_login" in bittap_ws.__all__


class TestLoginParams:
    def test_shape(self):
        """LOGIN params are [api key, timestamp as a string, signature]."""
        assert login_params("key", TIMESTAMP, SIGNATURE) == ["key", str(TIMESTAMP), SIGNATURE]

    def test_returns_a_new_list(self):
        """Each call returns its own list."""
        assert login_params("key", 1, "sig") is not login_params("key", 1, "sig")

    @pytest.mark.parametrize(
        ("api_key", "timestamp", "signature", "error"),
        [
            (None, 1, "sig", TypeError),
            ("", 1, "sig", ValueError),
            ("key", 1, b"sig", TypeError),
            ("key", 1, "", ValueError),
            ("key", "1", "sig", TypeError),
            ("key", False, "sig", TypeError),
            ("key", -5, "sig", ValueError),
        ],
    )
    def test_rejects_bad_arguments(self, api_key, timestamp, signature, error):
        """Each bad argument raises the matching built-in exception."""
        with pytest.raises(error):
            login_params(api_key, timestamp, signature)

    def test_errors_never_show_key_or_signature(self):
        """No exception message carries the API key or the signature."""
        with pytest.raises(ValueError) as info:
            login_params("my-api-key", -1, "my-signature")
        assert "my-api-key" not in str(info.value)
        assert "my-signature" not in str(info.value)
