"""The big consumer mail domains, known without asking DNS.

An address at gmail.com or outlook.com needs no MX look-up to know who hosts it, and the
doctor must not tell a person that ``gmail.com`` does not exist because their DNS is broken.
These domains are answered from this table; every other domain still goes through MX.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["CONSUMER_DOMAINS", "DNS_CANARIES", "ConsumerDomain", "consumer_domain"]


@attrs.frozen
class ConsumerDomain:
    """Who hosts a consumer domain's mail, and how inboxlink connects to it."""

    name: str  #: the service, as its users call it
    provider: str  #: "gmail", "graph" or "imap"
    imap_host: str | None = None  #: published IMAP server (provider "imap")
    smtp_host: str | None = None  #: published SMTP server (provider "imap")


_GMAIL = ConsumerDomain("Gmail", "gmail")
_OUTLOOK = ConsumerDomain("Outlook.com", "graph")
_YAHOO = ConsumerDomain("Yahoo Mail", "imap", "imap.mail.yahoo.com", "smtp.mail.yahoo.com")
_ICLOUD = ConsumerDomain("iCloud Mail", "imap", "imap.mail.me.com", "smtp.mail.me.com")
_AOL = ConsumerDomain("AOL Mail", "imap", "imap.aol.com", "smtp.aol.com")
_GMX = ConsumerDomain("GMX", "imap", "imap.gmx.net", "mail.gmx.net")
_WEBDE = ConsumerDomain("WEB.DE", "imap", "imap.web.de", "smtp.web.de")
_YANDEX = ConsumerDomain("Yandex Mail", "imap", "imap.yandex.com", "smtp.yandex.com")
_MAILRU = ConsumerDomain("Mail.ru", "imap", "imap.mail.ru", "smtp.mail.ru")
_FASTMAIL = ConsumerDomain("Fastmail", "imap", "imap.fastmail.com", "smtp.fastmail.com")
_ZOHO = ConsumerDomain("Zoho Mail", "imap", "imap.zoho.com", "smtp.zoho.com")

#: domain → who hosts it (the providers' published settings for mail clients)
CONSUMER_DOMAINS: Mapping[str, ConsumerDomain] = {
    "gmail.com": _GMAIL, "googlemail.com": _GMAIL,
    **dict.fromkeys(("outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
                     "outlook.fr", "outlook.de", "outlook.es", "outlook.it",
                     "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es",
                     "live.co.uk", "live.fr", "live.de", "live.nl"), _OUTLOOK),
    **dict.fromkeys(("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr",
                     "yahoo.de", "yahoo.co.jp", "yahoo.com.br"), _YAHOO),
    **dict.fromkeys(("icloud.com", "me.com", "mac.com"), _ICLOUD),
    **dict.fromkeys(("aol.com", "aim.com"), _AOL),
    **dict.fromkeys(("gmx.net", "gmx.de", "gmx.at", "gmx.ch", "gmx.com"), _GMX),
    "web.de": _WEBDE,
    **dict.fromkeys(("yandex.ru", "yandex.com", "ya.ru"), _YANDEX),
    **dict.fromkeys(("mail.ru", "inbox.ru", "list.ru", "bk.ru"), _MAILRU),
    **dict.fromkeys(("fastmail.com", "fastmail.fm"), _FASTMAIL),
    **dict.fromkeys(("zoho.com", "zohomail.com"), _ZOHO),
}

#: names every working DNS knows: when one of them "does not exist", DNS itself is broken
DNS_CANARIES: tuple[str, ...] = ("gmail.com", "outlook.com")


def consumer_domain(domain: str) -> ConsumerDomain | None:
    """The consumer service hosting ``domain``, or ``None`` (ask DNS)."""
    return CONSUMER_DOMAINS.get(domain.lower().rstrip("."))
