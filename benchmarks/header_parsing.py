"""The listing's header reader vs the stdlib on the same 10,000 header blocks.

Run: ``python benchmarks/header_parsing.py [count]``. Reads subject, From, To, Date and
Message-ID of each block three ways: ``inboxlink.headers.envelope`` (what every listing
and ``Message`` use), the stdlib with ``compat32`` + ``email.header`` / ``email.utils``
(the fast stdlib way), and ``email.policy.default`` (the convenient one). One in ten
blocks is hostile (broken encoded word, malformed line, display name holding "@").
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from inboxlink import headers

SHAPES = [
    b"Subject: Quarterly report for March\r\nFrom: Alice Example <alice@example.com>\r\n"
    b"To: bob@example.org, Carol <carol@example.net>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n"
    b"Message-ID: <%d@example.com>\r\n",
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\nFrom: =?utf-8?b?SsO8cmdlbg==?= "
    b"<juergen@example.de>\r\nTo: team@example.org\r\nDate: Tue, 3 Mar 2026 08:15:00 -0500\r\n"
    b"Message-ID: <%d@mail.example.de>\r\n",
]
HOSTILE = (b"Subject: =?utf-8?b?a?= broken\r\nnot a header line\r\nFrom: support@evil.example "
           b"<alice@example.com>\r\nTo: undisclosed-recipients:;\r\nDate: garbage\r\n"
           b"Message-ID: <%d@b@example.com>\r\n")


def blocks(count: int) -> list[bytes]:
    return [(HOSTILE if i % 10 == 9 else SHAPES[i % 2]) % i for i in range(count)]


def inboxlink_read(data: list[bytes]) -> None:
    for block in data:
        env = headers.envelope(block)
        _ = (env.subject, env.from_, env.to, env.date, env.message_id)


_COMPAT = BytesHeaderParser(policy=policy.compat32)
_DEFAULT = BytesHeaderParser(policy=policy.default)


def _safe(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except Exception:  # the stdlib raises on hostile values; a listing must not
        return None


def stdlib_compat32(data: list[bytes]) -> None:
    for block in data:
        msg = _COMPAT.parsebytes(block)
        subject = msg.get("Subject")
        _ = (_safe(lambda s=subject: str(make_header(decode_header(s or "")))),
             getaddresses([str(msg.get("From", ""))]), getaddresses([str(msg.get("To", ""))]),
             _safe(lambda m=msg: parsedate_to_datetime(str(m.get("Date")))), msg.get("Message-ID"))


def stdlib_default(data: list[bytes]) -> None:
    for block in data:
        msg = _DEFAULT.parsebytes(block)
        _ = (str(msg.get("Subject")), _safe(lambda m=msg: m["From"].addresses),
             _safe(lambda m=msg: m["To"].addresses), _safe(lambda m=msg: m["Date"].datetime),
             str(msg.get("Message-ID")))


def median(fn: Callable[[list[bytes]], None], data: list[bytes], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(count: int) -> None:
    data = blocks(count)
    ours = median(inboxlink_read, data)
    print(f"{count} header blocks, subject/from/to/date/message-id read, median of 3")
    print(f"  inboxlink.headers.envelope   {ours:7.3f} s")
    for name, fn in (("stdlib compat32 + helpers", stdlib_compat32),
                     ("stdlib policy.default", stdlib_default)):
        theirs = median(fn, data)
        print(f"  {name:28} {theirs:7.3f} s   inboxlink ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
