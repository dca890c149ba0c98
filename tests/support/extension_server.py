"""A metrics-server-shaped extension API server for the aggregation tests.

Run inside a TestHost namespace (``python -m tests.support.extension_server ...``): HTTPS on
``--address:--port`` with ``--cert``/``--key``, and a client certificate *required* and
verified against ``--client-ca`` (the front-proxy CA), as a real extension server verifies
the aggregator.  It serves ``metrics.k8s.io/v1beta1`` — discovery (legacy, and aggregated
when asked for it), ``nodes`` and ``pods`` (NodeMetrics / PodMetrics lists and gets, from the
``--metrics`` JSON file), ``/openapi/v2`` and ``/openapi/v3`` — plus two test hooks: a
``?watch=true`` on nodes streams one event now and one a second later, and a pod named
``redirect-me`` answers 302, and a POST to a namespace's pods is echoed back (201).  Every request is appended to ``--log`` as one JSON line
(method, path, headers, the client certificate's CN), so a test can see what reached it.

``--metrics`` holds ``{"nodes": {name: {"cpu": q, "memory": q}},
"pods": {namespace: {pod: {container: {"cpu": q, "memory": q}}}}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twisted.internet import reactor, ssl
from twisted.web import resource, server

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
GV = f"{GROUP}/{VERSION}"
STAMP = "2026-01-01T00:00:00Z"
Obj = dict[str, Any]

RESOURCES = [
    {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
    {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]},
]


def _usage_schema() -> Obj:
    return {"type": "object", "description": "The memory and CPU usage.",
            "additionalProperties": {"type": "string", "description": "A quantity."}}


def _kind_schema(kind: str, desc: str, extra: Obj) -> Obj:
    return {"description": desc, "type": "object",
            "properties": {"apiVersion": {"type": "string", "description": "APIVersion of the object."},
                           "kind": {"type": "string", "description": "Kind of the object."},
                           "metadata": {"type": "object", "description": "Standard object metadata."},
                           "timestamp": {"type": "string", "description": "When the metrics were read."},
                           "window": {"type": "string", "description": "The interval the usage was computed over."},
                           **extra},
            "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": kind}]}


SCHEMAS = {
    "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics": _kind_schema(
        "NodeMetrics", "NodeMetrics sets resource usage metrics of a node.", {"usage": _usage_schema()}),
    "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics": _kind_schema(
        "PodMetrics", "PodMetrics sets resource usage metrics of a pod.",
        {"containers": {"type": "array", "description": "Metrics for all containers, collected in one window.",
                        "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                                   "usage": _usage_schema()}}}}),
}


def openapi_v2() -> Obj:
    defs = {k: dict(s) for k, s in SCHEMAS.items()}
    ok = {"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"}}
    return {"swagger": "2.0", "info": {"title": "metrics-server", "version": "v0.7.2"},
            "paths": {f"/apis/{GV}/nodes/{{name}}": {"get": {"operationId": "readMetricsV1beta1NodeMetrics",
                                                             "responses": {"200": ok}}}},
            "definitions": defs}


def openapi_v3() -> Obj:
    schemas = {}
    for name, s in SCHEMAS.items():
        schemas[name] = json.loads(json.dumps(s).replace("#/definitions/", "#/components/schemas/"))
    return {"openapi": "3.0.0", "info": {"title": "metrics-server", "version": "v0.7.2"},
            "paths": {f"/apis/{GV}/nodes/{{name}}": {"get": {
                "operationId": "readMetricsV1beta1NodeMetrics", "responses": {"200": {"description": "OK"}},
                "x-kubernetes-group-version-kind": {"group": GROUP, "version": VERSION, "kind": "NodeMetrics"}}},
                f"/apis/{GV}/namespaces/{{namespace}}/pods/{{name}}": {"get": {
                    "operationId": "readMetricsV1beta1NamespacedPodMetrics",
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-group-version-kind": {"group": GROUP, "version": VERSION, "kind": "PodMetrics"}}}},
            "components": {"schemas": schemas}}


class Extension(resource.Resource):
    isLeaf = True

    def __init__(self, metrics_file: str, log_file: str) -> None:
        super().__init__()
        self.metrics_file = metrics_file
        self.log_file = log_file

    def _metrics(self) -> Obj:
        with open(self.metrics_file) as f:
            return json.load(f)  # type: ignore[no-any-return]

    def _log(self, request: Any) -> None:
        cn = ""
        peer = request.transport.getPeerCertificate() if hasattr(request.transport, "getPeerCertificate") else None
        if peer is not None:
            cn = peer.get_subject().CN or ""
        headers: dict[str, list[str]] = {}
        for name, values in request.requestHeaders.getAllRawHeaders():
            headers[name.decode().lower()] = [v.decode("utf-8", "replace") for v in values]
        entry = {"method": request.method.decode(), "uri": request.uri.decode("utf-8", "replace"),
                 "headers": headers, "client_cn": cn}
        with open(self.log_file, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def _json(self, request: Any, code: int, obj: Obj, ctype: str = "application/json") -> bytes:
        request.setResponseCode(code)
        request.setHeader(b"content-type", ctype.encode())
        return json.dumps(obj).encode()

    def _not_found(self, request: Any, what: str, name: str) -> bytes:
        return self._json(request, 404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                         "message": f'{what} "{name}" not found', "reason": "NotFound",
                                         "details": {"name": name, "group": GROUP, "kind": what}, "code": 404})

    def render(self, request: Any) -> Any:
        self._log(request)
        path = request.path.decode()
        accept = (request.getHeader(b"accept") or b"").decode()
        parts = [p for p in path.split("/") if p]
        if path == "/apis":
            if "as=APIGroupDiscoveryList" in accept and "v=v2" in accept:
                return self._json(request, 200, self._aggregated(),
                                  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            return self._json(request, 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group()]})
        if path == f"/apis/{GROUP}":
            return self._json(request, 200, {"kind": "APIGroup", "apiVersion": "v1", **self._group()})
        if path == f"/apis/{GV}":
            return self._json(request, 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GV,
                                             "resources": RESOURCES})
        if path == "/openapi/v2":
            return self._json(request, 200, openapi_v2())
        if path == "/openapi/v3":
            return self._json(request, 200, {"paths": {f"apis/{GV}": {
                "serverRelativeURL": f"/openapi/v3/apis/{GV}?hash=ABC123"}}})
        if path == f"/openapi/v3/apis/{GV}":
            return self._json(request, 200, openapi_v3())
        if path in ("/healthz", "/readyz", "/livez"):
            request.setHeader(b"content-type", b"text/plain")
            return b"ok"
        if parts[:3] == ["apis", GROUP, VERSION]:
            return self._serve(request, parts[3:])
        return self._json(request, 404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                         "message": "the server could not find the requested resource",
                                         "reason": "NotFound", "code": 404})

    def _group(self) -> Obj:
        v = {"groupVersion": GV, "version": VERSION}
        return {"name": GROUP, "versions": [v], "preferredVersion": v}

    def _aggregated(self) -> Obj:
        res = [{"resource": r["name"], "responseKind": {"group": "", "version": "", "kind": r["kind"]},
                "scope": "Namespaced" if r["namespaced"] else "Cluster", "singularResource": "",
                "verbs": r["verbs"]} for r in RESOURCES]
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": [{"metadata": {"name": GROUP, "creationTimestamp": None},
                           "versions": [{"version": VERSION, "resources": res, "freshness": "Current"}]}]}

    def _node(self, name: str, usage: Obj) -> Obj:
        return {"kind": "NodeMetrics", "apiVersion": GV,
                "metadata": {"name": name, "creationTimestamp": STAMP, "labels": {}},
                "timestamp": STAMP, "window": "10s", "usage": usage}

    def _pod(self, ns: str, name: str, containers: Obj) -> Obj:
        return {"kind": "PodMetrics", "apiVersion": GV,
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": STAMP, "labels": {}},
                "timestamp": STAMP, "window": "10s",
                "containers": [{"name": c, "usage": u} for c, u in sorted(containers.items())]}

    def _serve(self, request: Any, rest: list[str]) -> Any:
        m = self._metrics()
        args = request.args
        if rest == ["nodes"] and args.get(b"watch", [b""])[0] in (b"true", b"1"):
            return self._watch(request, m)
        if rest == ["nodes"]:
            items = [self._node(n, u) for n, u in sorted(m.get("nodes", {}).items())]
            return self._json(request, 200, {"kind": "NodeMetricsList", "apiVersion": GV, "metadata": {},
                                             "items": items})
        if len(rest) == 2 and rest[0] == "nodes":
            usage = m.get("nodes", {}).get(rest[1])
            if usage is None:
                return self._not_found(request, "nodemetrics", rest[1])
            return self._json(request, 200, self._node(rest[1], usage))
        pods = m.get("pods", {})
        if rest == ["pods"]:
            items = [self._pod(ns, p, c) for ns, ps in sorted(pods.items()) for p, c in sorted(ps.items())]
            return self._json(request, 200, {"kind": "PodMetricsList", "apiVersion": GV, "metadata": {},
                                             "items": items})
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] == "pods":
            ns = rest[1]
            if request.method == b"POST" and len(rest) == 3:  # a test hook: the body as received
                body = request.content.read()
                return self._json(request, 201, {"kind": "Echo", "length": len(body), "body": body.decode()})
            if len(rest) == 3:
                items = [self._pod(ns, p, c) for p, c in sorted(pods.get(ns, {}).items())]
                return self._json(request, 200, {"kind": "PodMetricsList", "apiVersion": GV, "metadata": {},
                                                 "items": items})
            if rest[3] == "redirect-me":
                request.setResponseCode(302)
                request.setHeader(b"location", b"https://example.invalid/elsewhere")
                return b""
            containers = pods.get(ns, {}).get(rest[3])
            if containers is None:
                return self._not_found(request, "podmetrics", rest[3])
            return self._json(request, 200, self._pod(ns, rest[3], containers))
        return self._json(request, 404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                         "message": "the server could not find the requested resource",
                                         "reason": "NotFound", "code": 404})

    def _watch(self, request: Any, m: Obj) -> Any:
        """One ADDED event at once, a MODIFIED a second later, then the stream ends."""
        request.setHeader(b"content-type", b"application/json")
        names = sorted(m.get("nodes", {}))
        first = names[0] if names else "none"
        usage = m.get("nodes", {}).get(first, {})
        request.write(json.dumps({"type": "ADDED", "object": self._node(first, usage)}).encode() + b"\n")

        def later() -> None:
            if not request.finished and not request._disconnected:
                request.write(json.dumps({"type": "MODIFIED", "object": self._node(first, usage)}).encode() + b"\n")
                request.finish()

        reactor.callLater(1.0, later)  # type: ignore[attr-defined]
        return server.NOT_DONE_YET


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    for flag in ("address", "cert", "key", "client-ca", "metrics", "log"):
        p.add_argument(f"--{flag}", required=True)
    p.add_argument("--port", type=int, default=443)
    a = p.parse_args(argv)
    with open(a.cert, "rb") as f:
        cert_pem = f.read()
    with open(a.key, "rb") as f:
        key_pem = f.read()
    with open(a.client_ca, "rb") as f:
        ca = ssl.Certificate.loadPEM(f.read())
    pair = ssl.PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
    opts = ssl.CertificateOptions(privateKey=pair.privateKey.original, certificate=pair.original,
                                  verify=True, caCerts=[ca.original], requireCertificate=True)
    site = server.Site(Extension(a.metrics, a.log))
    site.displayTracebacks = False
    reactor.listenSSL(a.port, site, opts, interface=a.address)  # type: ignore[attr-defined]
    print("listening", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv[1:])
