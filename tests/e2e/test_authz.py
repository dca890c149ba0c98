"""Authorization with real kubectl: Node,RBAC on the real server, identities by impersonation
from the admin on the insecure port (`kubectl --as`), as a cluster operator would check them."""

from __future__ import annotations

import atexit
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from twisted.trial import unittest

from tests.e2e.harness import ServerProcess

_server: ServerProcess | None = None


def server() -> ServerProcess:
    global _server
    if _server is None:
        s = ServerProcess("--authorization-mode=Node,RBAC")
        s.start()
        atexit.register(s.cleanup)
        _server = s
    return _server


def apply(s: ServerProcess, *objs: dict[str, Any]) -> None:
    s.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def role(ns: str, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": ns}, "rules": rules}


def binding(ns: str, name: str, user: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "Role", "name": name, "apiGroup": "rbac.authorization.k8s.io"}}


_prepared = False


def prepared() -> ServerProcess:
    """The server with the namespaces and alice's Role in team-a (made once; trial has no setUpClass)."""
    global _prepared
    s = server()
    if not _prepared:
        for ns in ("team-a", "team-b", "nodes-x"):
            s.kubectl("create", "namespace", ns)
        apply(s, role("team-a", "dev", [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
             "verbs": ["create", "get"]}]), binding("team-a", "dev", "alice"))
        _prepared = True
    return s


class KubectlAuthz(unittest.TestCase):
    def setUp(self) -> None:
        self.s = prepared()

    def test_role_allows_in_one_namespace_only(self) -> None:
        self.s.kubectl("create", "configmap", "c1", "-n", "team-a", "--as=alice")
        out = self.s.kubectl("get", "configmaps", "-n", "team-a", "--as=alice").stdout
        self.assertIn("c1", out)
        p = self.s.kubectl("get", "configmaps", "-n", "team-b", "--as=alice", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.strip(), 'Error from server (Forbidden): configmaps is forbidden: User "alice" '
                                           'cannot list resource "configmaps" in API group "" in the namespace '
                                           '"team-b"')
        self.assertEqual(self.s.kubectl("auth", "can-i", "list", "configmaps", "-n", "team-a",
                                        "--as=alice").stdout.strip(), "yes")
        p = self.s.kubectl("auth", "can-i", "list", "configmaps", "-n", "team-b", "--as=alice", check=False)
        self.assertEqual((p.returncode, p.stdout.strip()), (1, "no"))
        p = self.s.kubectl("auth", "can-i", "create", "pods", "--as=alice", "-n", "team-a", check=False)
        self.assertEqual(p.stdout.strip(), "no")
        self.assertEqual(self.s.kubectl("auth", "can-i", "create", "pods", "-n", "team-a").stdout.strip(), "yes")

    def test_can_i_list(self) -> None:
        out = self.s.kubectl("auth", "can-i", "--list", "-n", "team-a", "--as=alice").stdout
        lines = [" ".join(line.split()) for line in out.splitlines()]
        self.assertEqual(lines[0], "Resources Non-Resource URLs Resource Names Verbs")
        self.assertIn("configmaps [] [] [get list create]", lines)
        self.assertIn("roles.rbac.authorization.k8s.io [] [] [create get]", lines)
        self.assertIn("selfsubjectaccessreviews.authorization.k8s.io [] [] [create]", lines)
        self.assertIn("[/healthz] [] [get]", lines)
        out = self.s.kubectl("auth", "can-i", "--list", "-n", "team-b", "--as=alice").stdout
        self.assertNotIn("configmaps", out)

    def test_escalation_refused(self) -> None:
        p = self.s.kubectl("create", "role", "peek", "--verb=get", "--resource=secrets", "-n", "team-a",
                           "--as=alice", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.strip(),
                         'Error from server (Forbidden): roles.rbac.authorization.k8s.io "peek" is forbidden: '
                         'user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions '
                         'not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')
        p = self.s.kubectl("create", "rolebinding", "me-admin", "--clusterrole=admin", "--user=alice",
                           "-n", "team-a", "--as=alice", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('rolebindings.rbac.authorization.k8s.io "me-admin" is forbidden: user "alice"', p.stderr)
        # Within what she holds, alice may delegate.
        self.s.kubectl("create", "role", "cm-read", "--verb=get", "--resource=configmaps", "-n", "team-a",
                       "--as=alice")

    def test_kubelet_reads_only_its_pods_secrets(self) -> None:
        s = self.s
        for name in ("s1", "s2"):
            s.kubectl("create", "secret", "generic", name, "-n", "nodes-x", f"--from-literal=k={name}")
        for pod, node, secret in (("p1", "n1", "s1"), ("p2", "n2", "s2")):
            apply(s, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": "nodes-x"},
                      "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}],
                               "volumes": [{"name": "v", "secret": {"secretName": secret}}]}})
        kubelet = ["--as=system:node:n1", "--as-group=system:nodes"]
        out = s.kubectl("get", "secret", "s1", "-n", "nodes-x", "-o", "name", *kubelet).stdout
        self.assertEqual(out.strip(), "secret/s1")
        p = s.kubectl("get", "secret", "s2", "-n", "nodes-x", *kubelet, check=False)
        self.assertEqual(p.stderr.strip(), 'Error from server (Forbidden): secrets "s2" is forbidden: User '
                                           '"system:node:n1" cannot get resource "secrets" in API group "" in the '
                                           "namespace \"nodes-x\": no relationship found between node 'n1' and "
                                           "this object")
        p = s.kubectl("get", "nodes", *kubelet, check=False)
        self.assertIn("node 'n1' cannot read all nodes, only its own Node object", p.stderr)
        out = s.kubectl("get", "pods", "-n", "nodes-x", "--field-selector=spec.nodeName=n1", "-o", "name",
                        *kubelet).stdout
        self.assertEqual(out.split(), ["pod/p1"])


class ClientCertificateIdentities(unittest.TestCase):
    """The same checks with identities from x509 client certificates over TLS (no impersonation)."""

    def test_kubectl_with_client_certs(self) -> None:
        import os

        import yaml
        from cryptography.hazmat.primitives import serialization

        from tests.auth.test_auth import make_cert

        tmp = os.path.abspath(self.mktemp())
        os.makedirs(tmp)
        ca = make_cert("test-ca", ca=True)
        ca_path = os.path.join(tmp, "ca.crt")
        with open(ca_path, "wb") as f:
            f.write(ca[0].public_bytes(serialization.Encoding.PEM))
        s = ServerProcess("--authorization-mode=Node,RBAC", f"--client-ca-file={ca_path}")
        s.start()
        self.addCleanup(s.cleanup)
        users = {"alice": make_cert("alice", ("devs",), issuer=ca),
                 "kubelet": make_cert("system:node:n1", ("system:nodes",), issuer=ca)}
        with open(s.kubeconfig) as f:
            cfg = yaml.safe_load(f)
        for name, (cert, key) in users.items():
            cert_path, key_path = os.path.join(tmp, f"{name}.crt"), os.path.join(tmp, f"{name}.key")
            with open(cert_path, "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
            with open(key_path, "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
            cfg["users"].append({"name": name, "user": {"client-certificate": cert_path, "client-key": key_path}})
            cfg["contexts"].append({"name": name, "context": {"cluster": "tls", "user": name}})
        with open(s.kubeconfig, "w") as f:
            yaml.safe_dump(cfg, f)
        s.kubectl("create", "namespace", "web")
        apply(s, role("web", "dev", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]),
              {**binding("web", "dev", "x"), "subjects": [{"kind": "Group", "name": "devs",
                                                            "apiGroup": "rbac.authorization.k8s.io"}]})
        self.assertEqual(s.kubectl("get", "configmaps", "-n", "web", context="alice").returncode, 0)
        p = s.kubectl("get", "configmaps", "-n", "default", context="alice", check=False)
        self.assertEqual(p.stderr.strip(), 'Error from server (Forbidden): configmaps is forbidden: User "alice" '
                                           'cannot list resource "configmaps" in API group "" in the namespace '
                                           '"default"')
        self.assertEqual(s.kubectl("auth", "can-i", "list", "configmaps", "-n", "web",
                                   context="alice").stdout.strip(), "yes")
        s.kubectl("create", "secret", "generic", "other", "-n", "web", "--from-literal=k=v")
        p = s.kubectl("get", "secret", "other", "-n", "web", context="kubelet", check=False)
        self.assertIn("no relationship found between node 'n1' and this object", p.stderr)
        # Anonymous gets only the public-info paths.
        tls = ssl.create_default_context(cafile=os.path.join(s.cert_dir, "ca.crt"))
        with urllib.request.urlopen(s.secure_url + "/version", context=tls, timeout=10) as r:
            self.assertEqual(r.status, 200)
        with self.assertRaises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(s.secure_url + "/api", context=tls, timeout=10)
        self.assertEqual(denied.exception.code, 403)
        self.assertEqual(json.loads(denied.exception.read())["message"],
                         'forbidden: User "system:anonymous" cannot get path "/api"')
