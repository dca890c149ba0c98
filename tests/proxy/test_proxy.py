"""nodes/pods/services .../proxy against the fake kubelet in a TestHost: what reaches the
backend, what the caller gets back, and upstream's refusals."""

from __future__ import annotations

from typing import Any

from tests.proxy.support import NS, KubeletCase

Obj = dict[str, Any]


class NodeProxy(KubeletCase):
    async def test_healthz_through_the_kubelet_with_our_client_certificate(self) -> None:
        await self.setup()
        code, body, _ = await self.call("GET", "/api/v1/nodes/n1/proxy/healthz")
        self.assertEqual((code, body), (200, "ok"))
        seen = (await self.kubelet_requests())[-2]  # the last one is our own /debug/requests
        self.assertEqual(seen["path"], "/healthz")
        self.assertEqual(seen["clientCN"], "kube-apiserver-kubelet-client")

    async def test_credentials_and_hop_by_hop_headers_stay_behind(self) -> None:
        await self.setup()
        code, body, _ = await self.call("GET", "/api/v1/nodes/n1/proxy/echo/x?a=1&b=2", headers={
            "Authorization": "Bearer secret-token", "Impersonate-User": "someone", "Keep-Alive": "timeout=5",
            "X-Custom": "kept", "Connection": "X-Dropped", "X-Dropped": "1"})
        self.assertEqual(code, 200, body)

        echo = body
        h = echo["headers"]
        self.assertNotIn("authorization", h)
        self.assertNotIn("impersonate-user", h)
        self.assertNotIn("keep-alive", h)
        self.assertNotIn("x-dropped", h)
        self.assertEqual(h["x-custom"], ["kept"])
        self.assertEqual(h["x-forwarded-for"], ["127.0.0.1"])
        self.assertEqual(h["x-forwarded-uri"], ["/api/v1/nodes/n1/proxy/echo/x"])
        self.assertEqual(echo["path"], "/echo/x")
        self.assertEqual(echo["query"], {"a": ["1"], "b": ["2"]})

    async def test_post_body_is_forwarded(self) -> None:
        await self.setup()
        import base64

        code, body, _ = await self.call("POST", "/api/v1/nodes/n1/proxy/echo", raw=b"hello kubelet")
        self.assertEqual(code, 200, body)

        echo = body
        self.assertEqual((echo["method"], base64.b64decode(echo["body"])), ("POST", b"hello kubelet"))

    async def test_root_without_slash_redirects(self) -> None:
        await self.setup()
        code, headers = await self.get_no_redirect("/api/v1/nodes/n1/proxy?x=1")
        self.assertEqual(code, 301)
        self.assertEqual(headers.getRawHeaders("location"), ["/api/v1/nodes/n1/proxy/?x=1"])

    async def test_backend_redirect_is_passed_back_rewritten_not_followed(self) -> None:
        await self.setup()
        code, headers = await self.get_no_redirect("/api/v1/nodes/n1/proxy/redirect")
        self.assertEqual(code, 302)
        self.assertEqual(headers.getRawHeaders("location"), ["/api/v1/nodes/n1/proxy/landed"])

    async def test_missing_node(self) -> None:
        await self.setup()
        code, body, _ = await self.call("GET", "/api/v1/nodes/nosuch/proxy/healthz")
        self.assertEqual((code, body["reason"], body["message"]), (404, "NotFound", 'nodes "nosuch" not found'))

    async def test_loopback_and_link_local_addresses_are_refused(self) -> None:
        await self.setup()
        await self.make_node("lo", address="127.0.0.1")
        await self.make_node("ll", address="169.254.10.1")
        for name in ("lo", "ll"):
            code, body, _ = await self.call("GET", f"/api/v1/nodes/{name}/proxy/healthz")
            self.assertEqual((code, body["reason"], body["message"]), (400, "BadRequest", "address not allowed"))

    async def test_no_preferred_address(self) -> None:
        await self.setup()
        await self.make_node("ext", address_type="ExternalIP")
        self.server.kubelet.preferred_address_types = ("InternalIP",)
        code, body, _ = await self.call("GET", "/api/v1/nodes/ext/proxy/healthz")
        self.assertEqual(code, 500)
        self.assertEqual(body["message"],
                         f"no preferred addresses found; known addresses: [{{ExternalIP {self.kubelet.address}}}]")

    async def test_unreachable_kubelet(self) -> None:
        await self.setup()
        await self.make_node("down", port=10259)
        code, body, _ = await self.call("GET", "/api/v1/nodes/down/proxy/healthz")
        self.assertEqual((code, body["reason"]), (503, "ServiceUnavailable"))
        self.assertEqual(body["message"], f"error trying to reach service: dial tcp {self.kubelet.address}:10259: "
                                          "connect: connection refused")

    async def test_invalid_node_request(self) -> None:
        await self.setup()
        code, body, _ = await self.call("GET", "/api/v1/nodes/a:b:c:d/proxy/")
        self.assertEqual((code, body["message"]), (400, 'invalid node request "a:b:c:d"'))

    async def test_unverified_kubelet_certificate_is_refused_with_a_ca(self) -> None:
        await self.setup()
        from tests.support.tls import generate_self_signed

        other, _ = generate_self_signed(["elsewhere"])
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".crt", delete=False) as f:
            f.write(other)
        self.addCleanup(__import__("os").unlink, f.name)
        self.server.kubelet.certificate_authority = f.name
        self.server.kubelet.load()
        code, body, _ = await self.call("GET", "/api/v1/nodes/n1/proxy/healthz")
        self.assertEqual(code, 503, body)
        self.assertIn("error trying to reach service: tls: failed to verify certificate", body["message"])

    async def test_legacy_proxy_path_is_gone(self) -> None:
        await self.setup()
        await self.make_pod("p")
        code, body, _ = await self.call("GET", "/api/v1/proxy/namespaces/default/pods/p/healthz")
        self.assertEqual((code, body["reason"]), (404, "NotFound"))


class NoCA(KubeletCase):
    async def test_without_a_ca_kubelet_certificates_are_not_verified(self) -> None:
        await self.setup(with_ca=False)
        code, body, _ = await self.call("GET", "/api/v1/nodes/n1/proxy/healthz")
        self.assertEqual((code, body), (200, "ok"))


class PodAndServiceProxy(KubeletCase):
    async def test_pod_proxy_scheme_and_port_without_the_kubelet_certificate(self) -> None:
        await self.setup()
        await self.make_pod("p")
        code, body, _ = await self.call("GET", f"{NS}/pods/https:p:10250/proxy/echo/here")
        self.assertEqual(code, 200, body)

        echo = body
        self.assertEqual((echo["path"], echo["clientCN"]), ("/echo/here", ""))

    async def test_pod_proxy_uses_the_first_declared_port(self) -> None:
        await self.setup()
        await self.make_pod("p", ports=(10259,))
        code, body, _ = await self.call("GET", f"{NS}/pods/p/proxy/")
        self.assertEqual(code, 503)
        self.assertIn(f"dial tcp {self.kubelet.address}:10259: connect: connection refused", body["message"])

    async def test_pod_without_ip(self) -> None:
        await self.setup()
        await self.make_pod("noip", ip=None)
        code, body, _ = await self.call("GET", f"{NS}/pods/noip/proxy/")
        self.assertEqual((code, body["message"]), (400, "address not allowed"))

    async def test_missing_pod(self) -> None:
        await self.setup()
        code, body, _ = await self.call("GET", f"{NS}/pods/nosuch/proxy/")
        self.assertEqual((code, body["message"]), (404, 'pods "nosuch" not found'))

    async def test_service_without_endpoints(self) -> None:
        await self.setup()
        svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 10250}]}}
        code, body, _ = await self.call("POST", f"{NS}/services", svc)
        self.assertEqual(code, 201, body)
        code, body, _ = await self.call("GET", f"{NS}/services/s/proxy/")
        self.assertEqual(code, 404)  # no Endpoints object at all: upstream's NotFound for it
        self.assertEqual(body["message"], 'endpoints "s" not found')
        await self.call("POST", f"{NS}/endpoints", {"metadata": {"name": "s"}})
        code, body, _ = await self.call("GET", f"{NS}/services/s/proxy/")
        self.assertEqual((code, body["reason"], body["message"]),
                         (503, "ServiceUnavailable", 'no endpoints available for service "s"'))
        code, body, _ = await self.call("GET", f"{NS}/services/s:444/proxy/")
        self.assertEqual((code, body["message"]), (503, 'no service port 444 found for service "s"'))

    async def test_service_through_its_endpoints_by_port_name_and_number(self) -> None:
        await self.setup()
        await self.make_pod("p")
        svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 10250}]}}
        await self.call("POST", f"{NS}/services", svc)
        eps = {"metadata": {"name": "s"}, "subsets": [{
            "addresses": [{"ip": self.kubelet.address, "targetRef": {"kind": "Pod", "namespace": "default",
                                                                     "name": "p"}}],
            "ports": [{"name": "https", "port": 10250}]}]}
        code, body, _ = await self.call("POST", f"{NS}/endpoints", eps)
        self.assertEqual(code, 201, body)
        for ident in ("https:s:https", "https:s:443"):
            code, body, _ = await self.call("GET", f"{NS}/services/{ident}/proxy/echo/svc")
            self.assertEqual(code, 200, (ident, body))

            self.assertEqual(body["path"], "/echo/svc")
        # An address no pod of this namespace holds is never used.
        eps["subsets"][0]["addresses"][0]["targetRef"]["name"] = "gone"  # type: ignore[index]
        code, cur, _ = await self.call("GET", f"{NS}/endpoints/s")
        eps["metadata"] = cur["metadata"]
        await self.call("PUT", f"{NS}/endpoints/s", eps)
        code, body, _ = await self.call("GET", f"{NS}/services/https:s:https/proxy/")
        self.assertEqual((code, body["message"]), (503, 'no endpoints available for service "https:s:https"'))
