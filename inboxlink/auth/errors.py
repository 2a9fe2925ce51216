"""Sign-in failures → typed errors, through the adapters' existing tables.

Microsoft's token endpoint answers with the Entra ID error body (``error``,
``error_description`` carrying ``AADSTS<n>``, ``error_codes``, ``suberror``), which msal
hands back as a dict; Google's with ``{"error": "invalid_grant", …}``, which google-auth
raises as ``RefreshError`` and oauthlib as ``OAuth2Error``. Both already have rows in the
adapters' tables (``entra.*`` rules in `inboxlink.adapters.graph.errors`,
``google_oauth.*`` rules in `inboxlink.adapters.gmail.errors`); this module only turns
the client libraries' shapes into `Signal` s for those tables.

`TABLE` holds the few signals no adapter meets (the device-code words of RFC 8628,
a cache with no saved sign-in); it is tried first.

`signing_in` is the one boundary every public function of `inboxlink.auth`
runs under; it also ends every sign-in error's remedy with the command that fixes it
(``inboxlink login URL``).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from inboxlink import errors
from inboxlink.translate import ErrorTable, Extract, Rule, Signal, translating

C = TypeVar("C")

__all__ = ["NO_SAVED_SIGN_IN", "TABLE", "OAuthFailure", "google_extract", "microsoft_extract",
           "signing_in"]

#: code of the signal for "the cache holds no usable sign-in for this account"
NO_SAVED_SIGN_IN = "inboxlink.no_saved_sign_in"

TABLE = ErrorTable(
    provider="oauth",
    rules=(
        Rule(errors.ReauthorizationRequired, code=NO_SAVED_SIGN_IN,
             message="There is no saved sign-in for this account.",
             remedy="Sign in once so the token cache holds a refresh token."),
        # RFC 8628 §3.5: the user did not finish (or refused) the device-code sign-in in time.
        Rule(errors.InteractionRequired, code="expired_token",
             remedy="The device code expired before the sign-in was finished: start the "
                    "sign-in again and enter the new code within its validity."),
        Rule(errors.InteractionRequired, code="authorization_declined",
             remedy="The sign-in was declined on the other device: start it again and "
                    "approve it."),
        Rule(errors.InteractionRequired, code="bad_verification_code",
             remedy="The device code was not recognised: start the sign-in again."),
        # A public client redeeming a device code (or any code) when the app registration
        # does not allow public client flows: Entra asks for a client secret instead.
        Rule(errors.ConfigurationError, code="AADSTS7000218",
             remedy="The app registration does not allow public client flows: in Entra ID "
                    "open the app > Authentication > Advanced settings and set 'Allow public "
                    "client flows' to Yes (needed for device-code and loopback sign-in)."),
        Rule(errors.InteractionRequired, code="timeout",
             remedy="The sign-in was not finished in time: open the sign-in address in a "
                    "browser on this machine and complete it, or use --device-code (Microsoft) "
                    "on a machine without a browser."),
        *(Rule(errors.InteractionRequired, code=word,
               remedy="The browser returned to a different sign-in than the one started "
                      "(another tab, an old link, or a forged redirect): start the sign-in "
                      "again.")
          for word in ("state_mismatch", "mismatching_state")),  # msal's, oauthlib's
    ),
    fallback=errors.AuthError,
)

_AADSTS = re.compile(r"AADSTS(\d+)")


class OAuthFailure(Exception):
    """An identity provider's error answer, as plain data (what msal returns in a dict).

    Only the OAuth error fields are kept: never a token, code or secret.
    """

    def __init__(self, provider: str, error: str, description: str = "",
                 codes: tuple[int, ...] = (), suberror: str | None = None) -> None:
        self.provider = provider
        self.error = error
        self.description = description
        self.codes = codes
        self.suberror = suberror
        super().__init__(f"{error}: {description}" if description else error)

    @classmethod
    def from_result(cls, provider: str, result: Mapping[str, Any]) -> OAuthFailure:
        """From an msal result dict or an OAuth error body."""
        codes = tuple(int(c) for c in result.get("error_codes") or () if str(c).isdigit())
        return cls(provider, str(result.get("error") or "unknown_error"),
                   str(result.get("error_description") or ""), codes,
                   result.get("suberror"))

    def signal(self, provider: str) -> Signal:
        """The `Signal` for a table: AADSTS number first, else the OAuth word."""
        match = _AADSTS.search(self.description)
        number = self.codes[0] if self.codes else (int(match.group(1)) if match else None)
        code = f"AADSTS{number}" if number is not None else self.error
        # The OAuth word goes last, in brackets: errors.redact() masks whatever follows a
        # word ending in "token" ("expired_token AADSTS70020" would lose the number).
        text = f"{self.description} [{self.error}]" if self.description else self.error
        return Signal(provider=provider, code=code, text=text)


def _transport(exc: BaseException, provider: str) -> errors.InboxLinkError | None:
    """requests / google-auth transport failures (both libraries talk through requests)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = errors.redact(str(exc))
    if "SSLError" in names:
        return errors.CertificateError(
            f"The sign-in server's certificate was not trusted: {text}", provider=provider,
            code="SSLError")
    if "Timeout" in names:
        return errors.OperationTimeout(f"The sign-in server did not answer in time: {text}",
                                       provider=provider, code=type(exc).__name__)
    if "ConnectionError" in names or "TransportError" in names:
        return errors.ServerUnreachable(
            f"The sign-in server could not be reached: {text}", provider=provider,
            code=type(exc).__name__,
            remedy="Check the network and any proxy; a firewall may block the identity "
                   "provider (login.microsoftonline.com / oauth2.googleapis.com).")
    return None


def _unknown(signal: Signal) -> errors.InboxLinkError:
    """A refusal no table knows: still a sign-in failure (AuthError), never a bare error."""
    return errors.AuthError(
        f"The sign-in was refused: {errors.redact(signal.text)}", provider=signal.provider,
        code=signal.code,
        remedy="The identity provider refused the sign-in for a reason inboxlink does not "
               "recognise (the code above says which); check the app registration and the "
               "account.")


def _own_table(signal: Signal) -> errors.InboxLinkError | None:
    return TABLE.error_for(signal) if TABLE.match(signal) is not None else None


def microsoft_extract(
    exc: BaseException, consent_url: Callable[[], str | None] | None,
) -> errors.InboxLinkError | Signal | None:
    """``extract`` for `translating` with the Graph adapter's Entra ID rules.

    The context, ``consent_url``, builds the tenant's admin-consent link for
    ``AdminConsentRequired``.
    """
    from inboxlink.adapters.graph.errors import ErrorContext

    if isinstance(exc, OAuthFailure):
        signal = exc.signal("microsoft")
        # The RFC 8628 words are ours to explain even when an AADSTS number came along.
        own = _own_table(attrs.evolve(signal, code=exc.error)) or _own_table(signal)
        if own is not None:
            own.code = signal.code
            return own
        if graph_table().match(signal) is None:
            return _unknown(signal)
        return ErrorContext(consent_url=consent_url).refine(signal)
    return _transport(exc, "microsoft")


def google_extract(exc: BaseException, context: None = None) -> errors.InboxLinkError | Signal | None:
    """``extract`` for `translating` with the Gmail adapter's Google OAuth rules."""
    if isinstance(exc, OAuthFailure):
        signal = exc.signal("google")
    elif type(exc).__name__ == "RefreshError":  # google.auth.exceptions
        args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
        body = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        if not body.get("error"):
            word = re.match(r"^\s*(\w+):", str(args[0]) if args else "")
            body = {"error": word.group(1) if word else "refresh_failed",
                    "error_description": str(args[0]) if args else ""}
        signal = OAuthFailure.from_result("google", body).signal("google")
    elif hasattr(exc, "error") and hasattr(exc, "description") and hasattr(exc, "uri"):
        # oauthlib's OAuth2Error: an error the redirect or the token endpoint returned
        signal = OAuthFailure("google", str(getattr(exc, "error", "") or "oauth_error"),
                              str(getattr(exc, "description", "") or "")).signal("google")
    elif isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        # run_local_server could not bind the loopback port asked for.
        return errors.ConfigurationError(
            "The port for the sign-in redirect on 127.0.0.1 is not free.",
            provider="google", code="EADDRINUSE",
            remedy="Choose another port, or leave it out to use any free one.")
    elif type(exc).__name__ == "WSGITimeoutError":  # run_local_server's timeout
        signal = Signal(provider="google", code="timeout",
                        text="The browser sign-in did not come back in time.")
    else:
        return _transport(exc, "google")
    own = _own_table(signal)
    if own is not None:
        return own
    # A refusal no table knows is still a sign-in failure, with the login remedy.
    return signal if gmail_table().match(signal) else _unknown(signal)


@contextmanager
def signing_in(
    table: ErrorTable,
    extract: Extract[C],
    context: C,
    remedy_suffix: str,
) -> Iterator[None]:
    """The error boundary of `inboxlink.auth`: translate once, then name the fix.

    Every `AuthError` leaving the block gets ``remedy_suffix``
    (``"Sign in again with: inboxlink login graph://…"``) appended to its remedy.
    """
    try:
        with translating(table, extract, context):
            yield
    except errors.AuthError as exc:
        if remedy_suffix not in exc.remedy:
            exc.remedy = f"{exc.remedy.rstrip()} {remedy_suffix}"
        raise


def graph_table() -> ErrorTable:
    """The Graph adapter's table (Entra ID rules), imported lazily."""
    from inboxlink.adapters.graph.errors import TABLE as GRAPH_TABLE

    return GRAPH_TABLE


def gmail_table() -> ErrorTable:
    """The Gmail adapter's table (Google OAuth rules), imported lazily."""
    from inboxlink.adapters.gmail.errors import TABLE as GMAIL_TABLE

    return GMAIL_TABLE
