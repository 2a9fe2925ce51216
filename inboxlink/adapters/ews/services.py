"""exchangelib's EWS services, reading responses in 64 KB chunks instead of byte by byte.

exchangelib 5.6 feeds lxml with ``response.iter_content()``, whose default chunk size in
requests is one byte: a 1 MB GetItem response costs about a million generator steps (~1 s
here). These subclasses hand the same parser the same stream in 64 KB chunks; parsing,
error handling and everything else stay exchangelib's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests
from exchangelib import services

__all__ = ["CreateItem", "FindFolder", "FindItem", "GetFolder", "GetItem"]

CHUNK = 64 * 1024


class _Chunked:
    """A requests.Response seen through ``iter_content(CHUNK)``."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response

    def iter_content(self) -> Iterator[bytes]:
        return self._response.iter_content(chunk_size=CHUNK)


class _ChunkedParse:
    @classmethod
    def _get_soap_parts(cls, response: Any) -> Any:
        if isinstance(response, requests.Response):
            response = _Chunked(response)
        return super()._get_soap_parts(response)  # type: ignore[misc]


class FindItem(_ChunkedParse, services.FindItem):  # type: ignore[misc]
    """FindItem."""


class GetItem(_ChunkedParse, services.GetItem):  # type: ignore[misc]
    """GetItem."""


class FindFolder(_ChunkedParse, services.FindFolder):  # type: ignore[misc]
    """FindFolder."""


class GetFolder(_ChunkedParse, services.GetFolder):  # type: ignore[misc]
    """GetFolder."""


class CreateItem(_ChunkedParse, services.CreateItem):  # type: ignore[misc]
    """CreateItem."""
