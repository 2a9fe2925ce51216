"""Which provider hosts a mailbox, and which endpoints the doctor should check.

Given an e-mail address, the domain's MX records tell where its mail is hosted: Google →
the Gmail API, Exchange Online → Microsoft Graph, anything else → IMAP/SMTP, with the host
names of well-known providers or ``imap.<domain>``/``smtp.<domain>`` as a guess. Given a
URL, the URL says it all.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import attrs

from inboxlink import errors
from inboxlink.doctor.consumer import DNS_CANARIES, ConsumerDomain, consumer_domain

__all__ = ["DNS_DOWN_CODES", "Dns", "Endpoint", "Plan", "plan_for"]


@attrs.frozen
class Endpoint:
    """One host and port to probe; ``tls`` is ``"implicit"``, ``"starttls"`` or ``"none"``.

    ``"none"`` is plain HTTP, which the adapters accept only on loopback (local emulators).
    """

    protocol: str  #: "imap", "smtp" or "https"
    host: str
    port: int
    tls: str = "implicit"

    @property
    def label(self) -> str:
        """``imap imap.example.com:993 (TLS)``."""
        how = {"starttls": "STARTTLS", "none": "plain HTTP"}.get(self.tls, "TLS")
        return f"{self.protocol.upper()} {self.host}:{self.port} ({how})"

    def url(self) -> str:
        """The scheme://host:port inboxlink would use for this endpoint."""
        scheme = {("imap", "implicit"): "imaps", ("imap", "starttls"): "imap",
                  ("smtp", "implicit"): "smtps", ("smtp", "starttls"): "smtp",
                  ("https", "none"): "http"}.get((self.protocol, self.tls), "https")
        return f"{scheme}://{self.host}:{self.port}"


#: codes of the errors saying DNS itself fails (not one name): reported once, as one check
DNS_DOWN_CODES = frozenset({"DNS_NOT_ANSWERING", "DNS_BROKEN"})

_DNS_REMEDY = ("Check this machine's network connection and DNS settings (a VPN, a firewall "
               "or a hotel/captive-portal network often blocks DNS), then run the doctor again.")


class Dns:
    """MX and address look-ups: dnspython (or an injected resolver) and the system resolver.

    Each look-up waits at most ``timeout`` seconds (5 by default). Once DNS has not answered,
    every later look-up fails at once with the same error, so a dead DNS costs one timeout,
    not one per host name. A "no such domain" answer is double-checked against names every
    working DNS knows (`DNS_CANARIES`): when those do not exist either, DNS itself is broken
    and is reported as such.

    Args:
        resolver: a ``dns.resolver.Resolver``-like object. When given, host addresses come
            from it too, so a test controls every answer; otherwise addresses come from the
            system (``getaddrinfo``, which honours ``/etc/hosts``).
        timeout: seconds one look-up may take.
    """

    def __init__(self, resolver: Any = None, timeout: float = 5.0) -> None:
        self._injected = resolver is not None
        self._resolver = resolver
        self._timeout = timeout
        #: set once DNS itself is known to fail; raised by every later look-up
        self.failure: errors.ServerUnreachable | None = None
        self._canary_ok: bool | None = None

    def _dnspython(self) -> Any:
        if self._resolver is None:
            try:
                import dns.resolver
            except ImportError as exc:
                raise errors.AdapterNotAvailable(
                    "Looking up MX records needs dnspython.", code="dnspython",
                    remedy="Install it with: pip install 'inboxlink[cli]'") from exc
            self._resolver = dns.resolver.Resolver()
        return self._resolver

    def _server(self) -> str:
        servers = getattr(self._resolver, "nameservers", None) or []
        return f" from {servers[0]}" if servers else ""

    def _not_answering(self) -> errors.ServerUnreachable:
        self.failure = errors.ServerUnreachable(
            f"DNS is not answering (no reply{self._server()} within {self._timeout:g} s).",
            code="DNS_NOT_ANSWERING", remedy=_DNS_REMEDY)
        return self.failure

    def _resolve(self, name: str, rdtype: str) -> Any:
        """One query, bounded by the timeout; a timeout marks DNS as not answering."""
        import dns.exception
        import dns.resolver

        if self.failure is not None:
            raise self.failure
        try:
            return self._dnspython().resolve(name, rdtype, lifetime=self._timeout)
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise self._not_answering() from exc

    def _check_canary(self, name: str) -> None:
        """After ``name`` was said not to exist: is it DNS that is broken?"""
        import dns.exception
        import dns.resolver

        if name.lower().rstrip(".") in DNS_CANARIES:
            canary_ok = False
        elif self._canary_ok is None:
            try:
                self._resolve(DNS_CANARIES[0], "MX")
                self._canary_ok = True
            except dns.resolver.NXDOMAIN:
                self._canary_ok = False
            except dns.exception.DNSException:
                self._canary_ok = True  # an odd answer, but not "no such domain"
            canary_ok = self._canary_ok
        else:
            canary_ok = self._canary_ok
        if not canary_ok:
            self.failure = errors.ServerUnreachable(
                f"DNS is failing: it says even {DNS_CANARIES[0]} does not exist, so its "
                f"answer for {name} cannot be trusted.", code="DNS_BROKEN",
                remedy=_DNS_REMEDY, retryable=False)
            raise self.failure

    def mx(self, domain: str) -> list[str]:
        """MX host names, most preferred first; ``[]`` when the domain has none.

        Raises ``ServerUnreachable`` when the domain does not exist or DNS does not answer
        (code ``DNS_NOT_ANSWERING`` / ``DNS_BROKEN`` when DNS itself fails).
        """
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolve(domain, "MX")
        except dns.resolver.NXDOMAIN as exc:
            self._check_canary(domain)
            raise errors.ServerUnreachable(
                f"The domain {domain} does not exist in DNS.", code="NXDOMAIN",
                remedy="Check the e-mail address for typos.", retryable=False) from exc
        except dns.resolver.NoAnswer:
            return []
        except dns.exception.DNSException as exc:
            raise errors.ServerUnreachable(
                f"DNS gave no usable answer for {domain} ({type(exc).__name__}).",
                code=type(exc).__name__, remedy=_DNS_REMEDY) from exc
        records = sorted(answer, key=lambda r: (r.preference, str(r.exchange)))
        return [str(r.exchange).rstrip(".").lower() for r in records if str(r.exchange) != "."]

    def addresses(self, host: str) -> list[str]:
        """IP addresses of ``host``; raises ``ServerUnreachable`` when it does not resolve."""
        if _is_ip(host):
            return [host]
        if self.failure is not None:
            raise self.failure
        if not self._injected:
            return self._system_addresses(host)
        import dns.exception
        import dns.resolver

        found: list[str] = []
        last: Exception | None = None
        for rdtype in ("A", "AAAA"):
            try:
                found += [r.to_text() for r in self._resolve(host, rdtype)]
            except dns.exception.DNSException as exc:
                last = exc
        if not found:
            if isinstance(last, dns.resolver.NXDOMAIN):
                self._check_canary(host)
            raise _unresolved(host, last)
        return found

    def _system_addresses(self, host: str) -> list[str]:
        """``getaddrinfo`` has no timeout of its own: it runs in a daemon thread that is
        given up on after the timeout (a hung system resolver must not hang the doctor)."""
        import threading

        outcome: list[Any] = []

        def look_up() -> None:
            try:
                outcome.append(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
            except OSError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=look_up, daemon=True, name="doctor-getaddrinfo")
        thread.start()
        thread.join(self._timeout)
        if not outcome:
            raise self._not_answering()
        result = outcome[0]
        if isinstance(result, socket.gaierror) and result.errno == socket.EAI_AGAIN:
            raise self._not_answering() from result
        if isinstance(result, OSError):
            raise _unresolved(host, result) from result
        return list(dict.fromkeys(str(info[4][0]) for info in result))


def _unresolved(host: str, exc: BaseException | None) -> errors.ServerUnreachable:
    return errors.ServerUnreachable(
        f"The host name {host} does not resolve.",
        code=type(exc).__name__ if exc else None,
        remedy="Check the server name for typos. If it is an internal name, run this from a "
        "machine on that network (and check its DNS settings).", retryable=False)


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


# MX host (regular expression) → provider, and why. Checked in order.
_MX_PROVIDERS: tuple[tuple[str, str, str], ...] = (
    (r"(^|\.)(google|googlemail)\.com$", "gmail",
     "Google hosts this domain's mail: the Gmail API is used"),
    (r"\.mail\.protection\.outlook\.com$", "graph",
     "Microsoft 365 (Exchange Online) hosts this domain's mail: Microsoft Graph is used"),
    (r"\.olc\.protection\.outlook\.com$", "graph",
     "Outlook.com hosts this domain's mail: Microsoft Graph is used"),
)

# Well-known IMAP/SMTP hosts: MX host (regular expression) → (name, IMAP host, SMTP host).
# These are the hosts the providers publish for mail clients; "{domain}" is the address's.
_WELL_KNOWN: tuple[tuple[str, str, str, str], ...] = (
    (r"\.yahoodns\.net$", "Yahoo Mail", "imap.mail.yahoo.com", "smtp.mail.yahoo.com"),
    (r"\.messagingengine\.com$", "Fastmail", "imap.fastmail.com", "smtp.fastmail.com"),
    (r"(^|\.)mail\.icloud\.com$", "iCloud Mail", "imap.mail.me.com", "smtp.mail.me.com"),
    (r"(^|\.)zoho\.(com|eu|in)$", "Zoho Mail", "imap.zoho.com", "smtp.zoho.com"),
    (r"(^|\.)gmx\.net$", "GMX", "imap.gmx.net", "mail.gmx.net"),
    (r"(^|\.)web\.de$", "WEB.DE", "imap.web.de", "smtp.web.de"),
    (r"(^|\.)yandex\.(ru|net|com)$", "Yandex Mail", "imap.yandex.com", "smtp.yandex.com"),
    (r"(^|\.)mail\.ru$", "Mail.ru", "imap.mail.ru", "smtp.mail.ru"),
    (r"(^|\.)(ionos|kundenserver)\.(com|de)$", "IONOS", "imap.ionos.com", "smtp.ionos.com"),
    (r"\.mail\.ovh\.net$", "OVHcloud", "ssl0.ovh.net", "ssl0.ovh.net"),
    (r"(^|\.)secureserver\.net$", "GoDaddy", "imap.secureserver.net",
     "smtpout.secureserver.net"),
    (r"(^|\.)wp\.pl$", "WP Poczta", "imap.wp.pl", "smtp.wp.pl"),
    (r"(^|\.)onet\.pl$", "Onet Poczta", "imap.poczta.onet.pl", "smtp.poczta.onet.pl"),
    (r"(^|\.)interia\.pl$", "Interia Poczta", "poczta.interia.pl", "poczta.interia.pl"),
)

#: API hosts for the providers reached over HTTPS
_API_HOSTS = {"graph": "graph.microsoft.com", "gmail": "gmail.googleapis.com"}


@attrs.frozen
class Plan:
    """What to check: the provider, why, the endpoints, and the URL to log in with."""

    provider: str
    reason: str
    address: str | None
    login_url: str | None
    imap: tuple[Endpoint, ...] = ()
    smtp: tuple[Endpoint, ...] = ()
    https: tuple[Endpoint, ...] = ()
    mx: tuple[str, ...] = ()
    #: candidate IMAP/SMTP host names were guessed, not published
    guessed: bool = False


def _imap_endpoints(host: str, port: int | None = None, scheme: str = "") -> tuple[Endpoint, ...]:
    if scheme == "imaps":
        return (Endpoint("imap", host, port or 993, "implicit"),)
    if scheme == "imap":
        return (Endpoint("imap", host, port or 143, "starttls"),)
    return (Endpoint("imap", host, 993, "implicit"), Endpoint("imap", host, 143, "starttls"))


def _smtp_endpoints(host: str, port: int | None = None, scheme: str = "") -> tuple[Endpoint, ...]:
    if scheme == "smtps":
        return (Endpoint("smtp", host, port or 465, "implicit"),)
    if scheme == "smtp":
        return (Endpoint("smtp", host, port or 587, "starttls"),)
    return (Endpoint("smtp", host, 465, "implicit"), Endpoint("smtp", host, 587, "starttls"))


def _user_url(scheme: str, user: str, host: str, port: int | None) -> str:
    netloc = f"{quote(user, safe='')}@{host}" if user else host
    return f"{scheme}://{netloc}{f':{port}' if port else ''}"


def _https_endpoint(url: str) -> Endpoint:
    parts = urlsplit(url)
    if parts.scheme.lower() == "http":
        return Endpoint("https", parts.hostname or "", parts.port or 80, "none")
    return Endpoint("https", parts.hostname or "", parts.port or 443)


def plan_for(target: str, dns: Dns, *, imap_url: str | None = None,
             smtp_url: str | None = None, ews_url: str | None = None,
             api_url: str | None = None) -> Plan:
    """Work out what to check for ``target`` (an address or a mailbox URL).

    ``api_url`` replaces the Graph/Gmail API host (a national cloud, a local emulator).
    Raises a typed error when the target cannot work at all (``pop3://`` …).
    """
    is_url = "://" in target
    plan = _plan_for_url(target, ews_url) if is_url else _plan_for_address(target, dns)
    if plan.provider == "imap" and (imap_url or smtp_url):
        plan = _override(plan, imap_url, smtp_url)
    if api_url and plan.provider in _API_HOSTS:
        plan = attrs.evolve(plan, https=(_https_endpoint(api_url),))
    return plan


def _plan_for_url(url: str, ews_url: str | None) -> Plan:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    from inboxlink.registry import BUILTIN_ADAPTERS, get_adapter

    if scheme not in BUILTIN_ADAPTERS:
        get_adapter(scheme)  # raises UnsupportedProtocol for pop3:// and unknown schemes
    user = unquote(parts.username or "")
    host = parts.hostname or ""
    address = user if "@" in user else (f"{user}@{host}" if user and host else None)
    login_url = _user_url(scheme, user, host, parts.port) if host else url
    if scheme in ("imap", "imaps"):
        return Plan("imap", f"the URL names IMAP ({scheme}://)", address, login_url,
                    imap=_imap_endpoints(host, parts.port, scheme),
                    smtp=_smtp_endpoints(host))
    if scheme == "ews":
        https = (_https_endpoint(ews_url),) if ews_url else ()
        return Plan("ews", "the URL names Exchange Web Services (ews://)", address, login_url,
                    https=https)
    if scheme in _API_HOSTS:
        return Plan(scheme, f"the URL names {scheme}://", address, login_url,
                    https=(Endpoint("https", _API_HOSTS[scheme], 443),))
    return Plan(scheme, f"the URL names the {scheme}:// adapter (no network checks)", address,
                login_url)


def _plan_for_address(address: str, dns: Dns) -> Plan:
    domain = address.rpartition("@")[2].lower().strip()
    if not domain or "@" not in address:
        raise errors.ConfigurationError(
            f"{address!r} is neither an e-mail address nor a mailbox URL.",
            remedy="Pass an address (alice@example.com) or a URL (imaps://alice@mail.example.com).")
    known = consumer_domain(domain)
    if known is not None:
        return _plan_for_consumer(address, domain, known)
    mx = tuple(dns.mx(domain))
    for pattern, provider, reason in _MX_PROVIDERS:
        if any(re.search(pattern, host) for host in mx):
            return Plan(provider, f"{reason} (MX {mx[0]})", address,
                        f"{provider}://{quote(address, safe='@')}",
                        https=(Endpoint("https", _API_HOSTS[provider], 443),), mx=mx)
    for pattern, name, imap_host, smtp_host in _WELL_KNOWN:
        if any(re.search(pattern, host) for host in mx):
            return Plan("imap", f"{name} hosts this domain's mail (MX {mx[0]}): "
                        f"its published IMAP/SMTP servers are used", address,
                        _user_url("imaps", address, imap_host, None),
                        imap=_imap_endpoints(imap_host), smtp=_smtp_endpoints(smtp_host), mx=mx)
    where = f"MX {mx[0]}" if mx else "no MX records"
    return Plan("imap", f"no well-known provider ({where}): IMAP/SMTP on imap.{domain} and "
                f"smtp.{domain} is a guess — pass --imap/--smtp with your provider's servers",
                address, _user_url("imaps", address, f"imap.{domain}", None),
                imap=_imap_endpoints(f"imap.{domain}"), smtp=_smtp_endpoints(f"smtp.{domain}"),
                mx=mx, guessed=True)


def _plan_for_consumer(address: str, domain: str, known: ConsumerDomain) -> Plan:
    """A consumer domain's plan, from the table: no DNS needed to know who hosts it."""
    reason = f"{domain} is {known.name} (known without DNS)"
    if known.provider in _API_HOSTS:
        return Plan(known.provider, f"{reason}: the {known.provider} adapter is used", address,
                    f"{known.provider}://{quote(address, safe='@')}",
                    https=(Endpoint("https", _API_HOSTS[known.provider], 443),))
    imap_host, smtp_host = known.imap_host or f"imap.{domain}", known.smtp_host or f"smtp.{domain}"
    return Plan("imap", f"{reason}: its published IMAP/SMTP servers are used", address,
                _user_url("imaps", address, imap_host, None),
                imap=_imap_endpoints(imap_host), smtp=_smtp_endpoints(smtp_host))


#: host name patterns tried, in order, when no provider publishes the servers
GUESSES: Mapping[str, tuple[str, ...]] = {
    "imap": ("imap.{domain}", "mail.{domain}"),
    "smtp": ("smtp.{domain}", "mail.{domain}"),
}


def settle_guesses(plan: Plan, dns: Dns) -> tuple[Plan, list[str]]:
    """For guessed servers, use the first candidate name that resolves; notes for each swap."""
    if not plan.guessed or not plan.address:
        return plan, []
    domain = plan.address.rpartition("@")[2].lower()
    notes: list[str] = []
    chosen: dict[str, str] = {}
    for protocol, patterns in GUESSES.items():
        names = [p.format(domain=domain) for p in patterns]
        for name in names:
            try:
                dns.addresses(name)
            except errors.InboxLinkError:
                continue
            chosen[protocol] = name
            if name != names[0]:
                notes.append(f"{names[0]} does not resolve; using {name} for "
                             f"{protocol.upper()}")
            break
    if not chosen:
        return plan, notes
    imap_host = chosen.get("imap", plan.imap[0].host if plan.imap else f"imap.{domain}")
    smtp_host = chosen.get("smtp", plan.smtp[0].host if plan.smtp else f"smtp.{domain}")
    login_url = _user_url("imaps", plan.address, imap_host, None)
    return attrs.evolve(plan, imap=_imap_endpoints(imap_host), smtp=_smtp_endpoints(smtp_host),
                        login_url=login_url), notes


def _override(plan: Plan, imap_url: str | None, smtp_url: str | None) -> Plan:
    imap, login_url = plan.imap, plan.login_url
    if imap_url:
        parts = urlsplit(imap_url)
        scheme = parts.scheme.lower() or "imaps"
        host = parts.hostname or ""
        imap = _imap_endpoints(host, parts.port, scheme)
        user = unquote(parts.username or "") or (plan.address or "")
        login_url = _user_url(scheme, user, host, parts.port)
    smtp = plan.smtp
    if smtp_url:
        parts = urlsplit(smtp_url)
        smtp = _smtp_endpoints(parts.hostname or "", parts.port, parts.scheme.lower())
    reason = plan.reason
    if plan.guessed:
        where = f"MX {plan.mx[0]}" if plan.mx else "no MX records"
        reason = f"no well-known provider ({where}): checking the servers given with --imap/--smtp"
    return attrs.evolve(plan, imap=imap, smtp=smtp, login_url=login_url, guessed=False,
                        reason=reason)
