"""The Klein app: one catch-all route into the pipeline; each listener gets its own
resource that knows whether it is the secure port."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from klein import Klein
from twisted.web.resource import IResource

from kubeapi.server import pipeline

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer


def build_resource(server: APIServer, secure: bool) -> IResource:
    app = Klein()
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False

    @app.route("/", branch=True)
    def everything(request: Any) -> Any:
        return pipeline.handle(server, request, secure)

    return app.resource()  # type: ignore[return-value]
