"""Shared set-up of the IMAP benchmarks: a loopback Dovecot over TLS loaded with realistic mail.

Messages are written straight into the account's Maildir (as a delivery agent would), then
Dovecot indexes them once before any timing starts.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import random
import ssl
import statistics
import tempfile
import time
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import trustme
from _bench import peak_kb, reset_peak, run_children
from imap.dovecot import PASSWORD, Dovecot

from inboxlink.adapters.imap import ImapSettings

__all__ = ["PASSWORD", "Peer", "Row", "by_capabilities", "child_config", "child_settings",
           "counted", "median_time", "peak_kb", "print_rows", "realistic_message", "reset_peak",
           "run_children"]

R = TypeVar("R")

_WORDS = ("invoice", "quarterly", "report", "meeting", "follow-up", "proposal", "contract",
          "renewal", "shipment", "order", "delivery", "schedule", "budget", "review", "draft",
          "feedback", "update", "question")
_NAMES = ("Anna Kowalska", "Bob Smith", "Jörg Müller", "Yuki Tanaka", "Carol Danvers",
          "Dave O'Brien", "Eve Martin", "Frank Zhang")


def realistic_message(n: int, rng: random.Random, body_size: int = 4500) -> bytes:
    """A message with the transport headers real mail carries (Received ×3, DKIM, ARC …)."""
    name = rng.choice(_NAMES)
    sender = f"{name.split()[0].lower()}@example{n % 50}.com"
    date = format_datetime(dt.datetime.fromtimestamp(1_700_000_000 + n * 600, dt.timezone.utc))
    subject = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9))).capitalize()
    if n % 5 == 0:
        subject = "=?utf-8?q?Re=3A_Zam=C3=B3wienie_nr_" + str(n) + "?="
    display = f'"{name}"' if n % 3 else f"=?utf-8?q?{name.replace(' ', '_')}?="
    sig = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                  for _ in range(344))
    relays = [f"mx{i}.example.net" for i in range(3)]
    headers = [
        *(f"Received: from {relays[i]} (relay{i}.example.net [192.0.2.{i + 10}])\r\n"
          f"\tby mx.example.com (Postfix) with ESMTPS id 4A{n:08X}{i}\r\n"
          f"\tfor <alice@example.com>; {date}" for i in range(3)),
        f"ARC-Seal: i=1; a=rsa-sha256; t=1700000000; cv=none; d=example.net; s=arc-2024;\r\n"
        f"\tb={sig[:200]}\r\n\t{sig[200:]}",
        f"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net;\r\n"
        f"\ts=arc-2024; h=to:subject:message-id:date:from:mime-version;\r\n\tbh={sig[:44]};\r\n"
        f"\tb={sig}",
        "ARC-Authentication-Results: i=1; mx.example.net; dkim=pass header.d=example.net;\r\n"
        "\tspf=pass smtp.mailfrom=example.net; dmarc=pass header.from=example.net",
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example{n % 50}.com;\r\n"
        f"\ts=selector1; h=from:to:subject:date:message-id:list-unsubscribe;\r\n"
        f"\tbh={sig[:44]};\r\n\tb={sig}",
        "Authentication-Results: mx.example.com; dkim=pass; spf=pass; dmarc=pass",
        f"List-Unsubscribe: <mailto:unsubscribe-{n}@lists.example.net>,\r\n"
        f"\t<https://lists.example.net/unsubscribe/{n:010d}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        f"From: {display} <{sender}>",
        "To: Alice Example <alice@example.com>" + (", bob@example.org" if n % 4 == 0 else ""),
        *(["Cc: carol@example.org"] if n % 7 == 0 else []),
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: <msg{n}.{rng.randint(0, 10**9)}@example{n % 50}.com>",
        *([f"In-Reply-To: <msg{n - 1}@example.com>",
           f"References: <msg{n - 2}@example.com> <msg{n - 1}@example.com>"] if n % 3 == 0 else []),
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="b1"',
    ]
    text = " ".join(rng.choice(_WORDS) for _ in range(body_size // 16))
    body = (f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            f"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{text}</p>\r\n--b1--\r\n")
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


class Peer:
    """A Dovecot with one account holding ``count`` messages."""

    def __init__(self, count: int, *, extra: list[bytes] | None = None,
                 capabilities: str | None = None, name: str = "bench") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="inboxlink-bench-"))
        self.ca = trustme.CA()
        leaf = self.ca.issue_cert("127.0.0.1")
        chain, key = self.dir / "chain.pem", self.dir / "key.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(chain))
        leaf.private_key_pem.write_to_path(str(key))
        self.dovecot = Dovecot(str(chain), str(key), name=name, fresh_users=2,
                               capabilities=capabilities)
        self.user = self.dovecot.new_user()
        self._fill(count, extra or [])

    def _fill(self, count: int, extra: list[bytes]) -> None:
        rng = random.Random(42)
        maildir = self.dovecot.dir / "mail" / self.user
        mail = pwd.getpwnam("mail")
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        for path in (maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(path, mail.pw_uid, mail.pw_gid)
        messages = [realistic_message(n, rng) for n in range(1, count + 1)] + extra
        for n, raw in enumerate(messages, 1):
            target = maildir / "cur" / f"{1_700_000_000 + n}.M{n}P1.bench,S={len(raw)}:2,"
            target.write_bytes(raw)
            os.chown(target, mail.pw_uid, mail.pw_gid)
        self.bytes_total = sum(len(m) for m in messages)
        admin = self.dovecot.admin(self.user)  # let Dovecot index everything once
        admin.select("INBOX")
        admin.logout()

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def settings(self, **extra: object) -> ImapSettings:
        fields: dict[str, object] = {
            "address": self.user, "imap_host": "127.0.0.1", "imap_port": self.dovecot.imaps_port,
            "password": PASSWORD, "ssl_context": self.client_context(), "timeout": 60,
        }
        fields.update(extra)
        return ImapSettings(**fields)  # type: ignore[arg-type]

    def raw_client(self, *, quiet: bool = True) -> Any:
        """A logged-in raw imapclient; ``quiet`` turns imaplib's protocol formatting off, the
        fair floor (see DESIGN §6)."""
        from imapclient import IMAPClient

        host, port = self.settings().imap_endpoint
        client = IMAPClient(host, port, ssl_context=self.client_context())
        client.login(self.user, PASSWORD)
        if quiet:
            client._imap.debug = 0
        return client

    def stop(self) -> None:
        self.dovecot.stop()


def counted(log: Any, fn: Callable[[], R]) -> tuple[float, int, R]:
    """(seconds, IMAP commands ``log`` saw — 0 without a log, result) of one call of ``fn``."""
    mark = len(log.commands) if log else 0
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, len(log.since(mark)) if log else 0, result


Row = tuple[str, float, int]


def by_capabilities(count: int, variants: tuple[tuple[str, str | None, str], ...],
                    run: Callable[[Peer, str, Any], list[Row]]) -> list[Row]:
    """``run(peer, label, log)`` on a fresh Peer of ``count`` messages per (label,
    capabilities, Dovecot name): once with the protocol log to count commands, once without
    it for the times (the log slows everything down)."""
    from imap.helpers import command_log

    rows: list[Row] = []
    for label, caps, name in variants:
        peer = Peer(count, capabilities=caps, name=name)
        try:
            with command_log() as log:
                commands = run(peer, label, log)
            timed = run(peer, label, None)
            rows += [(what, seconds, cmds) for (what, _, cmds), (_, seconds, _) in
                     zip(commands, timed, strict=True)]
        finally:
            peer.stop()
    return rows


def print_rows(title: str, rows: list[Row], digits: int = 3) -> None:
    """``title``, then one line per row: what, seconds (to ``digits`` places), commands."""
    print(f"\n{title}")
    print(f"{'what':<78} {'seconds':>8} {'commands':>9}")
    for name, seconds, cmds in rows:
        print(f"{name:<78} {seconds:8.{digits}f} {cmds:9d}")


def median_time(fn: Callable[[], object], runs: int = 3) -> float:
    """Median wall time of ``runs`` calls (after one untimed warm-up)."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def child_config(peer: Peer, chunk: int = 1 << 20) -> dict[str, object]:
    """What a child process needs to reach ``peer`` (the CA is written next to it)."""
    config: dict[str, object] = {"ca": str(peer.dir / "ca.pem"), "user": peer.user,
                                 "port": peer.dovecot.imaps_port, "chunk": chunk}
    peer.ca.cert_pem.write_to_path(str(config["ca"]))
    return config


def child_settings(config: dict[str, object]) -> tuple[ImapSettings, ssl.SSLContext]:
    """Mailbox settings (and the TLS context) inside a child, from :func:`child_config`."""
    ctx = ssl.create_default_context(cafile=str(config["ca"]))
    settings = ImapSettings(address=str(config["user"]), imap_host="127.0.0.1",
                            imap_port=int(str(config["port"])), password=PASSWORD,
                            ssl_context=ctx, timeout=120, stream_chunk=int(str(config["chunk"])))
    return settings, ctx
