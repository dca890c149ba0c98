"""Real kubectl 1.33 against a minimal loopback server that serves discovery, our OpenAPI v3
documents and one pod, and applies PATCH bodies with kubeapi.registry.patch.

It checks what a user sees: kubectl accepts our v3 documents (explain, the fieldValidation
probe), and the patches it computes (label, annotate, apply, patch) land as expected.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson
from twisted.internet import defer, reactor
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from kubeapi.errors import StatusError
from kubeapi.openapi import OpenAPIDocs
from kubeapi.registry.patch import apply_patch
from tests.openapi.fixtures import catalog, pod_schema

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
POD_PATH = "/api/v1/namespaces/default/pods/web"


def _pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "1",
                         "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1"},
                                    {"name": "side", "image": "busybox"}]}}


class _Server(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.docs = OpenAPIDocs(catalog())
        self.pod = _pod()
        self.patches: list[tuple[str, dict[str, list[str]], bytes]] = []

    def _json(self, request: Request, code: int, body: Any) -> bytes:
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", b"application/json")
        return orjson.dumps(body)

    def render(self, request: Request) -> bytes:
        url = urlparse(request.uri.decode())
        path, method = url.path.rstrip("/") or "/", request.method.decode()
        if path == "/api":
            return self._json(request, 200, {"kind": "APIVersions", "versions": ["v1"],
                                             "serverAddressByClientCIDRs": []})
        if path == "/apis":
            return self._json(request, 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/api/v1":
            return self._json(request, 200, {
                "kind": "APIResourceList", "groupVersion": "v1", "resources": [
                    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                     "shortNames": ["po"],
                     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
                    {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
                     "verbs": ["get", "patch", "update"]}]})
        if path == "/openapi/v3":
            return self._json(request, 200, orjson.loads(self.docs.v3_index()))
        if path.startswith("/openapi/v3/"):
            found = self.docs.v3(path.removeprefix("/openapi/v3/"))
            if found is None:
                return self._json(request, 404, {})
            request.setHeader(b"Content-Type", b"application/json")
            return found[0]
        if path == POD_PATH and method == "GET":
            return self._json(request, 200, self.pod)
        if path == POD_PATH and method == "PATCH":
            assert request.content is not None
            body = request.content.read()
            ctype = request.getHeader("content-type") or ""
            self.patches.append((ctype, parse_qs(url.query), body))
            try:
                new = apply_patch(copy.deepcopy(self.pod), ctype, body, pod_schema())
            except StatusError as e:
                return self._json(request, e.code, e.status())
            new["metadata"]["resourceVersion"] = str(int(self.pod["metadata"]["resourceVersion"]) + 1)
            self.pod = new
            return self._json(request, 200, self.pod)
        return self._json(request, 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                         "reason": "NotFound", "code": 404, "message": "not found"})


class KubectlTests(unittest.TestCase):
    timeout = 60

    def setUp(self) -> None:
        if not os.path.exists(KUBECTL):
            raise unittest.SkipTest("kubectl 1.33 is not installed")
        self.server = _Server()
        tcp: Any = reactor
        self.port: Any = tcp.listenTCP(0, Site(self.server), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.home = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.home, True)

    async def kubectl(self, *args: str, stdin: bytes | None = None) -> tuple[str, str, int]:
        addr: Any = self.port.getHost()
        argv = ["--server", f"http://127.0.0.1:{addr.port}", "--cache-dir", os.path.join(self.home, "c"),
                "-n", "default", *args]
        env = {"HOME": self.home, "PATH": "/usr/bin:/bin", "KUBECONFIG": os.path.join(self.home, "none")}
        if stdin is not None:
            path = os.path.join(self.home, "in.yaml")
            with open(path, "wb") as f:  # test setup, not a request path
                f.write(stdin)
            argv = [a if a != "-" else path for a in argv]
        out, err, code = await getProcessOutputAndValue(KUBECTL, argv, env=env)
        return out.decode(), err.decode(), code

    def test_label_annotate_and_patches(self) -> defer.Deferred[None]:
        async def go() -> None:
            out, err, code = await self.kubectl("label", "pod", "web", "tier=fe", "app-")
            self.assertEqual(code, 0, err)
            self.assertEqual(self.server.pod["metadata"]["labels"], {"tier": "fe"})
            self.assertEqual(self.server.patches[-1][0], "application/merge-patch+json")
            out, err, code = await self.kubectl("annotate", "pod", "web", "note=hi")
            self.assertEqual(code, 0, err)
            self.assertEqual(self.server.pod["metadata"]["annotations"], {"note": "hi"})
            out, err, code = await self.kubectl(
                "patch", "pod", "web", "-p", '{"spec":{"containers":[{"name":"side","image":"busybox:2"}]}}')
            self.assertEqual(code, 0, err)
            self.assertEqual(self.server.patches[-1][0], "application/strategic-merge-patch+json")
            self.assertEqual([c["image"] for c in self.server.pod["spec"]["containers"]],
                             ["nginx:1", "busybox:2"])
            out, err, code = await self.kubectl("patch", "pod", "web", "--type=json", "-p",
                                                '[{"op":"test","path":"/metadata/name","value":"x"}]')
            self.assertNotEqual(code, 0)
            self.assertIn("the server rejected our request due to an error in our request", err)
            out, err, code = await self.kubectl("patch", "pod", "web", "--type=merge", "-p", "{bad")
            self.assertNotEqual(code, 0)
        return defer.ensureDeferred(go())

    def test_apply_uses_field_validation_and_schema(self) -> defer.Deferred[None]:
        async def go() -> None:
            manifest = (b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    app: web\n"
                        b"spec:\n  containers:\n  - name: app\n    image: nginx:2\n")
            out, err, code = await self.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
            self.assertEqual(code, 0, err)
            ctype, query, _ = self.server.patches[-1]
            self.assertEqual(ctype, "application/apply-patch+yaml")
            # kubectl found fieldValidation on our PATCH operation, so it asks the server.
            self.assertEqual(query.get("fieldValidation"), ["Strict"])
            self.assertEqual(self.server.pod["spec"]["containers"][0]["image"], "nginx:2")
            # Client-side apply computes a strategic merge patch from our schema's patch markers:
            # dropping the container "side" from the manifest must delete only that item.
            manifest = (b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
                        b"spec:\n  containers:\n  - name: app\n    image: nginx:3\n  - name: side\n"
                        b"    image: busybox\n")
            out, err, code = await self.kubectl("apply", "-f", "-", stdin=manifest)
            self.assertEqual(code, 0, err)
            manifest = (b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
                        b"spec:\n  containers:\n  - name: app\n    image: nginx:4\n")
            out, err, code = await self.kubectl("apply", "-f", "-", stdin=manifest)
            self.assertEqual(code, 0, err)
            ctype, _, body = self.server.patches[-1]
            self.assertEqual(ctype, "application/strategic-merge-patch+json")
            self.assertIn(b'"$patch":"delete"', body)
            self.assertEqual(self.server.pod["spec"]["containers"], [{"name": "app", "image": "nginx:4"}])
            out, err, code = await self.kubectl("explain", "pods.spec.containers")
            self.assertEqual(code, 0, err)
            self.assertIn("image", out)
        return defer.ensureDeferred(go())
