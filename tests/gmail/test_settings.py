"""GmailSettings: frozen, filled from a gmail:// URL, unknown options refused by name."""

from __future__ import annotations

import attrs
import pytest

from inboxlink import errors
from inboxlink.adapters.gmail import GmailSettings
from inboxlink.adapters.gmail.settings import MAX_MESSAGE_SIZE


def test_settings_are_frozen() -> None:
    settings = GmailSettings(address="alice@gmail.com", access_token="t")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.api_endpoint = "http://elsewhere/"  # type: ignore[misc]


def test_from_url_fills_the_address_and_keeps_options() -> None:
    settings = GmailSettings.from_url("gmail://alice@gmail.com", access_token="t",
                                      api_endpoint="http://127.0.0.1:9")
    assert settings.address == "alice@gmail.com"
    assert settings.api_endpoint == "http://127.0.0.1:9/"
    assert settings.simple_upload_limit == 5 * 1024 * 1024
    assert settings.max_message_size == MAX_MESSAGE_SIZE == 35 * 1024 * 1024


def test_unknown_options_are_named() -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        GmailSettings.from_url("gmail://alice@gmail.com", access_token="t", api_endpiont="x",
                               bcc_all=True)
    assert "api_endpiont=" in str(info.value)
    assert "bcc_all=" in str(info.value)


@pytest.mark.parametrize("url", ["gmail://", "gmail:///nobody"])
def test_a_url_without_an_address_is_refused(url: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        GmailSettings.from_url(url, access_token="t")


def test_another_scheme_is_refused() -> None:
    with pytest.raises(errors.UnsupportedProtocol):
        GmailSettings.from_url("imaps://alice@gmail.com", access_token="t")


@pytest.mark.parametrize("options", [{"upload_chunk_size": 1000},
                                     {"upload_chunk_size": 0},
                                     {"max_message_size": MAX_MESSAGE_SIZE + 1},
                                     {"batch_size": 101}])
def test_bad_values_are_configuration_errors(options: dict[str, int]) -> None:
    with pytest.raises(errors.ConfigurationError):
        GmailSettings.from_url("gmail://alice@gmail.com", access_token="t", **options)


def test_token_provider_survives_evolve() -> None:
    settings = GmailSettings(address="alice@gmail.com", token_provider=lambda: "tok")
    copy = attrs.evolve(settings, timeout=5.0)
    assert copy.credentials is settings.credentials
    assert "tok" not in repr(copy)
