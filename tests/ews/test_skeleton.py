"""The EWS adapter keeps the adapter skeleton (docs/adapters.md): the shared public file names,
everything else private, and a mailbox.py that only delegates."""

from __future__ import annotations

from pathlib import Path

import inboxlink.adapters.ews as package

FOLDER = Path(package.__file__).parent
SKELETON = {"__init__.py", "actions.py", "attachments.py", "connection.py", "convert.py",
            "errors.py", "mailbox.py", "send.py", "settings.py", "sync.py", "watch.py"}


def test_public_files_are_skeleton_roles_and_the_rest_is_private() -> None:
    public = {p.name for p in FOLDER.glob("*.py")
              if p.name == "__init__.py" or not p.name.startswith("_")}
    assert public <= SKELETON, f"not a skeleton role, make it private: {public - SKELETON}"
    # send.py arrives when the send path moves out of mailbox.py
    assert SKELETON - public <= {"send.py"}


def test_exchangelib_internals_are_touched_in_the_shim_only() -> None:
    for path in FOLDER.glob("*.py"):
        if path.name == "_exchangelib_shim.py":
            continue
        text = path.read_text(encoding="utf-8")
        for hook in ("def _elem_to_obj", "def _get_soap_parts", "def _handle_backoff",
                     "_streaming_response", "FIELDS.copy()", "Protocol["):
            assert hook not in text, f"{path.name} touches exchangelib's {hook}"


def test_mailbox_module_stays_small() -> None:
    lines = (FOLDER / "mailbox.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300
