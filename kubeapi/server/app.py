"""The root resource: every request, whatever its path, goes into the pipeline; each
listener gets its own resource that knows whether it is the secure port.

A plain twisted.web leaf resource rather than a routing library: routing happens in the
pipeline (request info), and a router in front would answer odd paths (``%FF``, control
characters) itself, as an HTML page instead of a ``Status``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET

from kubeapi.server import eager, pipeline

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

log = logging.getLogger(__name__)


class PipelineResource(Resource):
    isLeaf = True

    def __init__(self, server: APIServer, secure: bool) -> None:
        super().__init__()
        self.apiserver = server
        self.secure = secure

    def render(self, request: Any) -> Any:
        try:
            # Stepped at once: a request that never waits (most GETs) is answered here, with
            # no Deferred made for it (kubeapi.server.eager).
            outcome = eager.start(pipeline.run(self.apiserver, request, self.secure))
        except BaseException:
            _failed(request, Failure(), False)
            return NOT_DONE_YET
        if not isinstance(outcome, eager.Pending):
            _done(request, outcome, False)
            return NOT_DONE_YET
        d = outcome.deferred
        gone = [False]

        def lost(_: Failure) -> None:
            gone[0] = True
            d.cancel()  # a watch or a long request stops when its client goes away

        request.notifyFinish().addErrback(lost)
        d.addCallbacks(lambda body: _done(request, body, gone[0]), lambda f: _failed(request, f, gone[0]))
        return NOT_DONE_YET


def _done(request: Any, body: bytes, gone: bool) -> None:
    if gone or request.finished:
        return
    if body:
        request.write(body)
    request.finish()


def _failed(request: Any, f: Failure, gone: bool) -> None:
    if f.check(defer.CancelledError):
        return
    log.error("unhandled failure serving %r: %s", request.uri, f.getTraceback())
    if not gone and not request.finished:
        if not request.startedWriting:
            request.setResponseCode(500)
        request.finish()


def build_resource(server: APIServer, secure: bool) -> IResource:
    resource: Any = PipelineResource(server, secure)
    return resource  # type: ignore[no-any-return]
