"""A corpus of real-world-shaped broken messages, generated (nothing here is real mail).

Each :class:`Sample` is one shape seen in the wild — nested, signed and forwarded
multiparts, bad charsets, broken encoded words, bare LF, missing or wrong boundaries, huge
headers, 8-bit headers, uuencode, truncation … — crossed with a few variations, so the
corpus is large (see :data:`CORPUS`, over 100) but every message has a name that says
what it tests. ``attachments`` is what :func:`inboxlink.mime.attachments` must report
(file names in order) when the shape fixes it, ``None`` when any answer is acceptable.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Iterator

import attrs

CRLF = b"\r\n"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


@attrs.frozen
class Sample:
    name: str
    raw: bytes = attrs.field(repr=lambda r: f"<{len(r)} bytes>")
    attachments: tuple[str | None, ...] | None = None


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _headers(subject: bytes = b"Hello", sender: bytes = b"Alice <alice@example.com>",
             extra: tuple[bytes, ...] = (), msgid: bytes = b"<m1@example.com>") -> list[bytes]:
    return [b"From: " + sender, b"To: Bob <bob@example.org>", b"Subject: " + subject,
            b"Date: Mon, 2 Mar 2026 10:00:00 +0100", b"Message-ID: " + msgid,
            b"MIME-Version: 1.0", *extra]


def _msg(head: list[bytes], body: bytes, eol: bytes = CRLF) -> bytes:
    return eol.join(head) + eol + eol + body


def _leaf(content_type: bytes, body: bytes, *, encoding: bytes | None = None,
          disposition: bytes | None = None, extra: tuple[bytes, ...] = ()) -> bytes:
    head = [b"Content-Type: " + content_type]
    if encoding:
        head.append(b"Content-Transfer-Encoding: " + encoding)
    if disposition:
        head.append(b"Content-Disposition: " + disposition)
    return CRLF.join([*head, *extra]) + CRLF + CRLF + body


def _multipart(subtype: bytes, boundary: bytes, parts: list[bytes], *, close: bool = True,
               params: bytes = b"") -> tuple[bytes, bytes]:
    body = b"".join(b"--" + boundary + CRLF + p + CRLF for p in parts)
    if close:
        body += b"--" + boundary + b"--" + CRLF
    return b"multipart/" + subtype + b'; boundary="' + boundary + b'"' + params, body


def _text(body: bytes = b"Hello Bob", charset: bytes = b"utf-8") -> bytes:
    return _leaf(b"text/plain; charset=" + charset, body)


def _pdf(name: bytes = b"report.pdf", data: bytes = PDF) -> bytes:
    return _leaf(b"application/pdf; name=" + name, _b64(data), encoding=b"base64",
                 disposition=b"attachment; filename=" + name)


def _whole(content_type: bytes, body: bytes, head: list[bytes]) -> bytes:
    return _msg([*head, b"Content-Type: " + content_type], body)


# --------------------------------------------------------------------------- shapes
def nested_multiparts() -> Iterator[Sample]:
    for depth in range(1, 6):
        inner = _pdf(b"deep%d.pdf" % depth)
        for level in range(depth):
            ctype, body = _multipart(b"mixed", b"lvl%d" % level, [_text(b"level %d" % level), inner])
            inner = b"Content-Type: " + ctype + CRLF + CRLF + body
        ctype, body = _multipart(b"mixed", b"top", [_text(), inner])
        yield Sample(f"nested-{depth}", _whole(ctype, body, _headers()), (f"deep{depth}.pdf",))


def signed() -> Iterator[Sample]:
    for protocol, sig_type, name in (
        (b"application/pkcs7-signature", b"application/pkcs7-signature; name=smime.p7s", "smime.p7s"),
        (b"application/pgp-signature", b"application/pgp-signature", None),
        (b"application/x-pkcs7-signature", b"application/x-pkcs7-signature; name=smime.p7s", "smime.p7s"),
    ):
        for with_file in (False, True):
            parts = [_text(b"signed text")] + ([_pdf()] if with_file else [])
            ctype, body = _multipart(b"mixed", b"inner", parts)
            content = b"Content-Type: " + ctype + CRLF + CRLF + body
            signature = _leaf(sig_type, _b64(b"\x30\x82signature"), encoding=b"base64")
            outer, outer_body = _multipart(b"signed", b"sig", [content, signature],
                                           params=b'; protocol="' + protocol + b'"; micalg=sha-256')
            expected = (("report.pdf",) if with_file else ()) + (name,)
            yield Sample(f"signed-{protocol.decode().rsplit('/', 1)[1]}-{with_file}",
                         _whole(outer, outer_body, _headers()), expected)
    # opaque S/MIME: the whole body is the (enveloped) attachment
    yield Sample("smime-opaque", _whole(b"application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
                                        _b64(b"\x30\x80enveloped"), _headers(
                                            extra=(b"Content-Transfer-Encoding: base64",
                                                   b"Content-Disposition: attachment; filename=smime.p7m"))),
                 ("smime.p7m",))


def forwarded() -> Iterator[Sample]:
    inner = _msg(_headers(b"=?utf-8?q?Original_=E2=9C=93?=", msgid=b"<orig@example.net>"),
                 b"original body")
    for disposition in (None, b"attachment", b"inline", b"attachment; filename=fwd.eml"):
        part = _leaf(b"message/rfc822", inner, disposition=disposition)
        ctype, body = _multipart(b"mixed", b"fw", [_text(b"see below"), part])
        expected = ("fwd.eml",) if disposition and b"filename" in disposition else (None,)
        yield Sample(f"forwarded-{disposition!r}", _whole(ctype, body, _headers(b"Fwd: x")), expected)
    # a forward of a forward, with the attachment two messages deep
    deep_ctype, deep_body = _multipart(b"mixed", b"d", [_text(), _pdf(b"inner.pdf")])
    deeper = _whole(deep_ctype, deep_body, _headers(b"inner"))
    ctype, body = _multipart(b"mixed", b"o", [_text(), _leaf(b"message/rfc822", deeper)])
    yield Sample("forwarded-twice", _whole(ctype, body, _headers(b"Fwd: Fwd:")), (None,))
    # Outlook's text/rfc822-headers bounce part
    ctype, body = _multipart(b"report", b"r", [_text(b"bounce"), _leaf(
        b"message/delivery-status", b"Reporting-MTA: dns; mx.example\r\n"), _leaf(
        b"text/rfc822-headers", b"From: x@example.com\r\nSubject: lost\r\n")],
        params=b"; report-type=delivery-status")
    yield Sample("bounce-report", _whole(ctype, body, _headers(b"Undelivered Mail")), (None, None))


def bad_charsets() -> Iterator[Sample]:
    for charset in (b"bogus", b"utf-7", b"x-unknown", b"iso-2022-jp", b"\"utf-8\"", b"utf8mb4",
                    b"windows-1252", b"", b"unicode-1-1-utf-7", b"ks_c_5601-1987"):
        body = "zażółć gęślą jaźń".encode()
        yield Sample(f"charset-{charset.decode() or 'empty'}",
                     _whole(b"text/plain; charset=" + charset, body, _headers()), ())
        yield Sample(f"charset-subject-{charset.decode() or 'empty'}",
                     _msg(_headers(b"=?" + (charset or b"x") + b"?q?caf=E9?="), b"x"), ())


def broken_encoded_words() -> Iterator[Sample]:
    words = [b"=?utf-8?b?a?=", b"=?utf-8?b?w6k?=", b"=?utf-8?q?=ZZ?=", b"=?utf-8?x?abc?=",
             b"=?utf-8?b?", b"=??q?abc?=", b"=?utf-8?q?a b?=", b"=?utf-8?b?" + b"QUJD" * 300 + b"?=",
             b"=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=", b"prefix=?utf-8?q?x?=suffix"]
    for n, word in enumerate(words):
        yield Sample(f"encoded-word-subject-{n}", _msg(_headers(word), b"x"), ())
        yield Sample(f"encoded-word-from-{n}",
                     _msg(_headers(sender=word + b" <alice@example.com>"), b"x"), ())
    name = _pdf(b'"=?utf-8?b?a?=.pdf"')
    ctype, body = _multipart(b"mixed", b"b", [_text(), name])
    yield Sample("encoded-word-filename", _whole(ctype, body, _headers()), None)


def bare_lf_and_cr() -> Iterator[Sample]:
    for eol in (b"\n", b"\r", b"\r\r\n", b"\n\r"):
        head = _headers()
        ctype, body = _multipart(b"mixed", b"lf", [_text(), _pdf()])
        yield Sample(f"line-ends-{eol!r}", _msg([*head, b"Content-Type: " + ctype],
                                                body.replace(CRLF, eol), eol=eol), None)
    mixed = CRLF.join(_headers()) + b"\nX-Mixed: yes\r\n\n body after bare LF"
    yield Sample("line-ends-mixed", mixed, ())


def boundaries() -> Iterator[Sample]:
    parts = [_text(), _pdf()]
    ctype, body = _multipart(b"mixed", b"right", parts)
    yield Sample("boundary-missing-param", _whole(b"multipart/mixed", body, _headers()), ())
    yield Sample("boundary-wrong", _whole(b'multipart/mixed; boundary="wrong"', body, _headers()), ())
    unclosed_ct, unclosed = _multipart(b"mixed", b"right", parts, close=False)
    yield Sample("boundary-unclosed", _whole(unclosed_ct, unclosed, _headers()), ("report.pdf",))
    yield Sample("boundary-truncated-mid-part", _whole(ctype, body[:len(body) // 2], _headers()), None)
    yield Sample("boundary-empty-multipart", _whole(b'multipart/mixed; boundary="e"', b"--e--\r\n",
                                                    _headers()), ())
    yield Sample("boundary-no-parts-at-all", _whole(b'multipart/mixed; boundary="e"', b"just text",
                                                    _headers()), ())
    long_b = b"b" * 200
    lct, lbody = _multipart(b"mixed", long_b, parts)
    yield Sample("boundary-200-chars", _whole(lct, lbody, _headers()), ("report.pdf",))
    yield Sample("boundary-in-body-text", _whole(ctype, body.replace(b"Hello Bob", b"--right-- ha"),
                                                 _headers()), None)
    alt, alt_body = _multipart(b"alternative", b"alt", [_text(), _leaf(b"text/html", b"<p>x</p>")])
    yield Sample("alternative-only", _whole(alt, alt_body, _headers()), ())
    related, rel_body = _multipart(b"related", b"rel", [
        _leaf(b"text/html", b'<img src="cid:logo">'),
        _leaf(b"image/png", _b64(PNG), encoding=b"base64", extra=(b"Content-ID: <logo>",))])
    yield Sample("related-inline-image", _whole(related, rel_body, _headers()), (None,))


def huge_headers() -> Iterator[Sample]:
    long_subject = b"x" * 20_000
    yield Sample("huge-subject-unfolded", _msg(_headers(long_subject), b"x"), ())
    folded = CRLF.join(b" word" * 10 for _ in range(500))
    yield Sample("huge-subject-folded", _msg(_headers(b"start" + folded), b"x"), ())
    recipients = b", ".join(b"user%d@example.org" % i for i in range(3000))
    yield Sample("huge-to", _msg([*_headers(), b"Cc: " + recipients], b"x"), ())
    many = [b"X-Header-%d: value" % i for i in range(5000)]
    yield Sample("many-headers", _msg(_headers(extra=tuple(many)), b"x"), ())
    refs = b" ".join(b"<r%d@example.com>" % i for i in range(2000))
    yield Sample("huge-references", _msg(_headers(extra=(b"References: " + refs,)), b"x"), ())
    yield Sample("only-headers-no-body", CRLF.join(_headers()), ())
    yield Sample("empty-message", b"", ())
    yield Sample("only-a-blank-line", CRLF, ())


def eight_bit_headers() -> Iterator[Sample]:
    for label, value in (("utf8", "Zażółć <zazolc@example.com>".encode()),
                         ("latin1", "Müller <mueller@example.com>".encode("latin-1")),
                         ("sjis", "山田 <yamada@example.jp>".encode("shift_jis")),
                         ("nul", b"Al\x00ice <alice@example.com>"),
                         ("invalid-utf8", b"\xff\xfe <x@example.com>")):
        yield Sample(f"8bit-from-{label}", _msg(_headers(sender=value), b"x"), ())
        yield Sample(f"8bit-subject-{label}", _msg(_headers(subject=value), b"x"), ())
    yield Sample("8bit-filename", _msg(_headers(extra=(
        b"Content-Type: application/pdf",
        'Content-Disposition: attachment; filename="Überweisung.pdf"'.encode(),
        b"Content-Transfer-Encoding: base64")), _b64(PDF)), ("Überweisung.pdf",))


def uuencode() -> Iterator[Sample]:
    uu = b"begin 644 notes.txt\r\n#86)C\r\n`\r\nend\r\n"
    yield Sample("uuencode-inline-in-text", _msg(_headers(), b"See attached\r\n\r\n" + uu), ())
    yield Sample("uuencode-cte", _whole(b"application/octet-stream; name=notes.txt", uu, _headers(
        extra=(b"Content-Transfer-Encoding: x-uuencode",))), ("notes.txt",))
    yield Sample("uuencode-broken", _msg(_headers(extra=(b"Content-Transfer-Encoding: uuencode",)),
                                          b"begin 644 x\r\n!!!!\r\n"), ())


def header_oddities() -> Iterator[Sample]:
    yield Sample("malformed-line", _msg([b"From: alice@example.com", b"garbage line",
                                         *_headers()[1:]], b"x"), ())
    yield Sample("obsolete-colon", _msg([b"From  : alice@example.com", b"Subject : obs",
                                         b"To: bob@example.org"], b"x"), ())
    yield Sample("mbox-from-line", b"From alice@example.com Mon Mar  2 10:00:00 2026\r\n"
                 + _msg(_headers(), b"x"), ())
    yield Sample("from-empty", _msg([b"From: <>", b"To: bob@example.org", b"Subject: bounce"], b"x"), ())
    yield Sample("no-from", _msg([b"To: bob@example.org", b"Subject: anon"], b"x"), ())
    yield Sample("at-in-name", _msg(_headers(sender=b"support@evil.example <alice@example.com>"), b"x"), ())
    yield Sample("two-at-msgid", _msg(_headers(msgid=b"<a@b@example.com>"), b"x"), ())
    yield Sample("msgid-no-brackets", _msg(_headers(msgid=b"naked@example.com"), b"x"), ())
    yield Sample("unicode-breaks-subject", _msg(_headers("A\u2028B\x85C\x0cD".encode()), b"x"), ())
    yield Sample("group-syntax", _msg(_headers(sender=b"Team: a@example.com, b@example.com;"), b"x"), ())
    yield Sample("undisclosed", _msg([*_headers()[:1], b"To: undisclosed-recipients:;",
                                      *_headers()[2:]], b"x"), ())
    yield Sample("dates-garbage", _msg(_headers(extra=(b"Date: 99 Foo 99999 99:99:99 +9999",)), b"x"), ())
    yield Sample("duplicate-subject", _msg([*_headers(), b"Subject: second"], b"x"), ())
    yield Sample("header-name-8bit", _msg([*_headers(), "Tëst: x".encode()], b"x"), ())
    yield Sample("reply-to-garbage", _msg(_headers(extra=(b"Reply-To: <<<>>>",)), b"x"), ())
    yield Sample("content-type-garbage", _whole(b";;;===", b"x", _headers()), ())
    yield Sample("rfc2231-filename", _msg(_headers(extra=(
        b"Content-Type: application/pdf",
        b"Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1=.pdf",
        b"Content-Transfer-Encoding: base64")), _b64(PDF)), ("€.pdf",))
    yield Sample("rfc2231-bad-charset", _msg(_headers(extra=(
        b"Content-Type: application/pdf",
        b"Content-Disposition: attachment; filename*=bogus''%FF%FE.pdf")), b"data"), None)


def encodings() -> Iterator[Sample]:
    encoded = base64.b64encode(PDF)
    for cut in (1, 2, 3, 5, 77, len(encoded) - 1):
        yield Sample(f"base64-truncated-{cut}", _whole(b"application/pdf; name=t.pdf",
                                                       encoded[:cut], _headers(
            extra=(b"Content-Transfer-Encoding: base64",))), ("t.pdf",))
    yield Sample("base64-junk", _whole(b"application/pdf; name=j.pdf",
                                       b"!!" + encoded[:100] + b"***" + encoded[100:200], _headers(
        extra=(b"Content-Transfer-Encoding: base64",))), ("j.pdf",))
    yield Sample("base64-mid-padding", _whole(b"application/pdf; name=p.pdf", b"QQ==QUJD", _headers(
        extra=(b"Content-Transfer-Encoding: base64",))), ("p.pdf",))
    yield Sample("qp-broken", _whole(b"text/plain", b"caf=C3=A9 =ZZ =\r\nend=", _headers(
        extra=(b"Content-Transfer-Encoding: quoted-printable",))), ())
    yield Sample("cte-unknown", _whole(b"application/pdf; name=u.pdf", PDF, _headers(
        extra=(b"Content-Transfer-Encoding: x-gzip64",))), ("u.pdf",))
    yield Sample("binary-body-nul", _whole(b"text/plain", b"a\x00b\x00" * 100, _headers()), ())


def random_mutations(count: int = 20) -> Iterator[Sample]:
    """Byte-level damage (flips, cuts, duplicated spans) of a well-formed rich message."""
    ctype, body = _multipart(b"mixed", b"mut", [_text(), _pdf(), _leaf(
        b"message/rfc822", _msg(_headers(b"inner"), b"inner body"))])
    base = _whole(ctype, body, _headers("Grüße =?utf-8?q?=E2=9C=93?=".encode()))
    rng = random.Random(11)
    for n in range(count):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            action = rng.choice(("flip", "cut", "dup", "nul"))
            if action == "flip":
                data[at] ^= 1 << rng.randrange(8)
            elif action == "cut":
                del data[at:at + rng.randint(1, 40)]
            elif action == "dup":
                data[at:at] = data[at:at + rng.randint(1, 40)]
            else:
                data[at] = 0
        yield Sample(f"mutation-{n}", bytes(data), None)


SHAPES: tuple[Callable[[], Iterator[Sample]], ...] = (
    nested_multiparts, signed, forwarded, bad_charsets, broken_encoded_words, bare_lf_and_cr,
    boundaries, huge_headers, eight_bit_headers, uuencode, header_oddities, encodings,
    random_mutations,
)


def corpus() -> list[Sample]:
    """Every sample, in a stable order, names unique."""
    samples = [sample for shape in SHAPES for sample in shape()]
    assert len({s.name for s in samples}) == len(samples), "sample names must be unique"
    return samples


CORPUS = corpus()
