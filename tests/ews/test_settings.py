"""EWS settings: frozen, built from a URL, unknown options refused by name before any
request; and the errors of inboxlink's own connect checks built (and redacted) by the table."""

from __future__ import annotations

import attrs
import pytest

from inboxlink import errors
from inboxlink.adapters.ews import EwsMailbox, EwsSettings
from inboxlink.models import FolderRole

from .conftest import ADDRESS, PASSWORD


def test_settings_are_frozen() -> None:
    settings = EwsSettings(address=ADDRESS, password=PASSWORD)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.timeout = 5.0  # type: ignore[misc]
    assert attrs.evolve(settings, timeout=5.0).timeout == 5.0


def test_from_url_takes_the_address_and_the_options() -> None:
    settings = EwsSettings.from_url(
        "ews://alice@example.com", password=PASSWORD, url="mail.example.com",
        role_overrides={FolderRole.SENT: "Sent Items"}, token_cache=None)
    assert settings.address == ADDRESS
    assert settings.endpoint == "https://mail.example.com/EWS/Exchange.asmx"
    assert settings.role_overrides == {FolderRole.SENT: "Sent Items"}
    assert PASSWORD not in repr(settings)


@pytest.mark.parametrize("option", ["no_such_option_7f3a", "smtp", "provider"])
def test_unknown_option_is_refused_by_name(option: str) -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        EwsMailbox.from_url("ews://alice@example.com", password=PASSWORD,
                            url="https://127.0.0.1:9/EWS/Exchange.asmx", **{option: "x"})
    assert f"{option}=" in info.value.message
    assert info.value.code == "option"
    assert "docs/ews.md" in info.value.remedy


def test_connect_check_errors_come_from_the_table_redacted() -> None:
    from inboxlink.adapters.ews import _server_checks

    error = _server_checks.bare_username("alice", "401 for alice password=hunter22")
    assert isinstance(error, errors.InvalidCredentials)
    assert error.code == "UnauthorizedBareUsername"
    assert "DOMAIN\\username" in error.remedy
    assert "hunter22" not in str(error)
