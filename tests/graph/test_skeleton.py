"""The Graph adapter keeps the adapter skeleton (docs/adapters.md): the shared public file
names, everything else private, msgraph/kiota details in the shim, and a small mailbox.py."""

from __future__ import annotations

from pathlib import Path

import inboxlink.adapters.graph as package

FOLDER = Path(package.__file__).parent
SKELETON = {"__init__.py", "actions.py", "attachments.py", "connection.py", "convert.py",
            "errors.py", "mailbox.py", "send.py", "settings.py", "sync.py", "watch.py"}


def test_public_files_are_skeleton_roles_and_the_rest_is_private() -> None:
    public = {p.name for p in FOLDER.glob("*.py")
              if p.name == "__init__.py" or not p.name.startswith("_")}
    assert public <= SKELETON, f"not a skeleton role, make it private: {public - SKELETON}"
    # send.py arrives when the send path moves out of mailbox.py
    assert SKELETON - public <= {"send.py"}


def test_msgraph_details_beyond_its_documented_api_are_in_the_shim_only() -> None:
    for path in FOLDER.glob("*.py"):
        if path.name == "_msgraph_shim.py":
            continue
        text = path.read_text(encoding="utf-8")
        for detail in ("graph_request_adapter import options", "graph_request_adapter.options",
                       "set_base_url_for_request_information", "RetryHandlerOption",
                       "create_with_default_middleware"):
            assert detail not in text, f"{path.name} relies on msgraph/kiota's {detail}"


def test_transport_errors_are_not_built_outside_the_table() -> None:
    for path in FOLDER.glob("*.py"):
        if path.name == "errors.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "except httpx" not in text, f"{path.name} maps httpx errors itself"


def test_mailbox_module_stays_small() -> None:
    lines = (FOLDER / "mailbox.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300
