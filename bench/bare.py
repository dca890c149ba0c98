"""The baseline for GET: a bare twisted.web leaf resource answering every request with the
same bytes and headers kubeapi sent for one object.  Run as its own process, like the server.

    python bench/bare.py PORT BODY_FILE CONTENT_TYPE [CERT KEY]
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import reactor, ssl
from twisted.web import resource, server


class Fixed(resource.Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes) -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"content-length", str(len(self.body)).encode())
        return self.body


def main() -> None:
    port, body_file, ctype = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(body_file, "rb") as f:
        body = f.read()
    site = server.Site(Fixed(body, ctype.encode()))
    site.log = lambda *a, **k: None  # type: ignore[method-assign]  # kubeapi keeps no access log either
    if len(sys.argv) > 5:
        ctx = ssl.DefaultOpenSSLContextFactory(sys.argv[5], sys.argv[4])
        reactor.listenSSL(port, site, ctx, interface="127.0.0.1")  # type: ignore[attr-defined]
    else:
        reactor.listenTCP(port, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
