"""The one place the Gmail adapter relies on googleapiclient's upload internals.

- The media upload URL: with ``client_options={"api_endpoint": X}`` google-api-python-client
  2.x builds it from the discovery document's ``rootUrl`` and replaces only the *host*
  (``discovery._fix_up_media_path_base_url``): the scheme stays ``https`` and a path prefix
  of X is dropped, so an upload to ``http://127.0.0.1:8080/`` or a proxy at
  ``https://proxy/gmail/`` would go elsewhere. `follow_endpoint` re-roots it on X.
- Resuming: `HttpRequest.next_chunk` keeps its place in ``resumable_progress`` and, after a
  failed chunk, an ``_in_error_state`` flag that makes its next call ask the session's
  status on its own. The adapter asks the status itself (the final chunk's lost answer
  must decide between "sent" and "unknown", not be followed by a blind re-send), so
  `resume_at` sets the place and clears that private flag.

``tests/gmail/test_shim_canary.py`` fails loudly when googleapiclient changes any of this.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UPLOAD_PATH", "follow_endpoint", "is_final_chunk", "resume_at"]

#: where every Gmail media upload URL's path starts (``upload/gmail/v1/users/…``)
UPLOAD_PATH = "upload/gmail/v1/"


def follow_endpoint(request: Any, api_endpoint: str) -> None:
    """Point ``request``'s media upload URL at ``api_endpoint`` (which ends with ``/``)."""
    uri = str(request.uri)
    start = uri.find("/" + UPLOAD_PATH)
    if start < 0:
        raise RuntimeError(f"googleapiclient built an upload URL without /{UPLOAD_PATH}: "
                           f"{uri}")
    request.uri = api_endpoint + uri[start + 1:]


def is_final_chunk(request: Any) -> bool:
    """Whether the next chunk ``request`` sends ends the upload."""
    media = request.resumable
    chunk = media.chunksize()
    return bool(chunk == -1 or int(request.resumable_progress) + chunk >= media.size())


def resume_at(request: Any, offset: int) -> None:
    """Continue ``request``'s upload with the byte at ``offset`` (what the server has)."""
    request.resumable_progress = offset
    request._in_error_state = False
