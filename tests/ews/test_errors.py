"""Every ews.* entry of errors.yaml maps to a typed error, and each is produced for real:
the emulator answers with Exchange's error body and unmodified exchangelib parses it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.adapters.ews.errors import TABLE
from inboxlink.models import FolderRole, OutgoingMessage
from inboxlink.retry import RetryPolicy
from inboxlink.testing.conformance import make_message

from . import test_connect, test_operations
from .conftest import ADDRESS
from .emulator import EwsEmulator

Connect = Callable[..., Any]

#: the ews.* ids of errors.yaml (shared/errors.yaml, 2026-11)
YAML_IDS = {
    "ews.unauthorized", "ews.unauthorized_fault_tolerance", "ews.account_locked",
    "ews.owa_url_redirect", "ews.html_page_instead_of_soap", "ews.generic_error_page_redirect",
    "ews.cas_error", "ews.server_version_too_old", "ews.invalid_server_version",
    "ews.server_busy", "ews.http_503", "ews.exceeded_connection_count",
    "ews.too_many_objects_opened", "ews.non_existent_mailbox", "ews.send_as_denied",
    "ews.access_denied", "ews.impersonation_denied", "ews.mailbox_store_unavailable",
    "ews.mailbox_move_in_progress", "ews.item_not_found", "ews.quota_exceeded",
    "ews.message_size_exceeded", "ews.submission_quota_exceeded", "ews.autodiscover_failed",
    "ews.no_compatible_auth", "ews.ntlm_domain_username", "ews.tls_error",
    "ews.connection_failed",
}

#: entries whose natural place is a connect/operation test: id → test function there
_C, _O = test_connect, test_operations
COVERED_ELSEWHERE = {
    "ews.unauthorized": (_C, "test_wrong_password_is_invalid_credentials_with_full_remedy"),
    "ews.account_locked": (_C, "test_locked_account"),
    "ews.owa_url_redirect": (_C, "test_owa_redirect_is_invalid_exchange_url_with_suggestion"),
    "ews.html_page_instead_of_soap": (_C, "test_html_page_is_invalid_exchange_url"),
    "ews.server_version_too_old": (_C, "test_older_than_2010_sp2_is_refused"),
    "ews.invalid_server_version": (_C, "test_server_rejecting_every_version_is_unsupported"),
    "ews.non_existent_mailbox": (_C, "test_mailbox_that_does_not_exist"),
    "ews.send_as_denied": (_O, "test_send_as_another_address_is_denied"),
    "ews.item_not_found": (_O, "test_missing_message_inside_a_batch_is_message_not_found"),
    "ews.autodiscover_failed": (_C, "test_autodiscover_failure_is_typed"),
    "ews.no_compatible_auth": (_C, "test_no_compatible_auth_method"),
    "ews.ntlm_domain_username": (_C, "test_bare_username_is_refused_with_domain_hint"),
    "ews.tls_error": (_C, "test_certificate_name_mismatch_names_the_host"),
    "ews.connection_failed": (_C, "test_unreachable_server"),
}


def _list(mailbox: Any, emulator: EwsEmulator) -> Any:
    return mailbox.list_messages(FolderRole.INBOX)


def _fetch(mailbox: Any, emulator: EwsEmulator) -> Any:
    return mailbox.fetch_many(list(emulator.items))


def _send(mailbox: Any, emulator: EwsEmulator) -> Any:
    return mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="x"))


def _append(mailbox: Any, emulator: EwsEmulator) -> Any:
    return mailbox.append_to_sent(make_message(5, sender=ADDRESS))


#: (errors.yaml id, operation to break, how, call, expected class, retryable)
CASES = [
    ("ews.server_busy", "FindItem", dict(code="ErrorServerBusy", kind="fault", back_off_ms=5000),
     _list, errors.RateLimited, True),
    ("ews.server_busy", "GetItem", dict(code="ErrorServerBusy", back_off_ms=1500),
     _fetch, errors.RateLimited, True),
    ("ews.http_503", "http:FindItem", dict(kind="http", status=503), _list,
     errors.TransientError, True),
    ("ews.http_503", "http:FindItem",
     dict(kind="http", status=500, body=b"<html>Server Error in '/EWS' Application.</html>"),
     _list, errors.TransientError, True),
    ("ews.exceeded_connection_count", "FindItem", dict(code="ErrorExceededConnectionCount"),
     _list, errors.RateLimited, True),
    ("ews.too_many_objects_opened", "GetItem", dict(code="ErrorTooManyObjectsOpened"),
     _fetch, errors.RateLimited, True),
    ("ews.non_existent_mailbox", "FindItem", dict(code="ErrorNonExistentMailbox"), _list,
     errors.MailboxNotFound, False),
    ("ews.send_as_denied", "CreateItem", dict(code="ErrorSendAsDenied"), _send,
     errors.SendAsDenied, False),
    ("ews.access_denied", "GetItem", dict(code="ErrorAccessDenied"), _fetch,
     errors.PermissionDenied, False),
    ("ews.impersonation_denied", "FindItem", dict(code="ErrorImpersonateUserDenied",
                                                  kind="fault"), _list,
     errors.PermissionDenied, False),
    ("ews.mailbox_store_unavailable", "FindItem", dict(code="ErrorMailboxStoreUnavailable"),
     _list, errors.TransientError, True),
    ("ews.mailbox_move_in_progress", "GetItem", dict(code="ErrorMailboxMoveInProgress"),
     _fetch, errors.TransientError, True),
    ("ews.item_not_found", "GetItem", dict(code="ErrorItemNotFound"), _fetch,
     errors.MessageNotFound, False),
    ("ews.quota_exceeded", "CreateItem", dict(code="ErrorQuotaExceeded"), _append,
     errors.QuotaExceeded, False),
    ("ews.message_size_exceeded", "CreateItem", dict(code="ErrorMessageSizeExceeded"), _send,
     errors.MessageTooLarge, False),
    ("ews.submission_quota_exceeded", "CreateItem", dict(code="ErrorSubmissionQuotaExceeded"),
     _send, errors.QuotaExceeded, True),
    ("ews.cas_error", "http:FindItem",
     dict(kind="http", status=500, headers={"X-CasErrorCode": "UserHasNoMailbox"},
          body=b"<html>CAS</html>"), _list, errors.TransientError, False),
    ("ews.generic_error_page_redirect", "http:FindItem",
     dict(kind="http", status=302,
          headers={"Location": "/ews/genericerrorpage.htm?aspxerrorpath=/ews/exchange.asmx"}),
     _list, errors.TransientError, True),
    ("ews.generic_error_page_redirect", "http:FindItem",
     dict(kind="http", status=302,
          headers={"Location": "https://mail.example.com/internalsite/internalerror.asp"}),
     _list, errors.ConnectError, False),
    ("ews.connection_failed", "http:FindItem", dict(kind="close"), _list,
     errors.ServerUnreachable, True),
]


def test_every_yaml_entry_has_a_rule() -> None:
    sources = {rule.source for rule in TABLE.rules if rule.source}
    assert sources == YAML_IDS


def test_every_yaml_entry_is_exercised() -> None:
    exercised = {case[0] for case in CASES} | set(COVERED_ELSEWHERE) | {
        "ews.unauthorized_fault_tolerance"}
    assert exercised == YAML_IDS
    for module, name in COVERED_ELSEWHERE.values():
        assert callable(getattr(module, name)), name


@pytest.mark.parametrize(("yaml_id", "operation", "how", "call", "expected", "retryable"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_signal_becomes_typed_error(
    emulator: EwsEmulator, connect: Connect, yaml_id: str, operation: str,
    how: dict[str, Any], call: Callable[[Any], Any], expected: type[errors.InboxLinkError],
    retryable: bool,
) -> None:
    emulator.deliver(ADDRESS, make_message(1))
    mailbox = connect()
    emulator.fail_next(operation, **how)
    with pytest.raises(expected) as info:
        call(mailbox, emulator)
    error = info.value
    assert error.retryable is retryable
    assert error.provider == "ews"
    assert error.remedy
    assert error.__cause__ is not None
    assert type(error.__cause__).__module__.startswith("exchangelib")
    rule = TABLE.match(_signal_of(error))
    assert rule is not None
    assert rule.source == yaml_id


def _signal_of(error: errors.InboxLinkError) -> Any:
    from inboxlink.adapters.ews.errors import extract

    signal = extract(error.__cause__)  # type: ignore[arg-type]
    assert signal is not None
    assert not isinstance(signal, errors.InboxLinkError)
    return signal


def test_server_busy_carries_the_back_off(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox = connect()
    emulator.fail_next("FindItem", "ErrorServerBusy", kind="fault", back_off_ms=297749)
    with pytest.raises(errors.RateLimited) as info:
        mailbox.list_messages(FolderRole.INBOX)
    assert info.value.retry_after == pytest.approx(297.749)
    assert "297.749" in info.value.remedy


def test_reads_are_retried_after_server_busy(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.deliver(ADDRESS, make_message(1))
    mailbox = connect(retry=RetryPolicy(max_attempts=3))
    emulator.fail_next("FindItem", "ErrorServerBusy", kind="fault", back_off_ms=10)
    assert len(mailbox.list_messages(FolderRole.INBOX).items) == 1
    assert emulator.count("FindItem") == 2


def test_password_changed_mid_session(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox = connect()
    emulator.users[ADDRESS].password = "changed"
    with pytest.raises(errors.InvalidCredentials) as info:
        mailbox.list_messages(FolderRole.INBOX)
    assert info.value.code == "UnauthorizedError"


def test_401_under_fault_tolerance_is_not_an_hour_of_retries(
    emulator: EwsEmulator, connect: Connect
) -> None:
    # exchangelib's FaultTolerance treats 401 as throttling; inboxlink reports the sign-in.
    mailbox = connect(throttle_max_wait=1)
    emulator.users[ADDRESS].password = "changed"
    with pytest.raises(errors.InvalidCredentials) as info:
        mailbox.list_messages(FolderRole.INBOX)
    assert info.value.code == "UnauthorizedRetried"
    assert TABLE.match(_signal_of(info.value)).source == "ews.unauthorized_fault_tolerance"  # type: ignore[union-attr]


def test_connect_never_uses_fault_tolerance(emulator: EwsEmulator, connect: Connect) -> None:
    # Even with throttle_max_wait set, a wrong password at connect fails at once.
    with pytest.raises(errors.InvalidCredentials):
        connect(password="wrong", throttle_max_wait=3600, auth_type="basic")
    assert emulator.requests == ["ConvertId"]


def test_unmatched_exchange_code_is_still_typed(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox = connect()
    emulator.fail_next("FindItem", "ErrorCorruptData")
    with pytest.raises(errors.InboxLinkError) as info:
        mailbox.list_messages(FolderRole.INBOX)
    assert info.value.code == "ErrorCorruptData"


def test_programming_errors_are_not_disguised() -> None:
    from inboxlink.adapters.ews.errors import extract

    assert extract(TypeError("bug")) is None


def test_secrets_never_in_errors(connect: Connect) -> None:
    with pytest.raises(errors.InvalidCredentials) as info:
        connect(password="Hunter2-secret")
    text = f"{info.value} {info.value!r} {info.value.remedy}"
    assert "Hunter2-secret" not in text


def test_error_table_imports_without_exchangelib() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('exchangelib', 'requests'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import inboxlink.adapters.ews.errors as e\n"
        "from inboxlink.adapters.ews import EwsSettings\n"
        "assert len(e.TABLE.rules) > 20\n"
        "assert 'exchangelib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docs_list_every_rule() -> None:
    import pathlib

    from inboxlink.cli.reference import ERROR_TABLE_MARKER, expand_error_tables

    source = (pathlib.Path(__file__).parents[2] / "docs" / "ews.md").read_text()
    assert ERROR_TABLE_MARKER.search(source), "docs/ews.md lost its generated error table"
    page = expand_error_tables(source).replace("<wbr>", "")  # the tables the site shows
    for rule in TABLE.rules:
        assert rule.error.__name__ in page, rule
        if rule.source:
            assert rule.source in page, rule.source
