"""Every gmail.* and google_oauth.* entry of errors.yaml, through the real client libraries.

API errors are injected into the emulator and reach the adapter over HTTP (plain calls and
batch sub-responses); OAuth errors come from the emulator's token endpoint while real
google-auth credentials refresh.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from inboxlink import errors
from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.adapters.gmail.errors import (
    SCOPES,
    TABLE,
    signals_from_http_error,
    translate_oauth_redirect,
)
from inboxlink.models import OutgoingMessage
from inboxlink.testing.conformance import make_message

from . import bodies
from .credentials import service_account_credentials, user_credentials
from .emulator import GmailEmulator
from .support import make_mailbox

ERRORS_YAML = pathlib.Path(__file__).resolve().parents[3] / "shared" / "errors.yaml"
REPO_COPY = pathlib.Path(__file__).with_name("errors_gmail.yaml")

Call = Callable[[GmailMailbox, GmailEmulator], Any]


def _folders(mb: GmailMailbox, emu: GmailEmulator) -> Any:
    return mb.folders(refresh=True)


def _list(mb: GmailMailbox, emu: GmailEmulator) -> Any:
    return mb.list_messages("INBOX")


def _fetch(mb: GmailMailbox, emu: GmailEmulator) -> Any:
    return mb.fetch(emu.deliver(make_message(1)))


def _send(mb: GmailMailbox, emu: GmailEmulator) -> Any:
    return mb.send(OutgoingMessage(to=["carol@example.org"], subject="Hi", text="x"))


def _append(mb: GmailMailbox, emu: GmailEmulator) -> Any:
    return mb.append_to_sent(make_message(2))


#: (entry, failing API method, call, expected class, operation used for scopes)
API_CASES: list[tuple[str, str, Call, type[errors.InboxLinkError]]] = [
    ("gmail.api_not_enabled", "labels.list", _folders, errors.ApiNotEnabled),
    ("gmail.mail_service_not_enabled", "messages.list", _list, errors.ProtocolDisabled),
    ("gmail.precondition_failed_no_subject", "labels.list", _folders, errors.ConfigurationError),
    ("gmail.insufficient_scopes", "messages.send", _send, errors.InsufficientScopes),
    ("gmail.domain_policy", "labels.list", _folders, errors.AppBlocked),
    ("gmail.user_blocked_by_admin", "messages.get", _fetch, errors.AppBlocked),
    ("gmail.user_rate_limit", "messages.get", _fetch, errors.RateLimited),
    ("gmail.project_rate_limit", "labels.list", _folders, errors.RateLimited),
    ("gmail.daily_limit", "messages.list", _list, errors.RateLimited),
    ("gmail.quota_exceeded_generic", "messages.get", _fetch, errors.RateLimited),
    ("gmail.backend_error", "messages.get", _fetch, errors.TransientError),
    ("gmail.not_found", "messages.get", _fetch, errors.MessageNotFound),
    ("gmail.invalid_raw_message", "messages.send", _send, errors.InvalidMessage),
    ("gmail.invalid_credentials_401", "messages.insert", _append, errors.InvalidCredentials),
]


@pytest.mark.parametrize(("entry", "method", "call", "expected"), API_CASES,
                         ids=[c[0] for c in API_CASES])
def test_api_error_is_typed(emulator: GmailEmulator, entry: str, method: str, call: Call,
                            expected: type[errors.InboxLinkError]) -> None:
    status, body = bodies.GMAIL[entry]
    mailbox = make_mailbox(emulator)
    emulator.fail(method, status, body, times=50)
    with pytest.raises(expected) as info:
        call(mailbox, emulator)
    err = info.value
    assert type(err) is expected
    assert err.provider == "gmail"
    assert err.remedy
    assert err.remedy != errors.InboxLinkError.default_remedy
    assert err.__cause__ is not None
    assert type(err.__cause__).__module__.startswith("googleapiclient")
    rule = TABLE.match(_signal_for(entry, status, body))
    assert rule is not None
    assert rule.error is expected


def _signal_for(entry: str, status: int, body: dict[str, Any]) -> Any:
    # The rule the table picks for this body, as the adapter would see it (any operation).
    signals, _ = signals_from_http_error(status, json.dumps(body), "x")
    for rule in TABLE.rules:
        if any(rule.matches(s) for s in signals):
            assert rule.source == entry or rule.source is None, (entry, rule)
            return next(s for s in signals if rule.matches(s))
    raise AssertionError(f"no rule for {entry}")


def test_api_not_enabled_names_the_project(emulator: GmailEmulator) -> None:
    emulator.fail("labels.list", *bodies.GMAIL["gmail.api_not_enabled"])
    with pytest.raises(errors.ApiNotEnabled) as info:
        make_mailbox(emulator).folders()
    assert bodies.PROJECT in info.value.remedy
    assert "gmail.googleapis.com" in info.value.remedy
    assert info.value.code == "SERVICE_DISABLED"  # the reason error_details would hide


def test_insufficient_scopes_names_the_missing_scope(emulator: GmailEmulator) -> None:
    emulator.fail("messages.send", *bodies.GMAIL["gmail.insufficient_scopes"])
    with pytest.raises(errors.InsufficientScopes) as info:
        _send(make_mailbox(emulator), emulator)
    assert info.value.missing == (SCOPES["send"],)
    assert SCOPES["send"] in info.value.remedy


def test_rate_limit_honours_retry_after_header(emulator: GmailEmulator) -> None:
    body = bodies.gmail_error(403, "User Rate Limit Exceeded", "userRateLimitExceeded",
                              domain="usageLimits")
    emulator.fail("labels.list", 403, body, times=10, headers={"Retry-After": "7"})
    mailbox = make_mailbox(emulator)
    with pytest.raises(errors.RateLimited) as info:
        mailbox.folders()
    assert info.value.retry_after == 7
    assert emulator.calls.count("labels.list") == 3  # retried up to the policy's attempts


def test_read_is_retried_after_one_throttle(emulator: GmailEmulator) -> None:
    emulator.fail("labels.list", *bodies.GMAIL["gmail.user_rate_limit"])
    assert make_mailbox(emulator).folders()
    assert emulator.calls.count("labels.list") == 2


def test_daily_limit_waits_for_pacific_midnight(emulator: GmailEmulator) -> None:
    emulator.fail("messages.list", *bodies.GMAIL["gmail.daily_limit"], times=10)
    with pytest.raises(errors.RateLimited) as info:
        _list(make_mailbox(emulator), emulator)
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 25 * 3600


def test_sending_limit_is_not_retried_and_says_when(emulator: GmailEmulator) -> None:
    emulator.fail("messages.send", 429, bodies.sending_limit_body(hours=2), times=10)
    with pytest.raises(errors.RateLimited) as info:
        _send(make_mailbox(emulator), emulator)
    assert info.value.retry_after is not None
    assert 7000 < info.value.retry_after <= 7200
    assert not info.value.retryable
    assert "sending limit" in info.value.remedy
    assert emulator.calls.count("messages.send") == 1  # a send is never repeated
    assert emulator.outbox == []


def test_backend_error_on_send_is_not_retried(emulator: GmailEmulator) -> None:
    emulator.fail("messages.send", *bodies.GMAIL["gmail.backend_error"], times=10)
    with pytest.raises(errors.TransientError):
        _send(make_mailbox(emulator), emulator)
    assert emulator.calls.count("messages.send") == 1


def test_whole_batch_failure_is_typed(emulator: GmailEmulator) -> None:
    emulator.fail("batch", 503, bodies.gmail_error(503, "Service Unavailable", "backendError"),
                  times=10)
    with pytest.raises(errors.TransientError):
        _fetch(make_mailbox(emulator), emulator)


def test_unknown_and_malformed_ids_are_not_found(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    with pytest.raises(errors.MessageNotFound):
        mailbox.fetch("18c00000000000ff")
    with pytest.raises(errors.MessageNotFound):
        mailbox.fetch("not-an-id")


def test_history_expired_is_sync_token_expired(emulator: GmailEmulator) -> None:
    # The documented 404 on history.list for a startHistoryId Gmail no longer keeps.
    status, body = bodies.GMAIL["gmail.history_expired"]
    signals, _ = signals_from_http_error(status, json.dumps(body), "history")
    rule = next(r for r in TABLE.rules if any(r.matches(s) for s in signals))
    assert rule.error is errors.SyncTokenExpired
    assert rule.source == "gmail.history_expired"
    mailbox = make_mailbox(emulator)
    token = mailbox.sync_token("INBOX")
    emulator.fail("history.list", status, body)
    with pytest.raises(errors.SyncTokenExpired) as info:
        mailbox.changes("INBOX", token)
    assert info.value.code == "notFound"
    assert "sync_token()" in info.value.remedy
    assert isinstance(info.value.__cause__, Exception)


def test_invalid_raw_on_insert(emulator: GmailEmulator) -> None:
    emulator.fail("messages.insert", 400, bodies.gmail_error(
        400, "'raw' RFC822 payload message string or uploading message via /upload/* URL "
             "required", "invalidArgument", "INVALID_ARGUMENT"))
    with pytest.raises(errors.InvalidMessage):
        _append(make_mailbox(emulator), emulator)


def test_expired_static_token_inside_a_batch(emulator: GmailEmulator) -> None:
    # The batch answers 401 per call and googleapiclient tries to refresh a bare token.
    message_id = emulator.deliver(make_message(1))
    mailbox = make_mailbox(emulator, access_token="expired-token")
    with pytest.raises(errors.InvalidCredentials) as info:
        mailbox.fetch(message_id)
    assert type(info.value.__cause__).__name__ == "RefreshError"


def test_expired_static_token(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator, access_token="expired-token")
    with pytest.raises(errors.InvalidCredentials) as info:
        mailbox.folders()
    assert info.value.code == "authError"
    assert "expired-token" not in str(info.value) + repr(info.value)
    assert "refresh" in info.value.remedy


# --------------------------------------------------------------------------- OAuth
OAUTH_CASES: list[tuple[str, str, type[errors.InboxLinkError]]] = [
    ("google_oauth.token_revoked", "user", errors.ReauthorizationRequired),
    ("google_oauth.admin_policy_enforced", "user", errors.AppBlocked),
    ("google_oauth.advanced_protection", "user", errors.AppBlocked),
    ("google_oauth.org_internal", "user", errors.PermissionDenied),
    ("google_oauth.access_denied", "user", errors.ReauthorizationRequired),
    ("google_oauth.dwd_unauthorized_client", "service", errors.ConfigurationError),
    ("google_oauth.dwd_invalid_subject", "service", errors.MailboxNotFound),
    ("google_oauth.client_deleted_or_invalid", "user", errors.InvalidCredentials),
    ("google_oauth.reauth_required", "user", errors.InteractionRequired),
]


@pytest.mark.parametrize(("entry", "kind", "expected"), OAUTH_CASES,
                         ids=[c[0] for c in OAUTH_CASES])
def test_oauth_refresh_error_is_typed(emulator: GmailEmulator, entry: str, kind: str,
                                      expected: type[errors.InboxLinkError]) -> None:
    status, body = bodies.OAUTH[entry]
    creds = user_credentials(emulator) if kind == "user" else service_account_credentials(emulator)
    mailbox = make_mailbox(emulator, access_token=None, credentials=creds)
    emulator.fail("token", status, body)
    with pytest.raises(expected) as info:
        mailbox.folders()
    err = info.value
    assert type(err) is expected
    assert type(err.__cause__).__name__ in ("RefreshError", "ReauthFailError")
    assert err.remedy
    assert err.remedy != expected.default_remedy
    assert "refresh-token-secret" not in str(err)
    assert emulator.token_requests, "google-auth really called the token endpoint"
    assert not any(c == "labels.list" for c in emulator.calls)


def test_bad_jwt_is_a_configuration_error(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator, access_token=None,
                           credentials=service_account_credentials(emulator))
    emulator.fail("token", 400, bodies.oauth("invalid_grant", "Invalid JWT Signature."))
    with pytest.raises(errors.ConfigurationError) as info:
        mailbox.folders()
    assert type(info.value) is errors.ConfigurationError
    assert "clock" in info.value.remedy


def test_deleted_client(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator, access_token=None, credentials=user_credentials(emulator))
    emulator.fail("token", 401, bodies.oauth("deleted_client", "The OAuth client was deleted."))
    with pytest.raises(errors.InvalidCredentials) as info:
        mailbox.folders()
    assert "deleted" in info.value.remedy


def test_revoked_token_remedy_mentions_testing_mode(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator, access_token=None, credentials=user_credentials(emulator))
    emulator.fail("token", *bodies.OAUTH["google_oauth.token_revoked"])
    with pytest.raises(errors.ReauthorizationRequired) as info:
        mailbox.list_messages("INBOX")
    assert "Testing" in info.value.remedy
    assert info.value.code == "invalid_grant"


@pytest.mark.parametrize(("error", "description", "expected"), [
    ("admin_policy_enforced", "", errors.AppBlocked),
    ("policy_enforced", "Acme is not approved by Advanced Protection", errors.AppBlocked),
    ("org_internal", "", errors.PermissionDenied),
    ("access_denied", "", errors.ReauthorizationRequired),
])
def test_oauth_redirect_errors(error: str, description: str,
                               expected: type[errors.InboxLinkError]) -> None:
    err = translate_oauth_redirect(error, description)
    assert type(err) is expected
    assert err.code == error


def test_advanced_protection_remedy_names_trusted_apps() -> None:
    err = translate_oauth_redirect("policy_enforced", "Acme is not approved by Advanced Protection")
    assert "Advanced Protection" in err.remedy
    assert "trusted" in err.remedy


# --------------------------------------------------------------------------- completeness
def _ids(path: pathlib.Path) -> list[str]:
    data = yaml.safe_load(path.read_text())
    return [e["id"] for e in data["entries"] if e["id"].startswith(("gmail.", "google_oauth."))]


def _catalog_ids() -> list[str]:
    ids = _ids(REPO_COPY)
    if ERRORS_YAML.exists():  # the shared catalog, when this checkout sits next to it
        assert _ids(ERRORS_YAML) == ids, "tests/gmail/errors_gmail.yaml is out of date"
    return ids


def test_every_catalog_entry_has_a_rule_and_a_test() -> None:
    ids = _catalog_ids()
    assert len(ids) >= 25
    sources = {rule.source for rule in TABLE.rules}
    tested = {c[0] for c in API_CASES} | {c[0] for c in OAUTH_CASES} | {
        "gmail.history_expired", "gmail.sending_limit"}
    for entry in ids:
        assert entry in sources, f"{entry} has no rule"
        assert entry in tested, f"{entry} has no test"
        assert entry in bodies.GMAIL or entry in bodies.OAUTH or entry == "gmail.sending_limit"


def test_errors_module_imports_without_client() -> None:
    import subprocess
    import sys

    code = ("import sys, inboxlink.adapters.gmail.errors as e, inboxlink.adapters.gmail as g;"
            "assert 'googleapiclient' not in sys.modules and 'google.auth' not in sys.modules;"
            "print(len(e.TABLE.rules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert int(out.stdout) > 20


def test_docs_explain_every_catalog_entry() -> None:
    from inboxlink.cli.reference import expand_error_tables

    page = pathlib.Path(__file__).parents[2] / "docs" / "gmail.md"
    text = expand_error_tables(page.read_text())  # the generated tables, as the site shows
    for entry in _catalog_ids():
        assert entry in text, f"docs/gmail.md does not explain {entry}"


def test_match_any_lets_the_tables_order_decide() -> None:
    # Multi-signal matching is a table feature: whichever of an error's codes a rule names,
    # the most specific rule (first in the table) wins, not the first code.
    from inboxlink.translate import Signal

    generic = Signal("gmail", code="notFound", text="x", status=404)
    specific = Signal("gmail", code="history:notFound", text="x", status=404)
    rule, signal = TABLE.match_any([generic, specific]) or (None, None)
    assert rule is not None
    assert rule.error is errors.SyncTokenExpired
    assert signal is specific
    assert TABLE.match_any([Signal("gmail", code="nothing-like-it")]) is None
    built = TABLE.error_for(generic, rule=rule)
    assert isinstance(built, errors.SyncTokenExpired)
