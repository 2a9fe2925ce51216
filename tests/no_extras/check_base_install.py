"""Run by ``nox -s no_extras`` in a virtualenv with the base install only (no extras, no
pytest), and by ``tests/test_lazy_imports.py`` with the extras' libraries blocked.

It proves what the install hints promise: ``import inboxlink`` needs none of the optional
client libraries, the fake works without them, and each adapter's URL raises
``AdapterNotAvailable`` naming the extra that installs it. Exit status 0 = all held.
"""

from __future__ import annotations

import sys

#: optional libraries (by extra) that must stay unimported until an adapter needs them
HEAVY = ("imapclient", "exchangelib", "msgraph", "kiota_abstractions", "azure",
         "googleapiclient", "google.auth", "rich", "dns")

#: URL → (the secret it signs in with, the extra its install hint must name)
HINTS = {
    "imaps://alice@mail.example.com": ("password", "inboxlink[imap]"),
    "imap://alice@mail.example.com": ("password", "inboxlink[imap]"),
    "ews://alice@example.com": ("password", "inboxlink[ews]"),
    "graph://alice@contoso.com": ("access_token", "inboxlink[graph]"),
    "gmail://alice@gmail.com": ("access_token", "inboxlink[gmail]"),
}


def main() -> int:
    import inboxlink
    from inboxlink import errors

    loaded = sorted(name for name in HEAVY if name in sys.modules)
    assert not loaded, f"import inboxlink loaded optional libraries: {loaded}"

    # The fake needs nothing optional.
    with inboxlink.connect("fake://demo@example.com?seed=demo", password="x") as mailbox:
        assert len(mailbox.list_messages().items) == 5

    for url, (secret, extra) in HINTS.items():
        try:
            inboxlink.connect(url, **{secret: "x"})
        except errors.AdapterNotAvailable as exc:
            # Plain script (no pytest in a base install): check and exit non-zero.
            if extra not in exc.remedy:
                raise AssertionError(f"{url}: the hint does not name {extra}: {exc.remedy}") from exc
        else:
            raise AssertionError(f"{url} connected without its extra installed")
    print(f"base install ok: inboxlink {inboxlink.__version__}, {len(HINTS)} install hints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
