"""Role detection: special-use, provider ids, English and localized names, overrides."""

from __future__ import annotations

import pytest

from inboxlink.folders import LOCALIZED_NAMES, assign_roles, find_role, role_from_attributes, role_from_name
from inboxlink.models import Folder, FolderRole, RoleSource


def folder(path: str, *attributes: str) -> Folder:
    role = role_from_attributes(attributes)
    return Folder(id=path, name=path.rsplit("/", 1)[-1], path=path, role=role,
                  role_source=RoleSource.SPECIAL_USE if role else None, attributes=attributes)


REQUIRED_LANGUAGES = ["de", "fr", "es", "it", "pt", "nl", "pl", "ru", "ja", "zh", "ko", "sv",
                      "da", "no", "fi", "cs", "tr"]


@pytest.mark.parametrize("language", REQUIRED_LANGUAGES)
def test_every_required_language_names_sent_drafts_and_trash(language: str) -> None:
    for role in (FolderRole.SENT, FolderRole.DRAFTS, FolderRole.TRASH, FolderRole.JUNK):
        names = LOCALIZED_NAMES[role][language]
        assert names
        for name in names:
            found = role_from_name(name)
            assert found is role or (found is not None and name in ("Spam",)), (language, name)


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("Gesendet", FolderRole.SENT),
        ("Elementy wysłane", FolderRole.SENT),
        ("送信済みアイテム", FolderRole.SENT),
        ("Éléments envoyés", FolderRole.SENT),
        ("elements envoyes", FolderRole.SENT),
        ("Отправленные", FolderRole.SENT),
        ("보낸 편지함", FolderRole.SENT),
        ("Papierkorb", FolderRole.TRASH),
        ("Posta indesiderata", FolderRole.JUNK),
        ("INBOX.Entwürfe", None),
    ],
)
def test_localized_names(name: str, role: FolderRole | None) -> None:
    assert role_from_name(name) is role


def test_nested_path_uses_its_last_level() -> None:
    assert role_from_name("INBOX.Entwürfe", ".") is FolderRole.DRAFTS
    assert role_from_name("Projects/Sent", "/") is FolderRole.SENT


def test_special_use_beats_names() -> None:
    folders = assign_roles([folder("INBOX"), folder("Sent Items"), folder("Outbox-copy", "\\Sent")])
    sent = find_role(folders, FolderRole.SENT)
    assert sent is not None
    assert sent.path == "Outbox-copy"
    assert sent.role_source is RoleSource.SPECIAL_USE
    assert next(f for f in folders if f.path == "Sent Items").role is None


def test_without_special_use_a_known_sent_name_beats_a_name_containing_sent() -> None:
    folders = assign_roles([folder("INBOX"), folder("Old sent mail"), folder("Gesendet"),
                            folder("Sent")])
    sent = find_role(folders, FolderRole.SENT)
    assert sent is not None
    assert sent.path == "Gesendet"
    assert sent.role_source is RoleSource.NAME
    assert next(f for f in folders if f.path == "Old sent mail").role is None


@pytest.mark.parametrize("decoy", ["Presentations", "Consent forms", "Sentinel", "Absent",
                                   "Resent", "Dissent"])
def test_letters_inside_a_word_never_make_a_sent_folder(decoy: str) -> None:
    folders = assign_roles([folder("INBOX"), folder(decoy), folder("Sent Items")])
    sent = find_role(folders, FolderRole.SENT)
    assert sent is not None
    assert sent.path == "Sent Items"
    assert next(f for f in folders if f.path == decoy).role is None
    alone = assign_roles([folder("INBOX"), folder(decoy)])
    assert find_role(alone, FolderRole.SENT) is None


@pytest.mark.parametrize("name", ["Old sent mail", "Sent-2024", "sent_archive", "My Sent"])
def test_the_word_sent_is_the_fallback_when_no_known_name_exists(name: str) -> None:
    folders = assign_roles([folder("INBOX"), folder("Presentations"), folder(name)])
    sent = find_role(folders, FolderRole.SENT)
    assert sent is not None
    assert sent.path == name
    assert sent.role_source is RoleSource.NAME


def test_localized_sent_name_beats_a_folder_containing_the_word() -> None:
    folders = assign_roles([folder("INBOX"), folder("Sent by robots"), folder("Elementy wysłane")])
    sent = find_role(folders, FolderRole.SENT)
    assert sent is not None
    assert sent.path == "Elementy wysłane"


def test_localized_sent_when_no_name_contains_sent() -> None:
    folders = assign_roles([folder("INBOX"), folder("Elementy wysłane"), folder("Kosz")])
    assert find_role(folders, FolderRole.SENT) == Folder(
        id="Elementy wysłane", name="Elementy wysłane", path="Elementy wysłane",
        role=FolderRole.SENT, role_source=RoleSource.NAME)
    trash = find_role(folders, FolderRole.TRASH)
    assert trash is not None
    assert trash.path == "Kosz"


def test_override_always_wins() -> None:
    folders = assign_roles([folder("INBOX"), folder("Sent", "\\Sent"), folder("Mine")],
                           {FolderRole.SENT: "Mine"})
    sent = find_role(folders, FolderRole.SENT)
    assert sent is not None
    assert sent.path == "Mine"
    assert sent.role_source is RoleSource.OVERRIDE
    assert next(f for f in folders if f.path == "Sent").role is None


def test_inbox_by_name_and_missing_roles() -> None:
    folders = assign_roles([folder("INBOX"), folder("Notes")])
    assert find_role(folders, FolderRole.INBOX) is not None
    assert find_role(folders, FolderRole.SENT) is None
