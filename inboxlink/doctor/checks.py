"""The doctor's staged checks: provider, DNS, TCP, TLS, server, capabilities, login, folders.

`diagnose()` runs them in order and reports each as it finishes (``on_check``), so a
terminal can show progress. Login and folders go through ``connect`` — by default
`inboxlink.connect()` — so they work with any adapter, built-in or plugin.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from inboxlink import errors
from inboxlink.doctor.detect import (
    DNS_DOWN_CODES,
    Dns,
    Endpoint,
    Plan,
    plan_for,
    settle_guesses,
)
from inboxlink.doctor.options import DoctorOptions
from inboxlink.doctor.probes import (
    ProbeResult,
    make_context,
    probe,
    server_software,
    unsupported_server,
)
from inboxlink.doctor.providers import ProviderChecks, checks_for
from inboxlink.doctor.report import Check, Report, Status
from inboxlink.models import FolderRole, OutgoingMessage, RoleSource
from inboxlink.secrets import PASSWORD_ENV, TOKEN_ENV, display_url, secret_kind

__all__ = ["DoctorOptions", "diagnose"]


OnCheck = Callable[[Check], None]
OnProgress = Callable[[str], None]

# capability → (what it gives, what its absence costs). Missing ones are warnings: the
# mailbox still works, less well.
_IMAP_CAPABILITIES: tuple[tuple[str, str, str], ...] = (
    ("SPECIAL-USE", "the server marks Sent/Drafts/Trash itself",
     "folder roles (Sent!) are found by name instead; check the Sent folder below"),
    ("IDLE", "new mail is pushed",
     "new mail is found by polling, a little later"),
    ("CONDSTORE", "flag changes can be synchronised incrementally",
     "flag changes need a rescan of the folder"),
)


class _Run:
    def __init__(self, report: Report, on_check: OnCheck, on_progress: OnProgress) -> None:
        self.report = report
        self.on_check = on_check
        self.on_progress = on_progress

    def add(self, stage: str, name: str, status: Status, detail: str = "",
            error: errors.InboxLinkError | None = None, **data: Any) -> Check:
        check = Check(stage, name, status, detail, error, dict(data))
        self.report.checks.append(check)
        self.on_check(check)
        return check


def _secret_free(url: str | None) -> str | None:
    return display_url(url) if url else url


def diagnose(
    target: str,
    options: DoctorOptions,
    *,
    connect: Callable[..., Any],
    resolver: Any = None,
    on_check: OnCheck = lambda check: None,
    on_progress: OnProgress = lambda text: None,
) -> Report:
    """Check whether the mailbox ``target`` (an address or URL) can be connected."""
    report = Report(target=_secret_free(target) or target)
    run = _Run(report, on_check, on_progress)
    dns = Dns(resolver, timeout=options.dns_timeout)

    on_progress("finding the provider")
    try:
        plan = plan_for(target, dns, imap_url=options.imap_url, smtp_url=options.smtp_url,
                        ews_url=options.ews_url, api_url=options.api_url)
    except errors.InboxLinkError as exc:
        if exc.code in DNS_DOWN_CODES:
            # DNS itself fails: one clear line, not a verdict on the address.
            run.add("dns", "DNS", Status.FAIL, exc.message, exc)
        else:
            run.add("provider", "provider", Status.FAIL, exc.message, exc)
        return report
    report.provider = plan.provider
    plan, notes = settle_guesses(plan, dns)
    run.add("provider", "provider", Status.WARN if plan.guessed else Status.PASS,
            f"{plan.provider}: {plan.reason}", provider=plan.provider, mx=list(plan.mx),
            login_url=_secret_free(plan.login_url))
    for note in notes:
        run.add("dns", "guessed host", Status.WARN, note)

    secret = _secret(plan, options)
    provider = checks_for(plan.provider, run.add, plan.address, resolver)
    # What the settings and the token tell on their own, before any network traffic.
    may_log_in = provider.before_login(options, secret)
    reachable = _network_checks(run, plan, dns, options, secret)
    if reachable is not None and not may_log_in:
        run.add("login", "login", Status.SKIP,
                "not tried: fix the failed check above first (credentials are sent only to "
                "an endpoint that can be the mail API)")
    elif reachable is not None:
        _login_checks(run, plan, options, connect, reachable, secret, dns, provider)
    return report


def _secret(plan: Plan, options: DoctorOptions) -> str | None:
    """The secret the login needs, asked for once the provider is known."""
    kind = secret_kind(plan.login_url or "")
    if kind is None or not plan.login_url:
        return None
    return options.secrets.get(kind) or (
        options.ask_secret(kind, plan.login_url) if options.ask_secret else None)


def _imap_user(plan: Plan, options: DoctorOptions) -> str:
    explicit = options.connect_options.get("username")
    if explicit:
        return str(explicit)
    user = unquote(urlsplit(plan.login_url or "").username or "")
    return user or (plan.address or "")


def _network_checks(run: _Run, plan: Plan, dns: Dns, options: DoctorOptions,
                    secret: str | None) -> dict[str, ProbeResult] | None:
    """DNS, TCP, TLS, server and capabilities; the working endpoint per protocol, or None."""
    endpoints = [*plan.imap, *plan.smtp, *plan.https]
    if not endpoints:
        return {}
    addresses: dict[str, list[str]] = {}
    for host in dict.fromkeys(e.host for e in endpoints):
        run.on_progress(f"resolving {host}")
        try:
            addresses[host] = dns.addresses(host)
            run.add("dns", host, Status.PASS, f"{host} → {', '.join(addresses[host][:3])}",
                    addresses=addresses[host])
        except errors.InboxLinkError as exc:
            if exc.code in DNS_DOWN_CODES:
                # Every other name would fail the same way: say it once, for DNS itself.
                run.add("dns", "DNS", Status.FAIL, exc.message, exc)
                break
            run.add("dns", host, Status.FAIL, exc.message, exc)

    context = make_context(ca_file=options.ca_file, insecure=options.insecure)
    results: dict[Endpoint, ProbeResult] = {}
    for endpoint in endpoints:
        if endpoint.host not in addresses:
            continue
        run.on_progress(f"connecting to {endpoint.label}")
        login = ((_imap_user(plan, options), secret)
                 if secret and endpoint.protocol == "imap" else None)
        results[endpoint] = probe(endpoint, addresses[endpoint.host], context, options.timeout,
                                  login, allow_courier=_allows_courier(options))

    working: dict[str, ProbeResult] = {}
    for protocol in ("imap", "smtp", "https"):
        probed = [results[e] for e in endpoints if e.protocol == protocol and e in results]
        good = [r for r in probed if r.error is None]
        # A failing alternative port is only a caveat when another port of the protocol works.
        for result in probed:
            _report_endpoint(run, result, alternative=bool(good))
        if good:
            working[protocol] = good[0]
    if "imap" in working:
        _server_checks(run, working["imap"], _allows_courier(options))
    if "smtp" in working:
        _smtp_capability_checks(run, working["smtp"])
    # Without a way to read (IMAP, or the provider's API) a login cannot work; a failed SMTP
    # is reported above but the reading side is still worth checking.
    if (plan.imap and "imap" not in working) or (plan.https and "https" not in working):
        return None
    # Credentials never go to server software the doctor has just refused.
    if "imap" in working and unsupported_server(
            working["imap"].greeting, allow_courier=_allows_courier(options)) is not None:
        return None
    return working


def _allows_courier(options: DoctorOptions) -> bool:
    """The IMAP adapter's ``allow_courier`` option as connect() will get it (truthy, as the
    adapter reads it): the doctor judges the server exactly as the adapter will."""
    return bool(options.connect_options.get("allow_courier"))


def _report_endpoint(run: _Run, result: ProbeResult, alternative: bool) -> None:
    endpoint = result.endpoint
    name = endpoint.label
    failed = Status.WARN if alternative else Status.FAIL
    if result.failed_step == "tcp":
        run.add("tcp", name, failed, _prefix(result.error, alternative), result.error)
        return
    run.add("tcp", name, Status.PASS, f"port {endpoint.port} open", address=result.address)
    if endpoint.tls == "none":
        run.add("tls", name, Status.SKIP, "plain HTTP: no TLS to check (the adapters allow it "
                "only on this machine, for emulators)")
    if endpoint.tls == "starttls" and result.starttls_offered is not None:
        if result.starttls_offered:
            run.add("tls", f"{name} STARTTLS", Status.PASS, "STARTTLS offered before login")
        else:
            run.add("tls", f"{name} STARTTLS", failed, _prefix(result.error, alternative),
                    result.error)
            return
    if result.tls is not None:
        tls = result.tls
        status = Status.PASS if tls.verified else Status.WARN
        detail = (f"{tls.version}, certificate for {', '.join(tls.names) or '?'}"
                  f"{f' valid until {tls.not_after}' if tls.not_after else ''}")
        if not tls.verified:
            detail += " — NOT verified (--insecure)"
        run.add("tls", name, status, detail, version=tls.version, cipher=tls.cipher,
                names=list(tls.names), verified=tls.verified)
    elif result.failed_step == "tls":
        data: dict[str, Any] = {}
        if isinstance(result.error, errors.CertificateError):
            data = {"reason": result.error.reason, "names": list(result.error.names)}
        run.add("tls", name, failed, _prefix(result.error, alternative), result.error, **data)
        return
    if result.error is not None:
        run.add(result.failed_step or "connect", name, failed,
                _prefix(result.error, alternative), result.error)


def _prefix(error: errors.InboxLinkError | None, alternative: bool) -> str:
    message = error.message if error else "failed"
    return f"{message} (another port works)" if alternative else message


def _server_checks(run: _Run, result: ProbeResult, allow_courier: bool) -> None:
    software = server_software(result.greeting)
    refusal = unsupported_server(result.greeting)
    if refusal is not None and allow_courier:
        # Accepted with the adapter's option: said, not failed.
        run.add("server", "IMAP server", Status.WARN,
                f"{refusal.message} Accepted because allow_courier=True: replies delivered "
                "through it may not be matched reliably.", software=software,
                greeting=result.greeting)
    elif refusal is not None:
        # The adapter's own verdict (by name or by capability fingerprint), so the doctor
        # and connect() never disagree about a server.
        named = software or "Courier-IMAP"
        message = (f"The server is {software}, which is not supported."
                   if software == named else f"{refusal.message} (recognised by its "
                   "capabilities)")
        error = errors.UnsupportedServer(message, code=named)
        run.add("server", "IMAP server", Status.FAIL, error.message, error,
                greeting=result.greeting)
    else:
        run.add("server", "IMAP server", Status.PASS,
                software or "software not named in the greeting", software=software,
                greeting=result.greeting)
    after = result.capabilities_after_login
    caps = set(after if after is not None else result.capabilities)
    # Servers announce some capabilities only after login (Dovecot: SPECIAL-USE, CONDSTORE).
    when = "after login" if after is not None else "before login; more may follow login"
    for capability, gives, costs in _IMAP_CAPABILITIES:
        if capability in caps:
            run.add("capabilities", capability, Status.PASS, gives, seen=when)
        else:
            run.add("capabilities", capability, Status.WARN, f"not offered ({when}): {costs}",
                    seen=when)
    if "LOGINDISABLED" in caps:
        auth = sorted(c.partition("=")[2] for c in caps if c.startswith("AUTH="))
        run.add("capabilities", "LOGIN", Status.WARN,
                "password login is disabled on this server; sign in with OAuth "
                f"(offered: {', '.join(auth) or 'nothing'})")


def _smtp_capability_checks(run: _Run, result: ProbeResult) -> None:
    mechanisms = sorted({m for k in result.capabilities if k.startswith("AUTH")
                         for m in k.replace("=", " ").split()[1:]})
    if mechanisms:
        run.add("capabilities", "SMTP AUTH", Status.PASS,
                f"{result.endpoint.label}: AUTH {' '.join(mechanisms)}", mechanisms=mechanisms)
    else:
        run.add("capabilities", "SMTP AUTH", Status.WARN,
                f"{result.endpoint.label} offers no AUTH after TLS: sending needs a login",
                mechanisms=[])


def _login_options(plan: Plan, options: DoctorOptions,
                   working: Mapping[str, ProbeResult]) -> dict[str, Any]:
    found = dict(options.connect_options)
    if plan.provider == "imap" and "smtp" in working and "smtp" not in found:
        found["smtp"] = working["smtp"].endpoint.url()
    api_option = _API_OPTIONS.get(plan.provider)
    if api_option and options.api_url:
        found.setdefault(api_option, options.api_url)
    # The HTTP clients of Graph and Gmail take no TLS options: they trust the system's CAs.
    if plan.provider not in _API_OPTIONS:
        if options.ca_file and "ssl_context" not in found:
            found["ssl_context"] = ssl.create_default_context(cafile=options.ca_file)
        if options.insecure:
            found["verify_tls"] = False
    return found


#: connect() options holding a credential object (or the saved sign-in) instead of a
#: password or token
_CREDENTIAL_OPTIONS = ("credential", "credentials", "token_cache", "token_provider")

#: the ``code`` of the ConfigurationError an adapter raises for an option it does not know
_UNKNOWN_OPTION = "option"

#: provider → the connect() option naming its API root
_API_OPTIONS = {"graph": "base_url", "gmail": "api_endpoint"}


def _no_secret(kind: str, url: str) -> str:
    """Why the login was not tried, and how to give what it needs."""
    from inboxlink.auth.saved import needs_login
    from inboxlink.auth.targets import login_command

    if needs_login(url):
        # graph:// and gmail:// sign in with OAuth: the saved sign-in is the way to go.
        shown = display_url(url)
        return (f"no saved sign-in for {shown}: run {login_command(shown)}"
                f" (or set {TOKEN_ENV} / use --token-file)")
    variable = PASSWORD_ENV if kind == "password" else TOKEN_ENV
    return (f"no {kind.replace('_', ' ')} given: set {variable}, use "
            f"--{'password' if kind == 'password' else 'token'}-file, or run "
            "interactively to be asked")


def _login_url(plan: Plan, working: Mapping[str, ProbeResult]) -> str | None:
    if plan.provider != "imap" or "imap" not in working or not plan.login_url:
        return plan.login_url
    # Log in where the probe succeeded (e.g. STARTTLS on 143 when 993 is closed).
    user = plan.login_url.split("://", 1)[1].rpartition("@")[0]
    endpoint = working["imap"].endpoint
    scheme, _, hostport = endpoint.url().partition("://")
    return f"{scheme}://{user + '@' if user else ''}{hostport}"


def _login_checks(run: _Run, plan: Plan, options: DoctorOptions, connect: Callable[..., Any],
                  working: Mapping[str, ProbeResult], secret: str | None, dns: Dns,
                  provider: ProviderChecks) -> None:
    url = _login_url(plan, working)
    if url is None:
        return
    login_options = _login_options(plan, options, working)
    kind = secret_kind(url)
    # A credential object (azure-identity, google-auth) given in Python replaces the secret.
    if kind and not any(key in login_options for key in _CREDENTIAL_OPTIONS):
        if not secret:
            run.add("login", "login", Status.SKIP, _no_secret(kind, url))
            return
        login_options[kind] = secret
    else:
        login_options.update(options.secrets)
    refused = _refused_by_probe(plan, working)
    if refused is not None:
        _login_failed(run, plan, dns, refused, provider)
        return
    run.on_progress(f"signing in to {_secret_free(url)}")
    watch = provider.watch()
    with watch if watch is not None else contextlib.nullcontext() as seen:
        try:
            mailbox = connect(url, **login_options)
        except errors.ConfigurationError as exc:
            if exc.code == _UNKNOWN_OPTION:
                # The adapter names the option it refused; say which ones the doctor gave.
                error = errors.ConfigurationError(
                    f"The {plan.provider} adapter does not accept the options given "
                    f"({', '.join(sorted(login_options))}): {exc.message}",
                    provider=exc.provider, code=exc.code,
                    remedy="Leave out the options this kind of mailbox does not use.")
                error.__cause__ = exc
                run.add("login", "options", Status.FAIL, error.message, error)
                return
            _login_failed(run, plan, dns, exc, provider)
            return
        except errors.InboxLinkError as exc:
            _login_failed(run, plan, dns, exc, provider)
            return
        except Exception as exc:
            # Not a mailbox problem and not an option the adapter refused: a bug in the
            # adapter (or in an option's value). Say what it is instead of guessing.
            unexpected = errors.InboxLinkError(
                f"Connecting failed with an unexpected {type(exc).__name__}: "
                f"{errors.redact(str(exc), _secrets_in(login_options))}",
                code=type(exc).__name__,
                remedy="This is not a problem with the mailbox: report it to the adapter's "
                "authors with this message.")
            unexpected.__cause__ = exc
            run.add("login", "login", Status.FAIL, unexpected.message, unexpected)
            return
        try:
            # Some adapters connect lazily: listing folders is the first real request.
            run.on_progress("listing folders")
            folders = mailbox.folders()
        except errors.InboxLinkError as exc:
            mailbox.close()
            _login_failed(run, plan, dns, exc, provider)
            return
    seen = list(seen or ())
    _pass_on(seen, provider)
    with mailbox:
        run.add("login", "login", Status.PASS,
                f"signed in as {getattr(mailbox, 'address', '?')} ({mailbox.provider})")
        provider.passed(mailbox, seen)
        run.add("folders", "folders", Status.PASS, f"{len(folders)} folders: "
                + ", ".join(f.path for f in folders[:8]) + (" …" if len(folders) > 8 else ""),
                count=len(folders))
        if not _sent_check(run, mailbox):
            return
        if options.send_test:
            _send_test(run, mailbox, options.send_test)


def _secrets_in(options: Mapping[str, Any]) -> list[str]:
    """The credential values among connect() options (never shown in a report)."""
    return [value for key, value in options.items()
            if isinstance(value, str) and key in ("password", "access_token", "token")]


def _pass_on(seen: list[warnings.WarningMessage], provider: ProviderChecks) -> None:
    """Warn again about what was recorded while connecting and is not one of the checks."""
    for warning in seen:
        if not issubclass(warning.category, provider.reported_warnings()):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


def _refused_by_probe(plan: Plan, working: Mapping[str, ProbeResult]
                      ) -> errors.InboxLinkError | None:
    """The IMAP adapter's reading of the LOGIN the probe saw refused, or ``None``.

    The adapter would send the very same LOGIN: a second refused attempt would only count
    against the account's lock-out limit and earn the server's failed-login delay. Refusals
    worth retrying still go through the adapter.
    """
    result = working.get("imap")
    if plan.provider != "imap" or result is None or not result.login_refusal:
        return None
    status, _, reply = result.login_refusal.partition(" ")
    if status.upper() not in ("NO", "BAD"):
        return None  # the connection dropped: let the adapter meet it again
    from inboxlink.adapters.imap._servers import server_family
    from inboxlink.adapters.imap.errors import TABLE, login_signal

    family = server_family(result.greeting or "")
    error = TABLE.error_for(login_signal("LOGIN", reply, family))
    return None if error.retryable else error


def _login_failed(run: _Run, plan: Plan, dns: Dns, error: errors.InboxLinkError,
                  provider: ProviderChecks) -> None:
    if provider.failed(error):
        return
    run.add("login", "login", Status.FAIL, error.message, error)
    # "Not hosted here" errors: the MX records tell where the mail really is.
    if isinstance(error, (errors.RestApiNotEnabled, errors.MailboxNotFound)) and plan.address:
        domain = plan.address.rpartition("@")[2]
        try:
            mx = plan.mx or tuple(dns.mx(domain))
        except errors.InboxLinkError:
            return
        if mx:
            run.add("dns", "MX", Status.WARN,
                    f"mail for {domain} is delivered to {mx[0]}: connect the mailbox where that "
                    "server lives (IMAP or EWS for on-premises Exchange)", mx=list(mx))


_SENT_SOURCES = {
    RoleSource.SPECIAL_USE: "marked \\Sent by the server (special-use)",
    RoleSource.PROVIDER: "the provider's own Sent folder",
    RoleSource.OVERRIDE: "named with --sent-folder",
    RoleSource.NAME: "found by its name: the server marks no folder as Sent",
}


def _sent_check(run: _Run, mailbox: Any) -> bool:
    try:
        sent = mailbox.folder(FolderRole.SENT)
    except errors.InboxLinkError as exc:
        run.add("folders", "Sent folder", Status.FAIL, exc.message, exc)
        return False
    how = _SENT_SOURCES.get(sent.role_source, str(sent.role_source))
    status = Status.WARN if sent.role_source is RoleSource.NAME else Status.PASS
    detail = f"{sent.path!r}: {how}"
    if status is Status.WARN:
        detail += " — pass --sent-folder if this is not the right one"
    run.add("folders", "Sent folder", status, detail, folder=sent.path,
            found_by=str(sent.role_source))
    return True


def _send_test(run: _Run, mailbox: Any, bcc: str) -> None:
    run.on_progress(f"sending a test message to {bcc}")
    message = OutgoingMessage(
        bcc=[bcc], subject="inboxlink doctor: test message",
        text="This message was sent by `inboxlink doctor --send-test` to check that this "
        "mailbox can send. It can be deleted.")
    try:
        result = mailbox.send(message)
    except errors.InboxLinkError as exc:
        run.add("send-test", "send", Status.FAIL, exc.message, exc)
        return
    run.add("send-test", "send", Status.PASS, f"sent {result.message_id} to {bcc}",
            message_id=result.message_id)
    if result.failed and result.error is not None:
        run.add("send-test", "sent copy", Status.FAIL, result.error.message, result.error)
    elif result.saved_by_provider:
        run.add("send-test", "sent copy", Status.PASS,
                "the provider files sent mail itself (inboxlink adds no second copy)")
    elif result.skipped:
        run.add("send-test", "sent copy", Status.WARN, "no copy kept")
    else:
        copies = _copies(mailbox, result.message_id)
        where = result.sent_folder_id
        if copies == 1:
            run.add("send-test", "sent copy", Status.PASS, f"exactly one copy in {where!r}",
                    copies=copies)
        else:
            error = errors.SentCopyFailed(
                f"{copies} copies of the test message are in {where!r}; expected exactly 1.")
            run.add("send-test", "sent copy", Status.FAIL, error.message, error, copies=copies)


def _copies(mailbox: Any, message_id: str) -> int:
    page = mailbox.list_messages(FolderRole.SENT, limit=20)
    items: Iterable[Any] = page.items
    return sum(1 for summary in items if summary.message_id == message_id)
