"""The EWS emulator's change half: the per-folder change log, SyncFolderItems, UpdateItem,
MoveItem, DeleteItem, and FindItem restrictions — with Exchange's documented SOAP shapes.

- ``SyncFolderItems`` answers ``SyncState`` / ``IncludesLastItemInRange`` / ``Changes`` with
  ``t:Create``, ``t:Update``, ``t:Delete`` and ``t:ReadFlagChange``; a state this server did
  not issue (or issued for another folder, or before :meth:`ChangeOps.expire_sync_states`)
  is ``ErrorInvalidSyncStateData``; ``MaxChangesReturned`` must be 1..512 (schema).
- ``UpdateItem`` sets ``message:IsRead`` and PidTagFlagStatus (0x1090), per item
  ``ErrorItemNotFound``; without a ChangeKey only ``AlwaysOverwrite`` is accepted
  (``ErrorChangeKeyRequiredForWriteOperations``).
- ``MoveItem`` gives each moved item a new ItemId (as Exchange 2010+ does) and returns it.
- ``DeleteItem`` ``MoveToDeletedItems`` / ``SoftDelete`` / ``HardDelete``.
- Restrictions: ``And``/``Or``/``Not``, ``Contains`` (Substring/Prefixed/FullString,
  Exact/IgnoreCase), ``IsEqualTo``/``IsNotEqualTo``/``IsGreaterThan[OrEqualTo]``/
  ``IsLessThan[OrEqualTo]``, ``Exists`` on the fields listed in :data:`FIELD_VALUES`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Folder, Item, User

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"

#: the documented range of SyncFolderItems/MaxChangesReturned
MAX_CHANGES = 512
SYNC_STATE_TEXT = "Synchronization state data is corrupt or otherwise invalid."
SYNC_FOLDER_TEXT = "The folder ID specified in the SyncFolderItems request does not exist."


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _from(item: Item) -> str:
    from .emulator import _addresses

    return " ".join(f"{n} {a}" for n, a in _addresses(item.header("From")))


#: FieldURI → the item's value for restrictions
FIELD_VALUES: dict[str, Callable[[Item], Any]] = {
    "item:Subject": lambda i: i.header("Subject") or "",
    "message:From": _from,
    "message:Sender": _from,
    "item:DateTimeReceived": lambda i: i.received.replace(microsecond=0),
    "message:IsRead": lambda i: i.is_read,
    "item:HasAttachments": lambda i: i.has_attachments,
    "message:InternetMessageId": lambda i: i.header("Message-ID") or "",
    "item:InReplyTo": lambda i: i.header("In-Reply-To") or "",
    "message:References": lambda i: i.header("References") or "",
    "item:ConversationId": lambda i: i.conversation_id,
    "item:Body": lambda i: i.body_text(),
    "ext:0x1090": lambda i: i.flag_status,
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "IsEqualTo": lambda a, b: a == b,
    "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b,
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b,
    "IsLessThanOrEqualTo": lambda a, b: a <= b,
}


class RestrictionError(ValueError):
    """A restriction on a field the emulator (or Exchange) cannot evaluate."""


def _field_key(cond: ET.Element) -> str:
    uri = cond.find(_q(T, "FieldURI"))
    if uri is not None:
        key = uri.get("FieldURI", "")
    else:
        ext = cond.find(_q(T, "ExtendedFieldURI"))
        if ext is None:
            raise RestrictionError("no field")
        key = "ext:" + hex(int(ext.get("PropertyTag", "0"), 0))
    if key not in FIELD_VALUES:
        raise RestrictionError(key)
    return key


def _constant(value: Any, text: str) -> Any:
    if isinstance(value, bool):
        return text.strip().lower() in ("1", "true")
    if isinstance(value, int):
        return int(text)
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    return text


def evaluate(cond: ET.Element, item: Item) -> bool:
    """Whether ``item`` satisfies the search expression ``cond``."""
    tag = cond.tag.split("}")[1]
    if tag == "And":
        return all(evaluate(c, item) for c in cond)
    if tag == "Or":
        return any(evaluate(c, item) for c in cond)
    if tag == "Not":
        return not evaluate(cond[0], item)
    if tag == "Exists":
        return bool(FIELD_VALUES[_field_key(cond)](item))
    key = _field_key(cond)
    value = FIELD_VALUES[key](item)
    const = cond.find(f".//{_q(T, 'Constant')}")
    if const is None:
        raise RestrictionError("no constant")
    wanted = _constant(value, const.get("Value", ""))
    if tag == "Contains":
        have, needle = str(value), str(wanted)
        if cond.get("ContainmentComparison", "Exact") != "Exact":
            have, needle = have.casefold(), needle.casefold()
        mode = cond.get("ContainmentMode", "Substring")
        if mode == "FullString":
            return have == needle
        if mode == "Prefixed":
            return have.startswith(needle)
        return needle in have
    if tag in _COMPARE:
        return _COMPARE[tag](value, wanted)
    raise RestrictionError(tag)


def restrict(items: list[Item], restriction: ET.Element | None) -> list[Item]:
    """The items matching a FindItem ``m:Restriction`` (all of them without one)."""
    if restriction is None or not len(restriction):
        return items
    return [i for i in items if evaluate(restriction[0], i)]


class ChangeOps:
    """Mixed into :class:`~tests.ews.emulator.EwsEmulator`."""

    if TYPE_CHECKING:
        users: dict[str, User]
        items: dict[str, Item]
        _seq: Any
        _new_id: Callable[[str], str]
        _message: Callable[..., str]
        _wrap: Callable[[str, list[str]], str]
        _resolve_folder: Callable[[User, ET.Element], Folder | str]
        _item_xml: Callable[[Item, set[str]], str]
        _requested: Callable[[ET.Element, str], set[str]]
        folder_id: Callable[[str, str], str]

    #: (seq, folder id, kind, item id): kind is create | update | read | delete
    change_log: list[tuple[int, str, str, str]]
    #: bumped by expire_sync_states(): older SyncStates become invalid
    sync_epoch: int = 0

    # ------------------------------------------------------------------ change log
    def _record(self, folder_id: str, kind: str, item_id: str) -> None:
        if not hasattr(self, "change_log"):
            self.change_log = []
        self.change_log.append((next(self._seq), folder_id, kind, item_id))

    def _store(self, item: Item) -> None:
        self.items[item.id] = item
        self._record(item.folder_id, "create", item.id)

    def _drop(self, item: Item) -> None:
        del self.items[item.id]
        self._record(item.folder_id, "delete", item.id)

    def _relocate(self, item: Item, folder_id: str) -> Item:
        """Move ``item`` into ``folder_id`` under a new id, as Exchange does."""
        from .emulator import Item as ItemClass

        self._drop(item)
        moved = ItemClass(self._new_id("I"), folder_id, item.mime, item.received,
                          next(self._seq), is_read=item.is_read, is_draft=item.is_draft,
                          flag_status=item.flag_status)
        self._store(moved)
        return moved

    def delete_folder(self, address: str, folder_id: str) -> None:
        """Remove a folder and its items (as another client deleting it would)."""
        user = self.users[address.lower()]
        for item in [i for i in self.items.values() if i.folder_id == folder_id]:
            self._drop(item)
        del user.folders[folder_id]

    def expire_sync_states(self) -> None:
        """Forget every SyncState handed out so far (as a mailbox move or a long pause does)."""
        self.sync_epoch += 1

    # ------------------------------------------------------------------ SyncFolderItems
    def _encode_state(self, folder_id: str, seq: int, after: int | None) -> str:
        payload = {"e": self.sync_epoch, "f": folder_id, "s": seq, "a": after}
        return base64.b64encode(b"H4sI" + json.dumps(payload).encode()).decode()

    def _decode_state(self, state: str, folder_id: str) -> tuple[int, int | None] | None:
        try:
            raw = base64.b64decode(state, validate=True)
            if not raw.startswith(b"H4sI"):
                return None
            data = json.loads(raw[4:])
            if data["e"] != self.sync_epoch or data["f"] != folder_id:
                return None
            return int(data["s"]), (None if data["a"] is None else int(data["a"]))
        except (ValueError, KeyError, TypeError):
            return None

    def _sync_error(self, code: str, text: str | None = None) -> str:
        return self._wrap("SyncFolderItems", [self._message("SyncFolderItems", code, text=text)])

    def _op_SyncFolderItems(self, user: User, body: ET.Element) -> str:
        fields = self._requested(body, "ItemShape")
        target = body.find(_q(M, "SyncFolderId"))
        folder = self._resolve_folder(user, target[0]) if target is not None and len(target) \
            else "ErrorInvalidRequest"
        if isinstance(folder, str):
            # SyncFolderItems names a vanished folder with its own code
            return self._sync_error("ErrorSyncFolderNotFound" if folder == "ErrorFolderNotFound"
                                    else folder, SYNC_FOLDER_TEXT if folder ==
                                    "ErrorFolderNotFound" else None)
        wanted = int(body.findtext(_q(M, "MaxChangesReturned")) or "0")
        if not 1 <= wanted <= MAX_CHANGES:
            raise SchemaError(f"MaxChangesReturned {wanted} is outside 1..{MAX_CHANGES}")
        state_text = (body.findtext(_q(M, "SyncState")) or "").strip()
        ignored = {e.get("Id") for e in body.iterfind(f"{_q(M, 'Ignore')}/{_q(T, 'ItemId')}")}
        if not state_text:
            seq = max((e[0] for e in getattr(self, "change_log", [])), default=0)
            state: tuple[int, int | None] | None = (seq, 0)
        else:
            state = self._decode_state(state_text, folder.id)
        if state is None:
            return self._sync_error("ErrorInvalidSyncStateData", SYNC_STATE_TEXT)
        seq, after = state
        if after is not None:
            changes, new_state, last = self._initial_round(folder.id, seq, after, wanted)
        else:
            changes, new_state, last = self._log_round(folder.id, seq, wanted)
        rendered = "".join(self._change_xml(kind, item_id, fields)
                           for kind, item_id in changes if item_id not in ignored)
        return self._wrap("SyncFolderItems", [self._message(
            "SyncFolderItems", "NoError",
            f"<m:SyncState>{new_state}</m:SyncState>"
            f"<m:IncludesLastItemInRange>{str(last).lower()}</m:IncludesLastItemInRange>"
            f"<m:Changes>{rendered}</m:Changes>")])

    def _initial_round(self, folder_id: str, seq: int, after: int,
                       wanted: int) -> tuple[list[tuple[str, str]], str, bool]:
        # The first rounds (no SyncState) report every item present as a Create, oldest
        # first, then continue with the log from the moment the first round was asked.
        present = sorted((i for i in self.items.values()
                          if i.folder_id == folder_id and after < i.seq <= seq),
                         key=lambda i: i.seq)
        window = present[:wanted]
        if len(present) > wanted:
            return [("create", i.id) for i in window], \
                self._encode_state(folder_id, seq, window[-1].seq), False
        more = [e for e in getattr(self, "change_log", []) if e[1] == folder_id and e[0] > seq]
        return [("create", i.id) for i in window], self._encode_state(folder_id, seq, None), \
            not more

    def _log_round(self, folder_id: str, seq: int,
                   wanted: int) -> tuple[list[tuple[str, str]], str, bool]:
        entries = [e for e in getattr(self, "change_log", []) if e[1] == folder_id and e[0] > seq]
        net: dict[str, str] = {}
        consumed = seq
        for entry_seq, _, kind, item_id in entries:
            if item_id not in net and len(net) >= wanted:
                break
            net[item_id] = _combine(net.get(item_id), kind)
            consumed = entry_seq
        last = consumed >= (entries[-1][0] if entries else seq)
        changes = [(kind, item_id) for item_id, kind in net.items() if kind != "none"]
        return changes, self._encode_state(folder_id, consumed, None), last

    def _change_xml(self, kind: str, item_id: str, fields: set[str]) -> str:
        item = self.items.get(item_id)
        if kind == "delete":
            return f'<t:Delete><t:ItemId Id="{item_id}" ChangeKey="AQAAAA=="/></t:Delete>'
        if item is None:
            return ""  # gone since: its Delete follows in a later round
        if kind == "read":
            return (f'<t:ReadFlagChange><t:ItemId Id="{item.id}" ChangeKey="{item.change_key}"/>'
                    f"<t:IsRead>{str(item.is_read).lower()}</t:IsRead></t:ReadFlagChange>")
        tag = "Create" if kind == "create" else "Update"
        return f"<t:{tag}>{self._item_xml(item, fields)}</t:{tag}>"

    # ------------------------------------------------------------------ UpdateItem
    def _op_UpdateItem(self, user: User, body: ET.Element) -> str:
        resolution = body.get("ConflictResolution", "AutoResolve")
        messages = []
        for change in body.iterfind(f"{_q(M, 'ItemChanges')}/{_q(T, 'ItemChange')}"):
            item_id_elem = change.find(_q(T, "ItemId"))
            item_id = item_id_elem.get("Id", "") if item_id_elem is not None else ""
            item = self._own_item(user, item_id)
            if isinstance(item, str):
                messages.append(self._message("UpdateItem", item, "<m:Items/>"))
                continue
            assert item_id_elem is not None
            if not item_id_elem.get("ChangeKey") and resolution != "AlwaysOverwrite":
                messages.append(self._message(
                    "UpdateItem", "ErrorChangeKeyRequiredForWriteOperations", "<m:Items/>",
                    text="When making a request that requires a change key, a change key "
                         "must be supplied."))
                continue
            updates = change.find(_q(T, "Updates"))
            kinds = [self._apply(item, u) for u in (list(updates) if updates is not None else [])]
            if kinds:
                self._record(item.folder_id, "read" if set(kinds) == {"read"} else "update",
                             item.id)
            messages.append(self._message(
                "UpdateItem", "NoError",
                f'<m:Items><t:Message><t:ItemId Id="{item.id}" ChangeKey="{item.change_key}"/>'
                "</t:Message></m:Items><m:ConflictResults><t:Count>0</t:Count>"
                "</m:ConflictResults>"))
        return self._wrap("UpdateItem", messages)

    def _apply(self, item: Item, update: ET.Element) -> str:
        key = _field_key(update)
        setting = update.tag == _q(T, "SetItemField")
        if key == "message:IsRead":
            # xs:boolean: "true" or "1" (exchangelib sends the latter)
            item.is_read = setting and (update.findtext(f".//{_q(T, 'IsRead')}") or "").strip() \
                in ("true", "1")
            return "read"
        if key == "ext:0x1090":
            item.flag_status = int(update.findtext(f".//{_q(T, 'Value')}") or "0") \
                if setting else 0
            return "update"
        raise RestrictionError(f"the emulator cannot update {key}")

    def _own_item(self, user: User, item_id: str) -> Item | str:
        from .emulator import _valid_id

        if not _valid_id(item_id):
            return "ErrorInvalidIdMalformed"
        item = self.items.get(item_id)
        if item is None or item.folder_id not in user.folders:
            return "ErrorItemNotFound"
        return item

    # ------------------------------------------------------------------ MoveItem
    def _op_MoveItem(self, user: User, body: ET.Element) -> str:
        target_elem = body.find(_q(M, "ToFolderId"))
        target = self._resolve_folder(user, target_elem[0]) \
            if target_elem is not None and len(target_elem) else "ErrorInvalidRequest"
        messages = []
        for elem in body.iterfind(f"{_q(M, 'ItemIds')}/{_q(T, 'ItemId')}"):
            item = self._own_item(user, elem.get("Id", ""))
            problem = target if isinstance(target, str) else item if isinstance(item, str) \
                else None
            if problem is not None:
                messages.append(self._message("MoveItem", problem, "<m:Items/>"))
                continue
            assert not isinstance(item, str)
            assert not isinstance(target, str)
            moved = self._relocate(item, target.id)
            messages.append(self._message(
                "MoveItem", "NoError",
                f'<m:Items><t:Message><t:ItemId Id="{moved.id}" ChangeKey="{moved.change_key}"/>'
                "</t:Message></m:Items>"))
        return self._wrap("MoveItem", messages)

    # ------------------------------------------------------------------ DeleteItem
    def _op_DeleteItem(self, user: User, body: ET.Element) -> str:
        how = body.get("DeleteType", "")
        trash = self.folder_id(user.address, "deleteditems")
        messages = []
        for elem in body.iterfind(f"{_q(M, 'ItemIds')}/{_q(T, 'ItemId')}"):
            item = self._own_item(user, elem.get("Id", ""))
            if isinstance(item, str):
                messages.append(self._message("DeleteItem", item))
                continue
            if how == "MoveToDeletedItems" and item.folder_id != trash:
                self._relocate(item, trash)
            else:  # HardDelete, SoftDelete (dumpster), or already in Deleted Items
                self._drop(item)
            messages.append(self._message("DeleteItem", "NoError"))
        return self._wrap("DeleteItem", messages)


class SchemaError(ValueError):
    """A request the EWS schema rejects: Exchange answers a SOAP fault (ErrorSchemaValidation)."""


def _combine(before: str | None, now: str) -> str:
    """The net change of an item over a window of log entries."""
    if now == "delete":
        return "none" if before == "create" else "delete"
    if before in ("create", "update"):
        return before
    if before == "read" and now == "read":
        return "read"
    if before == "read":
        return "update"
    return now
