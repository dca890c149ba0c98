"""A twisted.web Site whose requests stop buffering a body past the API's limit.

twisted.web reads a whole body before any resource sees it; with this request factory a
10 GB upload costs at most ``max_body`` bytes of buffer, and the handler answers 413.
Listeners that use a plain ``Site`` still get 413 (after buffering), just not the saving.
"""

from __future__ import annotations

import time
from io import BytesIO
from typing import Any
from urllib.parse import unquote_to_bytes

from twisted.python.failure import Failure
from twisted.web.http import datetimeToString
from twisted.web.resource import IResource, Resource, _IEncodingResource
from twisted.web.server import Request, Site, version

from kubeapi.server.channel import channel_factory
from kubeapi.server.context import header_table
from kubeapi.server.statustext import reason_phrase

DEFAULT_MAX_BODY = 3 * 1024 * 1024


_date: list[Any] = [-1, b""]  # (the second, its Date header value)


def http_date() -> bytes:
    """The Date header for now, formatted once a second rather than on every request."""
    now = int(time.time())
    if _date[0] != now:
        _date[:] = [now, datetimeToString(now)]
    return _date[1]  # type: ignore[no-any-return]


class LimitedRequest(Request):
    max_body = DEFAULT_MAX_BODY
    body_too_large = False
    _received = 0
    _postpath: list[bytes] | None = None

    @property  # type: ignore[override]
    def postpath(self) -> list[bytes]:
        """twisted.web's unquoted path segments, worked out only if something asks: our
        root resource is a leaf and reads the path itself."""
        if self._postpath is None:
            self._postpath = [unquote_to_bytes(p) for p in self.path[1:].split(b"/")]
        return self._postpath

    @postpath.setter
    def postpath(self, value: list[bytes]) -> None:
        self._postpath = value

    def process(self) -> None:
        """twisted.web's ``process`` for a site whose root is a leaf: the same Server and Date
        headers and the same render, without walking the resource tree."""
        channel: Any = self.channel
        site = self.site = channel.site
        resource = site.resource
        if not getattr(resource, "isLeaf", False) or self.path == b"*" or \
                _IEncodingResource.providedBy(resource):
            super().process()
            return
        raw = header_table(self.responseHeaders)
        if raw is not None:  # by its canonical names: no scrubbing needed
            raw[b"Server"] = [version]
            raw[b"Date"] = [http_date()]
        else:
            self.setHeader(b"Server", version)
            self.setHeader(b"Date", http_date())
        self.prepath: list[bytes] = []
        self.sitepath: list[bytes] = []
        try:
            self.render(resource)
        except BaseException:
            self.processingFailed(Failure())

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        """Status lines carry Go's reason phrases (kubeapi.server.statustext)."""
        super().setResponseCode(code, message if message is not None else reason_phrase(code))

    def gotLength(self, length: int | None) -> None:
        """The body goes to memory, always: it is at most ``max_body`` bytes.  twisted.web
        would put a chunked body or one of 100 KB or more (a large CRD, a Secret) in a
        temporary file, written from the reactor thread."""
        if length is not None and length > self.max_body:
            self.body_too_large = True
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        self._received += len(data)
        if self.body_too_large or self._received > self.max_body:
            self.body_too_large = True
            return
        super().handleContentChunk(data)


def make_site(resource: IResource | Resource, max_body: int = DEFAULT_MAX_BODY, **kwargs: Any) -> Site:
    # An API server takes no HTML form posts; looking for them ran the stdlib e-mail header
    # parser on every POST's Content-Type.
    kwargs.setdefault("parsePOSTFormSubmission", False)
    site = Site(resource, **kwargs)
    site.protocol = channel_factory(max_body)  # type: ignore[method-assign]  # Go's header limits, read deadlines, early 413

    class _Request(LimitedRequest):
        pass

    _Request.max_body = max_body
    site.requestFactory = _Request  # type: ignore[assignment]
    return site
