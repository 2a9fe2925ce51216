"""`GraphSettings.from_url`: the URL and options of ``connect("graph://…")``, checked offline."""

from __future__ import annotations

import attrs
import pytest

from inboxlink import errors
from inboxlink.adapters.graph import GraphSettings
from inboxlink.models import FolderRole


def test_from_url_reads_the_address_and_takes_the_options() -> None:
    settings = GraphSettings.from_url("graph://alice%2Bcrm@contoso.com", access_token="t",
                                      base_url="http://127.0.0.1:9/v1.0/", timeout=5.0,
                                      role_overrides={FolderRole.SENT: "Outbox copies"})
    assert settings.address == "alice+crm@contoso.com"
    assert settings.base_url == "http://127.0.0.1:9/v1.0"
    assert settings.timeout == 5.0
    assert settings.user_id is None
    assert settings.user_path == "/me"
    assert settings.role_overrides == {FolderRole.SENT: "Outbox copies"}


def test_application_access_reads_the_users_path() -> None:
    settings = GraphSettings.from_url("graph://alice@contoso.com", access_token="t",
                                      application=True)
    assert settings.user_id == "alice@contoso.com"
    assert settings.user_path == "/users/alice@contoso.com"


def test_unknown_options_are_refused_by_name() -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        GraphSettings.from_url("graph://alice@contoso.com", access_token="t",
                               base_ulr="https://graph.microsoft.com/v1.0", smtp="x")
    assert "base_ulr" in info.value.message
    assert "smtp" in info.value.message
    assert info.value.code == "option"
    assert "base_url" in info.value.remedy  # the spelling it may have meant is listed


def test_an_address_option_cannot_contradict_the_url() -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        GraphSettings.from_url("graph://alice@contoso.com", access_token="t",
                               address="bob@contoso.com")
    assert "address" in info.value.message


@pytest.mark.parametrize("url", ["graph://contoso.com", "imaps://alice@contoso.com",
                                 "graph://alice@"])
def test_urls_without_an_address_are_refused(url: str) -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        GraphSettings.from_url(url, access_token="t")
    assert info.value.code == "url"


def test_settings_are_frozen_and_keep_secrets_out_of_the_repr() -> None:
    settings = GraphSettings.from_url("graph://alice@contoso.com", access_token="eyJsecret")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.timeout = 1.0  # type: ignore[misc]
    assert "eyJsecret" not in repr(settings)


def test_the_push_helpers_keep_their_earlier_import_name() -> None:
    from inboxlink.adapters.graph import push, watch

    assert push is watch
    assert callable(push.create_subscription)
