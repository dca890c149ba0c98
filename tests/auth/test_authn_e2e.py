"""Authentication end to end: the real server, real kubectl, curl and the Python client,
over TLS with full verification, for every authenticator, with the negative cases."""

from __future__ import annotations

import base64
import datetime
import json
import os
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.trial import unittest

from kubeapi.auth.authn import jwt, pki
from kubeapi.auth.authn.serviceaccount import TokenIssuer
from tests.auth import e2e_support as sup
from tests.e2e.harness import REPO, ServerProcess, kubectl_binary
from tests.support.net import free_port

TOKEN = "s3cr3t-static-token"
BOOT_ID, BOOT_SECRET = "abcdef", "0123456789abcdef"


class _World:
    """Server A and what its flags point at (made once per module)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="kubeapi-authn-")
        self.front_ca = pki.make_ca("front-proxy-ca")
        self.front_ca_file = os.path.join(self.dir, "front-proxy-ca.crt")
        with open(self.front_ca_file, "wb") as f:
            f.write(self.front_ca[0].public_bytes(serialization.Encoding.PEM))
        self.front_ok = sup.client_cert(self.dir, "front-proxy-client", self.front_ca, "front-proxy-client")
        self.front_bad = sup.client_cert(self.dir, "front-other", self.front_ca, "someone-else")
        tokens = os.path.join(self.dir, "tokens.csv")
        with open(tokens, "w") as f:
            f.write(f'{TOKEN},carol,uid-carol,"devs,ops"\n')
        self.webhook = sup.TokenWebhook(self.dir, {"webhook-token": "hooked-user"})
        self.server = ServerProcess(
            f"--token-auth-file={tokens}", "--enable-bootstrap-token-auth",
            f"--requestheader-client-ca-file={self.front_ca_file}",
            "--requestheader-allowed-names=front-proxy-client", "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--authentication-token-webhook-config-file={self.webhook.config}",
            "--authentication-token-webhook-cache-ttl=1h")
        self.server.start()
        self.certs = self.server.cert_dir
        self.ca_file = os.path.join(self.certs, "ca.crt")
        self.admin = (os.path.join(self.certs, "admin.crt"), os.path.join(self.certs, "admin.key"))
        self.ca = sup.load_ca(self.certs)
        with open(os.path.join(self.certs, "sa.key"), "rb") as f:
            self.issuer = TokenIssuer("https://kubernetes.default.svc.cluster.local",
                                      jwt.load_private_key(f.read()), ["https://kubernetes.default.svc.cluster.local"])

    def url(self, path: str) -> str:
        return self.server.secure_url + path

    def curl(self, path: str, **kw: Any) -> tuple[int, Any, int]:
        kw.setdefault("cacert", self.ca_file)
        return sup.curl(self.url(path), **kw)

    def as_admin(self, path: str, **kw: Any) -> tuple[int, Any, int]:
        return self.curl(path, cert=self.admin, **kw)

    def kubectl(self, kubeconfig: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, HOME=self.dir, KUBECONFIG=kubeconfig)
        p = subprocess.run([kubectl_binary(), *args], capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}")
        return p

    def whoami(self, kubeconfig: str) -> dict[str, Any]:
        out = self.kubectl(kubeconfig, "auth", "whoami", "-o", "json").stdout
        return json.loads(out)["status"]["userInfo"]  # type: ignore[no-any-return]

    def token_kubeconfig(self, token: str) -> str:
        return sup.kubeconfig_for(os.path.join(self.dir, f"kc-{uuid.uuid4().hex[:8]}"), self.server.secure_url,
                                  self.ca_file, token=token)

    def cleanup(self) -> None:
        self.server.cleanup()
        self.webhook.stop()


_world: _World | None = None


def world() -> _World:
    global _world
    if _world is None:
        import atexit

        _world = _World()
        atexit.register(_world.cleanup)
    return _world


class FirstStartTests(unittest.TestCase):
    def setUp(self) -> None:
        self.w = world()

    def test_files_and_modes(self) -> None:
        d = self.w.certs
        for name in ("ca.key", "apiserver.key", "sa.key", "admin.key", "kube-scheduler.key",
                     "kube-controller-manager.key", "admin.kubeconfig", "kube-scheduler.kubeconfig",
                     "kube-controller-manager.kubeconfig"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode), 0o600, name)
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(self.w.server.data_dir).st_mode), 0o700)
        kubeconfig = os.path.join(os.path.dirname(self.w.server.data_dir), "kubeconfig")
        self.assertEqual(stat.S_IMODE(os.stat(kubeconfig).st_mode), 0o600)
        self.assertIn(f"Wrote admin kubeconfig to {kubeconfig}", self.w.server.log() or open(
            self.w.server.log_path).read())
        with open(os.path.join(d, "apiserver.crt"), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = {str(n) for n in san.get_values_for_type(x509.DNSName)} | \
                {str(n) for n in san.get_values_for_type(x509.IPAddress)}
        self.assertTrue({"127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                         "kubernetes.default.svc.cluster.local", "10.0.0.1"} <= names, names)

    def test_admin_kubeconfig_with_kubectl(self) -> None:
        kubeconfig = os.path.join(os.path.dirname(self.w.server.data_dir), "kubeconfig")
        out = self.w.kubectl(kubeconfig, "get", "ns").stdout
        self.assertIn("kube-system", out)
        me = self.w.whoami(kubeconfig)
        self.assertEqual(me["username"], "kubernetes-admin")
        self.assertEqual(me["groups"], ["system:masters", "system:authenticated"])
        text = self.w.kubectl(kubeconfig, "auth", "whoami").stdout
        self.assertIn("kubernetes-admin", text)

    def test_component_identities(self) -> None:
        for base, user in (("kube-scheduler", "system:kube-scheduler"),
                           ("kube-controller-manager", "system:kube-controller-manager")):
            me = self.w.whoami(os.path.join(self.w.certs, base + ".kubeconfig"))
            self.assertEqual(me["username"], user)

    def test_anonymous_is_off_with_always_allow(self) -> None:
        code, body, _ = self.w.curl("/api")
        self.assertEqual((code, body["reason"], body["message"]), (401, "Unauthorized", "Unauthorized"))
        self.assertIn("AnonymousAuth is not allowed with the AlwaysAllow authorizer", open(
            self.w.server.log_path).read())

    def test_insecure_port_needs_nothing(self) -> None:
        code, _, body = self.w.server.raw("GET", "/api/v1/namespaces")
        self.assertEqual(code, 200)


class X509Tests(unittest.TestCase):
    def setUp(self) -> None:
        self.w = world()

    def test_curl_with_admin_cert(self) -> None:
        code, body, _ = self.w.as_admin("/api")
        self.assertEqual((code, body["kind"]), (200, "APIVersions"))
        code, body, _ = self.w.as_admin("/apis/authentication.k8s.io/v1/selfsubjectreviews", method="POST",
                                        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        self.assertEqual(code, 201)
        self.assertEqual(body["status"]["userInfo"]["username"], "kubernetes-admin")

    def test_cn_and_orgs(self) -> None:
        cert = sup.client_cert(self.w.dir, "dana", self.w.ca, "dana", ("g1", "g2"))
        kc = sup.kubeconfig_for(os.path.join(self.w.dir, "kc-dana"), self.w.server.secure_url, self.w.ca_file,
                                cert=cert)
        me = self.w.whoami(kc)
        self.assertEqual((me["username"], me["groups"]), ("dana", ["g1", "g2", "system:authenticated"]))

    def test_wrong_server_ca_fails_verification(self) -> None:
        other = pki.make_ca("other")
        path = os.path.join(self.w.dir, "other-ca.crt")
        with open(path, "wb") as f:
            f.write(other[0].public_bytes(serialization.Encoding.PEM))
        _, _, rc = self.w.curl("/api", cacert=path, cert=self.w.admin)
        self.assertEqual(rc, 60)  # curl: peer certificate cannot be authenticated with given CA
        kc = sup.kubeconfig_for(os.path.join(self.w.dir, "kc-wrongca"), self.w.server.secure_url, path,
                                cert=self.w.admin)
        p = self.w.kubectl(kc, "get", "ns", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("certificate signed by unknown authority", p.stderr)

    def test_client_cert_of_another_ca_is_401(self) -> None:
        other = pki.make_ca("other")
        cert = sup.client_cert(self.w.dir, "mallory", other, "mallory", ("system:masters",))
        code, body, _ = self.w.curl("/api", cert=cert)
        self.assertEqual((code, body["reason"]), (401, "Unauthorized"))

    def test_expired_client_cert_is_401(self) -> None:
        cert = sup.client_cert(self.w.dir, "old", self.w.ca, "old-admin", ("system:masters",), expired=True)
        code, body, _ = self.w.curl("/api", cert=cert)
        self.assertEqual((code, body["reason"]), (401, "Unauthorized"))


class TokenTests(unittest.TestCase):
    def setUp(self) -> None:
        self.w = world()

    def test_token_file(self) -> None:
        code, body, _ = self.w.curl("/api", token=TOKEN)
        self.assertEqual((code, body["kind"]), (200, "APIVersions"))
        me = self.w.whoami(self.w.token_kubeconfig(TOKEN))
        self.assertEqual(me, {"username": "carol", "uid": "uid-carol",
                              "groups": ["devs", "ops", "system:authenticated"]})

    def test_unknown_token_is_401_not_anonymous(self) -> None:
        code, body, _ = self.w.curl("/api", token="made-up")
        self.assertEqual((code, body["message"]), (401, "Unauthorized"))
        p = self.w.kubectl(self.w.token_kubeconfig("made-up"), "get", "ns", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("You must be logged in to the server", p.stderr)

    def test_bad_token_beats_a_good_certificate_never(self) -> None:
        # A valid client certificate wins even when a bad token rides along (first that answers).
        code, _, _ = self.w.curl("/api", cert=self.w.admin, token="made-up")
        self.assertEqual(code, 200)

    def test_webhook_cached(self) -> None:
        before = len(self.w.webhook.calls)
        me = self.w.whoami(self.w.token_kubeconfig("webhook-token"))
        self.assertEqual((me["username"], me["uid"]), ("hooked-user", "wh-1"))
        self.assertEqual(me["groups"], ["hooked", "system:authenticated"])
        self.assertEqual(self.w.curl("/api", token="webhook-token")[0], 200)
        self.assertEqual(len(self.w.webhook.calls) - before, 1)  # the second answer came from the cache
        self.assertEqual(self.w.webhook.calls[-1]["apiVersion"], "authentication.k8s.io/v1beta1")
        self.assertEqual(self.w.curl("/api", token="webhook-nope")[0], 401)

    def _bootstrap_secret(self, token_id: str, expiration: str) -> None:
        def b64(s: str) -> str:
            return base64.b64encode(s.encode()).decode()

        secret = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
                  "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
                  "data": {"token-id": b64(token_id), "token-secret": b64(BOOT_SECRET),
                           "expiration": b64(expiration), "usage-bootstrap-authentication": b64("true"),
                           "auth-extra-groups": b64("system:bootstrappers:kubeadm:default-node-token")}}
        code, body, _ = self.w.as_admin("/api/v1/namespaces/kube-system/secrets", method="POST", body=secret)
        self.assertEqual(code, 201, body)

    def test_bootstrap_tokens(self) -> None:
        future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        past = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._bootstrap_secret(BOOT_ID, future)
        self._bootstrap_secret("zzzzzz", past)
        me = self.w.whoami(self.w.token_kubeconfig(f"{BOOT_ID}.{BOOT_SECRET}"))
        self.assertEqual(me["username"], f"system:bootstrap:{BOOT_ID}")
        self.assertEqual(me["groups"], ["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                                        "system:authenticated"])
        self.assertEqual(self.w.curl("/api", token=f"zzzzzz.{BOOT_SECRET}")[0], 401)  # expired
        self.assertEqual(self.w.curl("/api", token=f"{BOOT_ID}.ffffffffffffffff")[0], 401)  # wrong secret


class ServiceAccountTests(unittest.TestCase):
    def setUp(self) -> None:
        self.w = world()
        self.ns = "sa-" + uuid.uuid4().hex[:8]
        self.w.server.kubectl("create", "namespace", self.ns)
        self.w.server.kubectl("-n", self.ns, "create", "serviceaccount", "robot")
        self.admin_kc = os.path.join(os.path.dirname(self.w.server.data_dir), "kubeconfig")

    def _token(self, *args: str) -> str:
        return self.w.kubectl(self.admin_kc, "-n", self.ns, "create", "token", "robot", *args).stdout.strip()

    def test_token_request_and_identity(self) -> None:
        token = self._token()
        me = self.w.whoami(self.w.token_kubeconfig(token))
        self.assertEqual(me["username"], f"system:serviceaccount:{self.ns}:robot")
        self.assertEqual(me["groups"], ["system:serviceaccounts", f"system:serviceaccounts:{self.ns}",
                                        "system:authenticated"])
        _, claims = jwt.unverified_claims(token)
        self.assertEqual(claims["iss"], "https://kubernetes.default.svc.cluster.local")
        self.assertEqual(claims["aud"], ["https://kubernetes.default.svc.cluster.local"])
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        self.assertEqual(claims["kubernetes.io"]["serviceaccount"]["name"], "robot")
        self.assertEqual(claims["sub"], f"system:serviceaccount:{self.ns}:robot")

    def test_expiration_validation(self) -> None:
        code, body, _ = self.w.as_admin(f"/api/v1/namespaces/{self.ns}/serviceaccounts/robot/token", method="POST",
                                        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                              "spec": {"expirationSeconds": 599}})
        self.assertEqual(code, 422)
        self.assertIn("spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes",
                      body["message"])
        code, body, _ = self.w.as_admin(f"/api/v1/namespaces/{self.ns}/serviceaccounts/nobody/token",
                                        method="POST", body={})
        self.assertEqual((code, body["message"]), (404, 'serviceaccounts "nobody" not found'))

    def test_bound_to_pod_refused_after_delete(self) -> None:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "busybox"}]}}
        self.w.server.kubectl("-n", self.ns, "create", "-f", "-", input=json.dumps(pod))
        token = self._token("--bound-object-kind=Pod", "--bound-object-name=p")
        _, claims = jwt.unverified_claims(token)
        self.assertEqual(claims["kubernetes.io"]["pod"]["name"], "p")
        me = self.w.whoami(self.w.token_kubeconfig(token))
        self.assertEqual(me["extra"]["authentication.kubernetes.io/pod-name"], ["p"])
        # kubelet's projected-token request (3607 s) is extended to a year, warning after 3607 s
        projected = self._token("--bound-object-kind=Pod", "--bound-object-name=p", "--duration=3607s")
        _, pc = jwt.unverified_claims(projected)
        self.assertEqual((pc["exp"] - pc["iat"], pc["kubernetes.io"]["warnafter"] - pc["iat"]),
                         (365 * 24 * 3600, 3607))
        self.w.server.kubectl("-n", self.ns, "delete", "pod", "p", "--grace-period=0", "--force", "--wait=false")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.w.curl("/api", token=token)[0] == 200:
            time.sleep(0.5)
        self.assertEqual(self.w.curl("/api", token=token)[0], 401)

    def test_bound_to_secret(self) -> None:
        self.w.server.kubectl("-n", self.ns, "create", "secret", "generic", "s", "--from-literal=a=b")
        token = self._token("--bound-object-kind=Secret", "--bound-object-name=s")
        self.assertEqual(self.w.curl("/api", token=token)[0], 200)
        self.w.server.kubectl("-n", self.ns, "delete", "secret", "s")
        self.assertEqual(self.w.curl("/api", token=token)[0], 401)

    def test_expired_and_foreign_tokens(self) -> None:
        sa = self.w.server.kubectl_json("-n", self.ns, "get", "sa", "robot")
        claims = self.w.issuer.claims(sa, 3600, self.w.issuer.api_audiences, {})
        claims["exp"] = int(time.time()) - 3600
        self.assertEqual(self.w.curl("/api", token=self.w.issuer.sign(claims))[0], 401)
        other = TokenIssuer(self.w.issuer.issuer, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                            self.w.issuer.api_audiences)
        good = other.claims(sa, 3600, other.api_audiences, {})
        self.assertEqual(self.w.curl("/api", token=other.sign(good))[0], 401)  # not our key
        wrong_aud = self.w.issuer.claims(sa, 3600, ["somebody-else"], {})
        self.assertEqual(self.w.curl("/api", token=self.w.issuer.sign(wrong_aud))[0], 401)

    def test_legacy_secret_token(self) -> None:
        sa = self.w.server.kubectl_json("-n", self.ns, "get", "sa", "robot")
        token = self.w.issuer.legacy_token(self.ns, "robot", sa["metadata"]["uid"], "robot-token")
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                  "metadata": {"name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}},
                  "data": {"token": base64.b64encode(token.encode()).decode()}}
        self.w.server.kubectl("-n", self.ns, "create", "-f", "-", input=json.dumps(secret))
        me = self.w.whoami(self.w.token_kubeconfig(token))
        self.assertEqual(me["username"], f"system:serviceaccount:{self.ns}:robot")
        self.w.server.kubectl("-n", self.ns, "delete", "secret", "robot-token")
        self.assertEqual(self.w.curl("/api", token=token)[0], 401)

    def test_in_cluster_config_with_python_client(self) -> None:
        from kubernetes import client, config

        token = self._token()
        d = tempfile.mkdtemp(dir=self.w.dir)
        for name, data in (("token", token), ("ca.crt", open(self.w.ca_file).read()), ("namespace", self.ns)):
            with open(os.path.join(d, name), "w") as f:
                f.write(data)
        os.environ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
        os.environ["KUBERNETES_SERVICE_PORT"] = str(self.w.server.secure_port)
        try:
            loader = config.incluster_config.InClusterConfigLoader(
                token_filename=os.path.join(d, "token"), cert_filename=os.path.join(d, "ca.crt"))
            conf = client.Configuration()
            loader._load_config()
            loader._set_config(conf)
        finally:
            del os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
        ns = open(os.path.join(d, "namespace")).read()
        with client.ApiClient(conf) as api:
            cms = client.CoreV1Api(api).list_namespaced_config_map(ns)
            self.assertEqual(cms.items, [])
            review = client.AuthenticationV1Api(api).create_self_subject_review(
                client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"))
        self.assertEqual(review.status.user_info.username, f"system:serviceaccount:{self.ns}:robot")

    def test_token_review(self) -> None:
        token = self._token()
        code, body, _ = self.w.as_admin("/apis/authentication.k8s.io/v1/tokenreviews", method="POST",
                                        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                              "spec": {"token": token}})
        self.assertEqual(code, 201)
        self.assertTrue(body["status"]["authenticated"])
        self.assertEqual(body["status"]["user"]["username"], f"system:serviceaccount:{self.ns}:robot")
        code, body, _ = self.w.as_admin("/apis/authentication.k8s.io/v1/tokenreviews", method="POST",
                                        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                              "spec": {"token": "nope"}})
        self.assertEqual((code, body["status"]), (201, {"user": {}}))
        code, _, _ = self.w.as_admin("/apis/authentication.k8s.io/v1/tokenreviews")
        self.assertEqual(code, 405)

    def test_oidc_discovery(self) -> None:
        token = self._token()
        code, conf, _ = self.w.curl("/.well-known/openid-configuration", token=token)
        self.assertEqual(code, 200)
        self.assertEqual(conf["issuer"], "https://kubernetes.default.svc.cluster.local")
        self.assertEqual(conf["jwks_uri"], f"https://127.0.0.1:{self.w.server.secure_port}/openid/v1/jwks")
        self.assertEqual(conf["id_token_signing_alg_values_supported"], ["RS256"])
        code, keys, _ = self.w.curl("/openid/v1/jwks", token=token)
        self.assertEqual(code, 200)
        header, _ = jwt.unverified_claims(token)
        entry = next(k for k in keys["keys"] if k["kid"] == header["kid"])
        n = int.from_bytes(jwt.b64url_decode(entry["n"]), "big")
        e = int.from_bytes(jwt.b64url_decode(entry["e"]), "big")
        jwt.verify(token, [rsa.RSAPublicNumbers(e, n).public_key()])  # the published key verifies the token


class FrontProxyTests(unittest.TestCase):
    def setUp(self) -> None:
        self.w = world()
        self.headers = {"X-Remote-User": "alice", "X-Remote-Group": "front-devs",
                        "X-Remote-Extra-Scopes": "read"}
        self.review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}

    def _whoami(self, cert: tuple[str, str]) -> tuple[int, Any]:
        code, body, _ = self.w.curl("/apis/authentication.k8s.io/v1/selfsubjectreviews", method="POST",
                                    body=self.review, cert=cert, headers=self.headers)
        return code, body

    def test_allowed_proxy(self) -> None:
        code, body = self._whoami(self.w.front_ok)
        self.assertEqual(code, 201)
        self.assertEqual(body["status"]["userInfo"], {"username": "alice", "groups": ["front-devs",
                                                                                      "system:authenticated"],
                                                      "extra": {"scopes": ["read"]}})

    def test_headers_from_other_clients_are_ignored(self) -> None:
        code, _ = self._whoami(self.w.front_bad)  # front-proxy CA but a name not allowed
        self.assertEqual(code, 401)
        code, body = self._whoami(self.w.admin)  # a client-CA certificate: it speaks for itself
        self.assertEqual((code, body["status"]["userInfo"]["username"]), (201, "kubernetes-admin"))
        code, body, _ = self.w.curl("/api", token=TOKEN, headers=self.headers)
        self.assertEqual(code, 200)

    def test_extension_configmap(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            code, cm, _ = self.w.as_admin("/api/v1/namespaces/kube-system/configmaps/"
                                          "extension-apiserver-authentication")
            if code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(code, 200)
        data = cm["data"]
        self.assertEqual(data["client-ca-file"].strip(), open(self.w.ca_file).read().strip())
        self.assertEqual(data["requestheader-client-ca-file"].strip(), open(self.w.front_ca_file).read().strip())
        self.assertEqual(json.loads(data["requestheader-allowed-names"]), ["front-proxy-client"])
        self.assertEqual(json.loads(data["requestheader-username-headers"]), ["X-Remote-User"])
        self.assertEqual(json.loads(data["requestheader-group-headers"]), ["X-Remote-Group"])
        self.assertEqual(json.loads(data["requestheader-extra-headers-prefix"]), ["X-Remote-Extra-"])


class KubectlProxyTests(unittest.TestCase):
    def test_kubectl_proxy_in_front(self) -> None:
        w = world()
        port = free_port()
        kc = os.path.join(os.path.dirname(w.server.data_dir), "kubeconfig")
        proc = subprocess.Popen([kubectl_binary(), f"--kubeconfig={kc}", "proxy", f"--port={port}",
                                 "--address=127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ, HOME=w.dir))
        self.addCleanup(lambda: (proc.terminate(), proc.wait(10)))
        import urllib.request

        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/namespaces/kube-system",
                                            timeout=2) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.assertEqual(body["metadata"]["name"], "kube-system")


def _handshake(port: int, *, server_hostname: str = "localhost", cafile: str, min_v: Any = None,
               max_v: Any = None, ciphers: str | None = None) -> tuple[str, x509.Certificate]:
    ctx = ssl.create_default_context(cafile=cafile)
    if min_v:
        ctx.minimum_version = min_v
    if max_v:
        ctx.maximum_version = max_v
    if ciphers:
        ctx.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            der = tls.getpeercert(binary_form=True)
            assert der is not None
            return str(tls.version()), x509.load_der_x509_certificate(der)


class TLSPolicyTests(unittest.TestCase):
    def test_default_policy(self) -> None:
        w = world()
        port = w.server.secure_port
        version, _ = _handshake(port, cafile=w.ca_file)
        self.assertEqual(version, "TLSv1.3")
        tls12 = ssl.TLSVersion.TLSv1_2
        self.assertEqual(_handshake(port, cafile=w.ca_file, max_v=tls12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")[0],
                         "TLSv1.2")
        for bad in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-GCM-SHA256"):
            with self.assertRaises(ssl.SSLError, msg=bad):
                _handshake(port, cafile=w.ca_file, max_v=tls12, ciphers=bad)
        ctx_old = ssl.TLSVersion.TLSv1_1
        with self.assertRaises((ssl.SSLError, OSError)):
            _handshake(port, cafile=w.ca_file, min_v=ssl.TLSVersion.TLSv1, max_v=ctx_old, ciphers="ALL:@SECLEVEL=0")
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
                            "-cipher", "ECDHE-ECDSA-AES128-SHA"], input="", capture_output=True, text=True,
                           timeout=20)
        self.assertNotEqual(p.returncode, 0)


class TLSOptionsTests(unittest.TestCase):
    """A second server: TLS 1.3 only, an SNI certificate, and reloading the serving cert."""

    def test_min_version_sni_and_reload(self) -> None:
        tmp = tempfile.mkdtemp(prefix="kubeapi-tls13-")
        sni_ca = pki.make_ca("sni-ca")
        cert, key = pki.issue(sni_ca, "other", server_names=["other.example"])
        sni = sup.write_pair(tmp, "other", cert, key)
        sni_ca_file = os.path.join(tmp, "sni-ca.crt")
        with open(sni_ca_file, "wb") as f:
            f.write(sni_ca[0].public_bytes(serialization.Encoding.PEM))
        server = ServerProcess("--tls-min-version=VersionTLS13", f"--tls-sni-cert-key={sni[0]},{sni[1]}")
        self.addCleanup(server.cleanup)
        server.start()
        ca_file = os.path.join(server.cert_dir, "ca.crt")
        port = server.secure_port
        with self.assertRaises(ssl.SSLError):
            _handshake(port, cafile=ca_file, max_v=ssl.TLSVersion.TLSv1_2)
        version, served = _handshake(port, cafile=ca_file)
        self.assertEqual(version, "TLSv1.3")
        _, other = _handshake(port, cafile=sni_ca_file, server_hostname="other.example")
        self.assertEqual(other.serial_number, cert.serial_number)
        # Replace the serving certificate in place: new connections get it without a restart.
        ca = sup.load_ca(server.cert_dir)
        new_cert, new_key = pki.issue(ca, "kube-apiserver", server_names=["localhost", "127.0.0.1"])
        key_path = os.path.join(server.cert_dir, "apiserver.key")
        pki.write_private(key_path + ".new", new_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        os.replace(key_path + ".new", key_path)
        with open(os.path.join(server.cert_dir, "apiserver.crt"), "wb") as f:
            f.write(new_cert.public_bytes(serialization.Encoding.PEM))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            _, now_served = _handshake(port, cafile=ca_file)
            if now_served.serial_number == new_cert.serial_number:
                break
            time.sleep(0.3)
        self.assertEqual(now_served.serial_number, new_cert.serial_number)
        self.assertNotEqual(served.serial_number, new_cert.serial_number)

    def test_unknown_cipher_suite_fails_start_with_one_line(self) -> None:
        server = ServerProcess("--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_BOGUS")
        self.addCleanup(server.cleanup)
        p = subprocess.run(server.command(), capture_output=True, text=True, timeout=60, cwd=str(REPO),
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual((p.stdout + p.stderr).strip().splitlines(),
                         ["kubeapi: --tls-cipher-suites: Cipher suite TLS_BOGUS not supported or doesn't exist"])
