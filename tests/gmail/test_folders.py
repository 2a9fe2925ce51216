"""Labels as folders: system labels with provider roles, nested user labels."""

from __future__ import annotations

from inboxlink.models import FolderRole, RoleSource
from inboxlink.testing.conformance import make_message

from .emulator import GmailEmulator
from .support import make_mailbox


def test_system_labels_have_provider_roles(emulator: GmailEmulator) -> None:
    folders = {f.id: f for f in make_mailbox(emulator).folders()}
    expected = {"INBOX": FolderRole.INBOX, "SENT": FolderRole.SENT, "DRAFT": FolderRole.DRAFTS,
                "TRASH": FolderRole.TRASH, "SPAM": FolderRole.JUNK,
                "STARRED": FolderRole.FLAGGED, "IMPORTANT": FolderRole.IMPORTANT}
    for label, role in expected.items():
        assert folders[label].role is role
        assert folders[label].role_source is RoleSource.PROVIDER
    assert not {"UNREAD", "CHAT", "CATEGORY_SOCIAL"} & set(folders)


def test_nested_user_labels(emulator: GmailEmulator) -> None:
    work = emulator.add_label("Work")
    projects = emulator.add_label("Work/Projects")
    emulator.add_label("Work/Projects/Apollo")
    folders = {f.path: f for f in make_mailbox(emulator).folders()}
    apollo = folders["Work/Projects/Apollo"]
    assert apollo.name == "Apollo"
    assert apollo.parent_id == projects
    assert folders["Work/Projects"].parent_id == work
    assert folders["Work"].parent_id is None
    assert apollo.role is None


def test_user_label_listing_and_flags(emulator: GmailEmulator) -> None:
    label = emulator.add_label("Clients/Acme")
    emulator.deliver(make_message(1), labels=(label, "STARRED"))
    emulator.deliver(make_message(2), labels=("INBOX", "UNREAD"))
    mailbox = make_mailbox(emulator)
    (summary,) = mailbox.list_messages("Clients/Acme").items
    assert summary.seen
    assert "\\Flagged" in summary.flags
    assert summary.folder_id == label
    assert summary.thread_id


def test_sent_folder_override_wins(emulator: GmailEmulator) -> None:
    label = emulator.add_label("Outbound")
    mailbox = make_mailbox(emulator, sent_folder="Outbound")
    sent = mailbox.folder(FolderRole.SENT)
    assert sent.id == label
    assert sent.role_source is RoleSource.OVERRIDE


def test_trash_listing_includes_trash(emulator: GmailEmulator) -> None:
    emulator.deliver(make_message(1), labels=("TRASH",))
    mailbox = make_mailbox(emulator)
    assert len(mailbox.list_messages(FolderRole.TRASH).items) == 1
    assert mailbox.list_messages(FolderRole.INBOX).items == ()


def test_cursor_of_another_folder_is_refused(emulator: GmailEmulator) -> None:
    import pytest

    from inboxlink import errors

    for n in range(3):
        emulator.deliver(make_message(n), labels=("INBOX", "STARRED"))
    mailbox = make_mailbox(emulator)
    page = mailbox.list_messages("INBOX", limit=1)
    assert page.next_cursor
    with pytest.raises(errors.CursorExpired):
        mailbox.list_messages(FolderRole.FLAGGED, limit=1, cursor=page.next_cursor)
