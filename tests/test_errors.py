"""The error tree: names, fields, remedies, builtin bases, pickling, redaction, tables."""

from __future__ import annotations

import pickle

import pytest

from inboxlink import errors
from inboxlink.translate import ErrorTable, Rule, Signal, translating

DESIGN_NAMES = [
    "RestApiNotEnabled", "AdminConsentRequired", "InteractionRequired", "MailboxNotFound",
    "UnsupportedExchangeVersion", "InvalidExchangeUrl", "UnsupportedServer", "UnsupportedProtocol",
    "CertificateError", "StartTlsUnavailable", "InvalidCredentials", "AppPasswordRequired",
    "ReauthorizationRequired", "AppBlocked", "ApiNotEnabled", "ProtocolDisabled",
    "InsufficientScopes", "SendAsDenied", "MissingSmtpAddress", "RateLimited", "TransientError",
    "NotFound", "ConnectError", "AuthError", "ConfigurationError", "PermissionDenied",
]


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_every_design_name_exists_with_a_remedy(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.InboxLinkError)
    err = cls()
    assert err.remedy
    assert err.remedy == cls.default_remedy or name in {"RateLimited"}
    assert err.message


def test_every_class_is_documented_and_in_the_tree() -> None:
    classes = errors.all_error_classes()
    assert classes[0] is errors.InboxLinkError
    for cls in classes:
        assert cls.__doc__, cls
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} missing from the tree"
        assert cls.__name__ in errors.__all__


def test_builtin_bases() -> None:
    assert issubclass(errors.NotFound, LookupError)
    assert issubclass(errors.MessageNotFound, LookupError)
    assert issubclass(errors.OperationTimeout, TimeoutError)
    assert issubclass(errors.ServerUnreachable, ConnectionError)
    assert issubclass(errors.PermissionDenied, PermissionError)
    assert issubclass(errors.InvalidMessage, ValueError)


def test_specific_fields_shape_message_and_remedy() -> None:
    err = errors.AdminConsentRequired(consent_url="https://login.example/consent?x=1")
    assert err.consent_url == "https://login.example/consent?x=1"
    assert "https://login.example/consent?x=1" in err.remedy
    assert errors.RateLimited(retry_after=7).retry_after == 7
    assert "7" in errors.RateLimited(retry_after=7).remedy
    assert errors.RateLimited().retryable
    assert not errors.InvalidCredentials().retryable
    scopes = errors.InsufficientScopes(missing=["Mail.Send", "offline_access"])
    assert scopes.missing == ("Mail.Send", "offline_access")
    assert "Mail.Send" in str(scopes)
    old = errors.UnsupportedExchangeVersion(server_version="14.1")
    assert "14.1" in old.message
    assert "2010 SP2" in old.message
    url = errors.InvalidExchangeUrl(suggested_url="https://mail.example.com/EWS/Exchange.asmx")
    assert url.suggested_url in url.remedy
    refused = errors.RecipientsRefused(recipients={"x@y.z": "550 5.1.1 no such user"})
    assert "x@y.z" in str(refused)


def test_explicit_remedy_wins_and_str_shows_code() -> None:
    err = errors.InvalidCredentials("Nope.", provider="imap", code="AUTHENTICATIONFAILED",
                                    remedy="Use the app password.")
    assert err.remedy == "Use the app password."
    assert str(err) == "Nope. [imap: AUTHENTICATIONFAILED] Remedy: Use the app password."
    assert "InvalidCredentials" in repr(err)


def test_errors_pickle_with_their_fields() -> None:
    err = errors.RateLimited("slow down", provider="graph", code="429", retry_after=3.5)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is errors.RateLimited
    assert copy.retry_after == 3.5
    assert copy.provider == "graph"
    assert copy.remedy == err.remedy


def test_redact_removes_secrets_and_credential_shapes() -> None:
    text = "LOGIN alice hunter22 failed; password=hunter22&token=abc.def Authorization: Bearer xyz"
    out = errors.redact(text, ["hunter22"])
    assert "hunter22" not in out
    assert "abc.def" not in out
    assert "xyz" not in out


TABLE = ErrorTable(
    provider="test",
    rules=(
        Rule(errors.AppPasswordRequired, pattern=r"Application-specific password"),
        Rule(errors.InvalidCredentials, code="AUTHENTICATIONFAILED"),
        Rule(errors.RateLimited, status=429),
        Rule(errors.TransientError, status=(500, 502, 503)),
    ),
)


def test_table_first_matching_rule_wins() -> None:
    sig = Signal("test", code="AUTHENTICATIONFAILED", text="[ALERT] Application-specific password")
    assert type(TABLE.error_for(sig)) is errors.AppPasswordRequired
    assert type(TABLE.error_for(Signal("test", code="authenticationfailed"))) is errors.InvalidCredentials
    limited = TABLE.error_for(Signal("test", status=429, details={"retry_after": 2.0}))
    assert isinstance(limited, errors.RateLimited)
    assert limited.retry_after == 2.0
    assert type(TABLE.error_for(Signal("test", status=418))) is errors.InboxLinkError


def test_table_drops_details_a_class_does_not_take() -> None:
    err = TABLE.error_for(Signal("test", status=503, details={"retry_after": 2.0}))
    assert type(err) is errors.TransientError


DETAILED = ErrorTable(
    provider="test",
    rules=(
        Rule(errors.ConnectError, code="internal", remedy="Ask the administrator."),
        Rule(errors.InvalidExchangeUrl, code="webmail", remedy="Use the EWS URL."),
        Rule(errors.CertificateError, code="tls", remedy="Fix the certificate."),
    ),
)
_SUGGESTION = {"suggested_url": "https://mail.example.com/EWS/Exchange.asmx",
               "remedy": "Use https://mail.example.com/EWS/Exchange.asmx instead."}


def test_table_keeps_the_rules_remedy_when_a_detail_is_dropped() -> None:
    # ConnectError takes no suggested_url: the remedy written around it goes with it.
    err = DETAILED.error_for(Signal("test", code="internal", details=_SUGGESTION))
    assert type(err) is errors.ConnectError
    assert err.remedy == "Ask the administrator."
    assert not hasattr(err, "suggested_url")


def test_table_keeps_the_details_a_class_takes() -> None:
    err = DETAILED.error_for(Signal("test", code="webmail", details=_SUGGESTION))
    assert isinstance(err, errors.InvalidExchangeUrl)
    assert err.suggested_url == _SUGGESTION["suggested_url"]
    assert err.remedy == _SUGGESTION["remedy"]
    # retry_after is not a CertificateError's: reason/host are kept all the same
    err = DETAILED.error_for(Signal("test", code="tls", details={
        "reason": "expired", "host": "mail.example.com", "retry_after": 3.0}))
    assert isinstance(err, errors.CertificateError)
    assert (err.reason, err.host) == ("expired", "mail.example.com")
    assert err.remedy == "Fix the certificate."


def test_table_survives_a_detail_of_the_wrong_shape() -> None:
    err = DETAILED.error_for(Signal("test", code="tls", details={"names": 5}))
    assert isinstance(err, errors.CertificateError)
    assert err.remedy == "Fix the certificate."


def test_translating_raises_from_the_original_and_passes_others() -> None:
    def extract(exc: BaseException, context: None) -> Signal | None:
        return Signal("test", status=exc.args[0]) if isinstance(exc, OSError) else None

    with pytest.raises(errors.RateLimited) as info, translating(TABLE, extract, None):
        raise OSError(429)
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(KeyError), translating(TABLE, extract, None):
        raise KeyError("programming error passes through")
    with pytest.raises(errors.NotFound), translating(TABLE, extract, None):
        raise errors.NotFound()


def test_translated_messages_are_redacted() -> None:
    err = TABLE.error_for(Signal("test", status=418, text="bad password=hunter22"))
    assert "hunter22" not in str(err)


def test_message_too_large_carries_limit_and_size_through_pickling() -> None:
    err = errors.MessageTooLarge(provider="smtp", code="552", limit=10_485_760, size=12_000_000)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.limit, copy.size) == (10_485_760, 12_000_000)
    assert errors.MessageTooLarge().limit is None
    assert errors.MessageTooLarge().size is None
