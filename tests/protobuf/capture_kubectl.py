"""Regenerate tests/protobuf/fixtures/: what real kubectl sends for typed creates.

Run by hand (not part of the suite): `python -m tests.protobuf.capture_kubectl [KUBECTL]`.
A throwaway HTTP server on 127.0.0.1 answers legacy discovery and records each POST body;
for every command we keep the protobuf body kubectl sends (<name>.pb) and the JSON that the
same command prints with --dry-run=client -o json (<name>.json). A command that sends JSON
(kubectl run does) is kept as <name>.sent.json instead of <name>.pb.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

COMMANDS: dict[str, list[str]] = {
    "configmap": ["create", "configmap", "x", "--from-literal=a=b"],
    "deployment": ["create", "deployment", "d", "--image=nginx", "--replicas=2", "--port=80"],
    "secret": ["create", "secret", "generic", "s", "--from-literal=a=b", "--from-literal=pw=s3cr3t"],
    "namespace": ["create", "namespace", "n"],
    "pod": ["run", "p", "--image=nginx", "--labels=a=b", "--port=80", "--env=X=1"],
    "job": ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    "cronjob": ["create", "cronjob", "c", "--image=busybox", "--schedule=*/1 * * * *"],
    "service": ["create", "service", "clusterip", "s", "--tcp=80:8080", "--tcp=443:https"],
    "serviceaccount": ["create", "serviceaccount", "sa"],
    "quota": ["create", "quota", "q", "--hard=pods=2,requests.cpu=500m,requests.memory=1Gi"],
    "role": ["create", "role", "r", "--verb=get,list", "--resource=pods"],
    "clusterrolebinding": ["create", "clusterrolebinding", "crb", "--clusterrole=view", "--user=alice"],
    "ingress": ["create", "ingress", "ing", "--rule=foo.com/bar=svc1:8080"],
    "pdb": ["create", "poddisruptionbudget", "pdb", "--selector=app=x", "--min-available=50%"],
    "priorityclass": ["create", "priorityclass", "pc", "--value=1000"],
}

_CORE = [("configmaps", "ConfigMap"), ("secrets", "Secret"), ("namespaces", "Namespace"),
         ("pods", "Pod"), ("services", "Service"), ("serviceaccounts", "ServiceAccount"),
         ("resourcequotas", "ResourceQuota")]
_GROUPS = {
    "apps/v1": [("deployments", "Deployment")],
    "batch/v1": [("jobs", "Job"), ("cronjobs", "CronJob")],
    "rbac.authorization.k8s.io/v1": [("roles", "Role"), ("clusterrolebindings", "ClusterRoleBinding")],
    "networking.k8s.io/v1": [("ingresses", "Ingress")],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget")],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass")],
}
_CLUSTER_SCOPED = {"namespaces", "clusterrolebindings", "priorityclasses"}


def _resource_list(gv: str, resources: list[tuple[str, str]]) -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
        {"name": r, "singularName": "", "namespaced": r not in _CLUSTER_SCOPED, "kind": k,
         "verbs": ["create", "get", "list", "delete"]} for r, k in resources]}


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": "v1"}],
             "preferredVersion": {"groupVersion": gv, "version": "v1"}} for gv in _GROUPS]}
    if path == "/api/v1":
        return _resource_list("v1", _CORE)
    for gv, res in _GROUPS.items():
        if path == f"/apis/{gv}":
            return _resource_list(gv, res)
    return None


class _Recorder(BaseHTTPRequestHandler):
    posts: list[tuple[str, str, bytes]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        doc = _discovery(self.path.split("?")[0])
        if doc is None:
            self._send(404, b'{"kind":"Status","apiVersion":"v1","status":"Failure","code":404,"reason":"NotFound"}')
        else:
            self._send(200, json.dumps(doc).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ctype = self.headers.get("Content-Type", "")
        self.posts.append((self.path, ctype, body))
        self._send(201, body, ctype)  # echo the object back, as a server would


def main(argv: list[str]) -> int:
    kubectl = argv[1] if len(argv) > 1 else "kubectl"
    os.makedirs(FIXTURES, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = dict(os.environ, KUBECONFIG=os.devnull, HOME=os.environ.get("TMPDIR", "/tmp"))
    try:
        for name, args in COMMANDS.items():
            _Recorder.posts.clear()
            base = [kubectl, f"--server={url}", "--namespace=default"]
            run = subprocess.run(base + args, capture_output=True, env=env, timeout=60)
            posts = [p for p in _Recorder.posts if "dryRun" not in p[0]]
            if not posts:
                print(f"{name}: no POST captured: {run.stderr.decode()}", file=sys.stderr)
                continue
            path, ctype, body = posts[-1]
            sent = f"{name}.pb" if ctype.startswith("application/vnd.kubernetes.protobuf") else f"{name}.sent.json"
            with open(os.path.join(FIXTURES, sent), "wb") as fh:
                fh.write(body)
            dry = subprocess.run(base + args[:_split(args)] + ["--dry-run=client", "-o", "json"]
                                 + args[_split(args):], capture_output=True, env=env, timeout=60, check=True)
            with open(os.path.join(FIXTURES, f"{name}.json"), "wb") as fh:
                fh.write(dry.stdout)
            print(f"{name}: {path} {ctype} {len(body)} bytes")
    finally:
        server.shutdown()
        server.server_close()
    return 0


def _split(args: list[str]) -> int:
    """Flags must go before a `--` separator."""
    return args.index("--") if "--" in args else len(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
