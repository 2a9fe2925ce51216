"""The folder tree in two requests: one GetFolder for the distinguished folders (their roles
and the message-folder root), one deep FindFolder for everything under the root."""

from __future__ import annotations

from typing import Any

from exchangelib.folders import (
    DeletedItems,
    Drafts,
    Inbox,
    JunkEmail,
    MsgFolderRoot,
    Outbox,
    Root,
    SentItems,
)
from exchangelib.folders import Folder as EwsFolder
from exchangelib.items import ID_ONLY
from exchangelib.properties import DistinguishedFolderId
from exchangelib.properties import Mailbox as EwsAddress

from inboxlink.adapters.ews import convert
from inboxlink.adapters.ews._exchangelib_shim import FindFolder, GetFolder
from inboxlink.adapters.ews.errors import TABLE
from inboxlink.models import Folder, FolderRole
from inboxlink.translate import Signal

__all__ = ["load"]

#: distinguished folders asked for in one GetFolder, and the role each one states
DISTINGUISHED: tuple[tuple[type[EwsFolder], FolderRole | None], ...] = (
    (Inbox, FolderRole.INBOX),
    (SentItems, FolderRole.SENT),
    (Drafts, FolderRole.DRAFTS),
    (DeletedItems, FolderRole.TRASH),
    (JunkEmail, FolderRole.JUNK),
    (Outbox, None),
)
#: per-folder answers meaning "this server or mailbox has no such distinguished folder"
_ABSENT = ("ErrorFolderNotFound", "ErrorInvalidRequest")


def load(account: Any, address: str) -> tuple[list[Folder], dict[str, Any]]:
    """The mail folders, and exchangelib's folder objects by id (for later requests)."""
    owner = EwsAddress(email_address=address)
    top = Root(account=account,
               _distinguished_id=DistinguishedFolderId(id="root", mailbox=owner))
    wanted = [MsgFolderRoot, *(cls for cls, _ in DISTINGUISHED)]
    asked = [cls(root=top, _distinguished_id=DistinguishedFolderId(
        id=cls.DISTINGUISHED_FOLDER_ID, mailbox=owner)) for cls in wanted]
    fields = convert.paths(EwsFolder, convert.FOLDER_FIELDS)
    found = list(GetFolder(account=account).call(folders=asked, additional_fields=fields,
                                                 shape=ID_ONLY))
    stated = dict(DISTINGUISHED)
    roles: dict[str, FolderRole] = {}
    distinguished: dict[str, str] = {}
    root_folder = None
    for cls, result in zip(wanted, found, strict=True):
        if isinstance(result, Exception):
            if type(result).__name__ in _ABSENT:
                continue
            raise result
        distinguished[result.id] = cls.DISTINGUISHED_FOLDER_ID
        if cls is MsgFolderRoot:
            root_folder = result
            continue
        role = stated.get(cls)
        if role is not None:
            roles[result.id] = role
    if root_folder is None:
        raise TABLE.error_for(Signal("ews", "ErrorFolderNotFound",
                                     "The mailbox has no message folder root."))
    tree = list(FindFolder(account=account).call(
        folders=[root_folder], additional_fields=fields, restriction=None, shape=ID_ONLY,
        depth="Deep", max_items=None, offset=0))
    for item in tree:
        if isinstance(item, Exception):
            raise item
    return (convert.folders(root_folder.id, tree, roles, distinguished),
            {f.id: f for f in tree})
