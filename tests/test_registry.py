"""connect(), URL schemes, lazy built-ins, register_adapter and real entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import inboxlink
from inboxlink import errors, registry
from inboxlink.testing import FakeMailbox, FakeMailServer


@pytest.mark.parametrize("url", ["pop3://alice@mail.example.com", "POP3S://alice@mail.example.com"])
def test_pop3_is_refused_with_an_explanation(url: str) -> None:
    with pytest.raises(errors.UnsupportedProtocol) as info:
        inboxlink.connect(url, password="secret")
    assert "IMAP" in info.value.remedy
    assert "server" in info.value.remedy
    assert "secret" not in str(info.value)


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(errors.UnsupportedProtocol) as info:
        inboxlink.connect("carrier-pigeon://alice@example.com")
    assert "imaps://" in info.value.remedy
    assert "fake://" in info.value.remedy


def test_url_without_scheme_is_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigurationError):
        inboxlink.connect("alice@example.com")


def test_fake_scheme_builds_a_fake_mailbox() -> None:
    server = FakeMailServer()
    mailbox = inboxlink.connect("fake://alice@example.com", server=server)
    assert isinstance(mailbox, FakeMailbox)
    assert isinstance(mailbox, inboxlink.Mailbox)
    assert mailbox.address == "alice@example.com"
    assert mailbox.server is server


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        registry.BUILTIN_ADAPTERS, "ews",  # type: ignore[arg-type]
        registry._Builtin("inboxlink_no_such_module_xyz:Nope", "ews"),
    )
    with pytest.raises(errors.AdapterNotAvailable) as info:
        inboxlink.connect("ews://alice@example.com")
    assert "pip install 'inboxlink[ews]'" in info.value.remedy


class JmapLike(FakeMailbox):
    provider = "jmaplike"


def test_register_adapter_and_its_guards() -> None:
    registry.register_adapter("jmaplike", JmapLike)
    try:
        mailbox = inboxlink.connect("jmaplike://bob@example.org")
        assert type(mailbox) is JmapLike
        assert mailbox.address == "bob@example.org"
        with pytest.raises(ValueError, match="already registered"):
            registry.register_adapter("jmaplike", FakeMailbox)
    finally:
        registry._registered.pop("jmaplike", None)
    with pytest.raises(ValueError, match="built-in"):
        registry.register_adapter("imaps", JmapLike)
    with pytest.raises(TypeError):
        registry.register_adapter("nofromurl", object)


@pytest.fixture
def plugin_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution (dist-info with entry_points.txt) declaring a plugin adapter."""
    (tmp_path / "acme_inboxlink.py").write_text(textwrap.dedent('''
        from inboxlink.testing import FakeMailbox

        class AcmeMailbox(FakeMailbox):
            """A plugin that reuses the fake: subclassing works without more code."""
            provider = "acme"
    '''))
    dist = tmp_path / "acme_inboxlink-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-inboxlink\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[inboxlink.adapters]\nacme = acme_inboxlink:AcmeMailbox\nbroken = acme_missing:Nope\n"
        "fake = acme_inboxlink:AcmeMailbox\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._reset_entry_points()
    yield tmp_path
    registry._reset_entry_points()


def test_plugin_found_through_its_entry_point(plugin_distribution: Path) -> None:
    mailbox = inboxlink.connect("acme://carol@example.com")
    assert type(mailbox).__name__ == "AcmeMailbox"
    assert mailbox.provider == "acme"
    assert "acme" in registry.known_schemes()
    mailbox.folders()


def test_builtins_win_name_clashes(plugin_distribution: Path) -> None:
    assert type(inboxlink.connect("fake://carol@example.com")) is FakeMailbox


def test_broken_plugin_is_a_typed_error(plugin_distribution: Path) -> None:
    with pytest.raises(errors.AdapterNotAvailable):
        inboxlink.connect("broken://carol@example.com")


def test_import_inboxlink_stays_light() -> None:
    code = (
        "import sys, inboxlink, inboxlink.testing\n"
        "heavy = [m for m in ('imapclient', 'exchangelib', 'msgraph', 'googleapiclient',"
        " 'azure', 'kiota_abstractions', 'rich', 'pytest') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
