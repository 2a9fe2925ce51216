"""Where is a domain's mail hosted? An MX look-up (dnspython), to explain ``RestApiNotEnabled``."""

from __future__ import annotations

from typing import Any

import attrs

from inboxlink import errors

__all__ = ["HOSTING_SUFFIXES", "MailHosting", "lookup_mail_hosting"]

#: MX host suffix → who hosts the mail (first match wins)
HOSTING_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".mail.protection.outlook.com", "microsoft365"),
    (".mx.microsoft", "microsoft365"),
    (".olc.protection.outlook.com", "outlook.com"),
    ("aspmx.l.google.com", "google"),
    (".googlemail.com", "google"),
    (".google.com", "google"),
    (".pphosted.com", "proofpoint"),
    (".mimecast.com", "mimecast"),
    (".messagelabs.com", "broadcom"),
    (".zoho.com", "zoho"),
    (".zoho.eu", "zoho"),
    (".yahoodns.net", "yahoo"),
    (".icloud.com", "icloud"),
)


@attrs.frozen
class MailHosting:
    """The MX hosts of a domain and who they belong to (``None`` when not recognised)."""

    domain: str
    hosts: tuple[str, ...]  #: MX exchanges, most preferred first
    provider: str | None

    @property
    def in_microsoft_365(self) -> bool:
        """Whether mail for the domain is delivered to Exchange Online."""
        return self.provider == "microsoft365"

    def describe(self) -> str:
        """One sentence for a person."""
        if not self.hosts:
            return f"{self.domain} has no MX record, so it receives no mail directly."
        where = self.provider or "a server that is not a known cloud provider (on-premises?)"
        return f"Mail for {self.domain} is delivered to {self.hosts[0]} ({where})."


def _provider_for(host: str) -> str | None:
    lowered = host.lower().rstrip(".")
    for suffix, provider in HOSTING_SUFFIXES:
        if lowered.endswith(suffix) or lowered == suffix.lstrip("."):
            return provider
    return None


def lookup_mail_hosting(domain_or_address: str, *, resolver: Any = None,
                        lifetime: float = 5.0) -> MailHosting:
    """Look up the MX records of a domain (or of an address's domain).

    ``resolver`` is anything with dnspython's ``resolve(name, "MX")`` (tests pass their own);
    by default a ``dns.resolver.Resolver`` reading the system configuration.
    """
    domain = domain_or_address.rpartition("@")[2].strip().lower().rstrip(".")
    import dns.exception
    import dns.resolver

    if resolver is None:
        resolver = dns.resolver.Resolver()
        resolver.lifetime = lifetime
    try:
        answer = resolver.resolve(domain, "MX")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return MailHosting(domain=domain, hosts=(), provider=None)
    except dns.exception.DNSException as exc:
        raise errors.ServerUnreachable(
            f"The MX look-up for {domain} failed: {exc}", provider="graph", code="dns",
            remedy="Check the domain name and this machine's DNS resolver, then retry.",
        ) from exc
    records = sorted(answer, key=lambda r: (int(r.preference), str(r.exchange)))
    hosts = tuple(str(r.exchange).rstrip(".") for r in records)
    provider = next((p for p in map(_provider_for, hosts) if p), None)
    return MailHosting(domain=domain, hosts=hosts, provider=provider)
