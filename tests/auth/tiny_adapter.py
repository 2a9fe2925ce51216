"""A tiny OAuth adapter, wired the way the real adapters are meant to be.

It is the fake mailbox with one change: every primitive first calls a protected resource
(``/resource/me`` on the local identity provider) with the current access token, through
the adapter's error boundary (the Graph table: a 401 ``InvalidAuthenticationToken`` is
``ReauthorizationRequired``), inside :func:`inboxlink.auth.with_fresh_token`. That is the
three-line wiring documented for adapter owners in ``docs/signin.md``.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from inboxlink import errors
from inboxlink.adapters.graph.errors import TABLE, signal_from_body
from inboxlink.auth import TokenProvider, resolve_token_source, with_fresh_token
from inboxlink.testing import FakeMailbox
from inboxlink.translate import Signal, translating


class _Refused(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _extract(exc: BaseException, context: None) -> Signal | None:
    if isinstance(exc, _Refused):
        return signal_from_body(exc.response.status_code, exc.response.headers,
                                exc.response.content)
    return None


class TinyOAuthMailbox(FakeMailbox):
    """``FakeMailbox`` whose every call needs a live OAuth access token."""

    def __init__(self, address: str, *, tokens: TokenProvider, resource: str, ca_file: str,
                 **options: Any) -> None:
        super().__init__(address, **options)
        self.tokens = tokens
        self._resource = resource
        self._trust = ssl.create_default_context(cafile=ca_file)
        #: access tokens each resource call carried, in order
        self.presented: list[str] = []

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> TinyOAuthMailbox:
        """``graph://alice@contoso.com`` with ``token_provider=`` or ``token_cache=``."""
        tokens = resolve_token_source(url, options)          # 1. pop the options
        if tokens is None:
            raise errors.ConfigurationError("token_provider= or token_cache= is required.")
        user, _, host = url.split("://", 1)[1].partition("@")
        return cls(f"{user}@{host}", tokens=tokens, **options)

    def _call_resource(self, token: str) -> None:
        self.presented.append(token)
        with translating(TABLE, _extract, None):                     # the adapter's boundary
            response = httpx.get(self._resource, verify=self._trust,
                                 headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise _Refused(response)

    def _guard(self, operation: str) -> None:
        super()._guard(operation)
        with_fresh_token(self.tokens, self._call_resource)     # 2. every call, retried once
