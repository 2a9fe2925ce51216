"""The EWS properties inboxlink reads and writes beyond exchangelib's own Message fields.

exchangelib has no field for a message's follow-up flag. The flag is MAPI's PidTagFlagStatus
(0x1090, Integer: 0 none, 1 complete, 2 flagged) — what Outlook sets, readable in FindItem and
SyncFolderItems, settable with UpdateItem, on every Exchange version inboxlink supports
(``t:Flag`` needs Exchange 2013). `FlaggableMessage` carries it without registering it
on exchangelib's own ``Message`` (``Message.register`` would change it for every user).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exchangelib.extended_properties import ExtendedProperty
from exchangelib.fields import ExtendedPropertyField, FieldPath
from exchangelib.items import Message as EwsMessage

__all__ = ["FLAGGED", "FLAG_STATUS", "FlaggableMessage", "flag_path", "paths"]

#: PidTagFlagStatus value of a flagged (followup) message
FLAGGED = 2
FLAG_STATUS = 0x1090


class FlagStatus(ExtendedProperty):  # type: ignore[misc]
    """PidTagFlagStatus (0x1090)."""

    property_tag = FLAG_STATUS
    property_type = "Integer"


def message_fields_with(name: str, value_cls: type) -> Any:
    """exchangelib's Message fields plus one extended property, in schema order (after
    ``has_attachments``), for a subclass — never ``Message.register``, which would change
    the class for every user of exchangelib in the process."""
    fields = EwsMessage.FIELDS.copy()
    fields.insert(fields.index_by_name("has_attachments") + 1,
                  ExtendedPropertyField(name, value_cls=value_cls))
    return fields


class FlaggableMessage(EwsMessage):  # type: ignore[misc]
    """A Message with ``flag_status`` (None clears the flag: UpdateItem's DeleteItemField)."""

    FIELDS = message_fields_with("flag_status", FlagStatus)


def paths(cls: type[EwsMessage], names: Sequence[str]) -> list[FieldPath]:
    """Field paths for ``names`` of ``cls`` (additional properties of an item shape)."""
    return [FieldPath(field=cls.get_field_by_fieldname(name)) for name in names]


def flag_path() -> FieldPath:
    """The additional property that returns PidTagFlagStatus."""
    return FieldPath(field=FlaggableMessage.get_field_by_fieldname("flag_status"))
