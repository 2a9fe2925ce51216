"""The Gmail adapter keeps the adapter skeleton (docs/adapters.md): the shared public file
names, everything else private, library internals only in the shims, a small mailbox.py."""

from __future__ import annotations

from pathlib import Path

import inboxlink.adapters.gmail as package

FOLDER = Path(package.__file__).parent
SKELETON = {"__init__.py", "actions.py", "attachments.py", "connection.py", "convert.py",
            "errors.py", "mailbox.py", "send.py", "settings.py", "sync.py", "watch.py"}
SHIMS = {"_googleapiclient_shim.py", "_httplib2_shim.py"}


def test_public_files_are_exactly_the_skeleton() -> None:
    public = {p.name for p in FOLDER.glob("*.py")
              if p.name == "__init__.py" or not p.name.startswith("_")}
    assert public == SKELETON


def test_client_library_internals_are_touched_in_the_shims_only() -> None:
    for path in FOLDER.glob("*.py"):
        if path.name in SHIMS:
            continue
        text = path.read_text(encoding="utf-8")
        for hook in ("_in_error_state", ".connections", "resumable_progress",
                     "_fix_up_media_path_base_url", "request.uri ="):
            assert hook not in text, f"{path.name} touches a client library's {hook}"


def test_mailbox_module_stays_small() -> None:
    lines = (FOLDER / "mailbox.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300
