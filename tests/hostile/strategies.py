"""Hypothesis strategies for hostile mail: header values, header blocks, MIME trees."""

from __future__ import annotations

import base64

from hypothesis import strategies as st

#: every character str.splitlines() breaks at, and other troublemakers
BREAKS = ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
SNIPPETS = [
    "=?utf-8?b?a?=", "=?utf-8?q?caf=C3=A9?=", "=?utf-8?b?w6k=?=", "=?bogus?q?x?=", "=?utf-8?q?",
    "=?iso-8859-1?q?=E9t=E9?=", "=?utf-8*en?b?SGk=?=", "=?utf-8?x?abc?=", "?=", "=?",
    "<a@b@c>", "<>", "<a@example.com>", '"q@x" <r@y.example>', "a@example.com", "(comment)",
    "undisclosed-recipients:;", "group: x@y.example, z@w.example;", "\\", '"', ",", ";", ":",
    "Mon, 2 Mar 2026 10:00:00 +0100", "32 Foo 99999 99:99:99 +9999", "\t", " ", "\x00",
    "\udcff", "é", "漢字", "\u202e", "\ufeff",
]
HEADER_NAMES = ["Subject", "From", "To", "Cc", "Reply-To", "Date", "Message-ID", "In-Reply-To",
                "References", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
                "Content-ID", "MIME-Version", "X-Junk", "From  ", "Subject ", "", " ", "Bad Name"]
CONTENT_TYPES = ["text/plain", "text/html", "application/pdf", "image/png", "message/rfc822",
                 "multipart/mixed", "multipart/alternative", "multipart/signed", "text",
                 "application/pkcs7-signature", "text/plain; charset=bogus",
                 "text/plain; charset=utf-7", "application/octet-stream; name=\"=?utf-8?b?a?=\"",
                 "image/png; name*=utf-8''%E2%82%AC.png", ""]
ENCODINGS = ["base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", "bogus", ""]

header_text = st.lists(
    st.one_of(st.sampled_from(SNIPPETS), st.sampled_from(BREAKS), st.text(max_size=12)),
    max_size=6,
).map("".join)


def _encode(text: str, how: int) -> bytes:
    if how == 0:
        return text.encode("utf-8", "surrogateescape")
    if how == 1:
        return text.encode("latin-1", "replace")
    return text.encode("utf-8", "replace")


header_value = st.tuples(header_text, st.integers(0, 2)).map(lambda t: _encode(*t))
line_end = st.sampled_from([b"\r\n", b"\n", b"\r"])


@st.composite
def header_block(draw: st.DrawFn) -> list[bytes]:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(HEADER_NAMES))
        value = draw(header_value)
        lines.append(name.encode() + b":" + (b" " if draw(st.booleans()) else b"") + value)
    return lines


@st.composite
def part(draw: st.DrawFn, depth: int = 0) -> bytes:
    """One MIME entity (headers + body), possibly a multipart with broken boundaries."""
    eol = draw(line_end)
    headers = draw(header_block())
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    encoding = draw(st.sampled_from(ENCODINGS))
    disposition = draw(st.sampled_from(["", "attachment; filename=a.bin", "inline",
                                        "attachment; filename*=utf-8''%FF.txt", "attachment"]))
    if content_type.startswith("multipart") and depth < 3:
        boundary = draw(st.sampled_from(["b1", "=_x", "", "a" * 80, "b 2"]))
        children = draw(st.lists(part(depth + 1), max_size=3))
        used = draw(st.sampled_from([boundary, boundary + "x", ""]))  # wrong or missing
        body = b"".join(b"--" + used.encode() + eol + child + eol for child in children)
        if draw(st.booleans()):
            body += b"--" + used.encode() + b"--" + eol
        headers.append(f"Content-Type: {content_type}; boundary=\"{boundary}\"".encode())
    else:
        raw_body = draw(st.binary(max_size=64))
        if encoding == "base64" and draw(st.booleans()):
            encoded = base64.encodebytes(raw_body)
            body = encoded[:draw(st.integers(0, len(encoded)))]  # maybe truncated
        elif encoding == "x-uuencode":
            body = b"begin 644 f.txt" + eol + b"#86)C" + eol + b"`" + eol + b"end" + eol
        else:
            body = raw_body
        if content_type:
            headers.append(b"Content-Type: " + content_type.encode())
    if encoding:
        headers.append(b"Content-Transfer-Encoding: " + encoding.encode())
    if disposition:
        headers.append(b"Content-Disposition: " + disposition.encode())
    order = draw(st.permutations(headers))
    return eol.join(order) + eol + eol + body


messages = st.one_of(part(), st.binary(max_size=300),
                     st.tuples(header_block(), st.binary(max_size=40)).map(
                         lambda t: b"\r\n".join(t[0]) + b"\r\n\r\n" + t[1]))
