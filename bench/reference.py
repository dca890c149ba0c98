"""kubeapi beside the Go kube-apiserver v1.34 (the interop build), the same requests on the
same machine: GET one ConfigMap (JSON and protobuf), LIST of 1,000 ConfigMaps (consistent and
resourceVersion=0, 4 connections) and creates, over HTTPS with a ``system:masters`` bearer
token, 16 connections from wrk, each server on its own fresh one-member etcd.  Reports requests/s, p99 and the server's CPU per request, and the ratio of
requests per CPU second (the issue's "≥ the Go kube-apiserver's requests/s per CPU second").

    python bench/reference.py [--seconds 5] [--connections 16]

Needs ``interop/build.sh`` to have built kube-apiserver; without it prints one line and
stops.  Not a test: it asserts nothing but that the requests succeeded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.create import LUA, wrk_creates  # noqa: E402
from bench.get import JSON, PROTOBUF, wrk  # noqa: E402
from bench.run import print_timed, start_etcd  # noqa: E402
from tests.e2e.harness import ServerProcess  # noqa: E402
from tests.support.procstat import process_cpu_seconds  # noqa: E402

TOKEN = "reference-bench-token"
LIST_SIZE = 1000
LIST_CONNECTIONS = 4
AUTHORIZED_LUA = LUA.replace('{["Content-Type"]="application/json"}',
                             '{["Content-Type"]="application/json", ["Authorization"]="Bearer TOKEN"}')


def _insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start(kind: str, etcd_url: str, tmp: str) -> tuple[ServerProcess, str]:
    """The server and the bearer token it accepts as system:masters."""
    if kind == "go":
        from tests.interop.reference import TOKEN as REF_TOKEN
        from tests.interop.reference import ReferenceServer

        ref = ReferenceServer([etcd_url])
        ref.start()
        return ref, REF_TOKEN
    tokens = os.path.join(tmp, "tokens.csv")
    Path(tokens).write_text(f'{TOKEN},bench,bench-uid,"system:masters"\n')
    server = ServerProcess(f"--etcd-servers={etcd_url}", f"--token-auth-file={tokens}")
    server.start()
    return server, TOKEN


def seed(base: str, auth: dict[str, str], n: int) -> None:
    """n - 1 more ConfigMaps like the first (64-byte values), over one keep-alive connection."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(base)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=_insecure_context(), timeout=30)
    for i in range(1, n):
        body = b'{"metadata":{"name":"seed-%05d"},"data":{"key":"' % i + b"x" * 64 + b'"}}'
        conn.request("POST", u.path, body=body, headers={**auth, "Content-Type": JSON})
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            raise SystemExit(f"seeding: {r.status}")
    conn.close()


def measure(kind: str, seconds: float, connections: int, tmp: str) -> dict[str, Any]:
    own = os.path.join(tmp, kind)
    os.makedirs(own)
    etcd, url = start_etcd(own)
    try:
        server, token = start(kind, url, own)
        try:
            assert server.proc is not None
            pid = server.proc.pid
            auth = {"Authorization": f"Bearer {token}"}
            base = server.secure_url + "/api/v1/namespaces/default/configmaps"
            req = urllib.request.Request(base, method="POST", headers={**auth, "Content-Type": JSON},
                                         data=b'{"metadata":{"name":"one"},"data":{"key":"' + b"x" * 64 + b'"}}')
            urllib.request.urlopen(req, timeout=10, context=_insecure_context()).read()
            out: dict[str, Any] = {}
            for label, media in (("GET JSON", JSON), ("GET protobuf", PROTOBUF)):
                before = process_cpu_seconds(pid)
                rate, p99 = wrk(base + "/one", connections, seconds, {**auth, "Accept": media})
                out[label] = (rate, p99, (process_cpu_seconds(pid) - before) / max(rate * seconds, 1) * 1e6)
            seed(base, auth, LIST_SIZE)
            for label, query in (("LIST 1,000 JSON", ""), ("LIST 1,000 JSON resourceVersion=0", "?resourceVersion=0")):
                before = process_cpu_seconds(pid)
                rate, p99 = wrk(base + query, LIST_CONNECTIONS, seconds, {**auth, "Accept": JSON})
                out[label] = (rate, p99, (process_cpu_seconds(pid) - before) / max(rate * seconds, 1) * 1e6)
            script = os.path.join(own, "post.lua")
            Path(script).write_text(AUTHORIZED_LUA.replace("TOKEN", token))
            before = process_cpu_seconds(pid)
            got = wrk_creates(base, connections, seconds, script)
            out["create JSON"] = (got["rate"], got["p99"],
                                  (process_cpu_seconds(pid) - before) / max(got["rate"] * seconds, 1) * 1e6)
            return out
        finally:
            server.cleanup()
    finally:
        etcd.terminate()
        etcd.wait(10)


def table(seconds: float = 5, connections: int = 16) -> list[str]:
    from tests.interop.cluster import BIN

    if not (BIN / "kube-apiserver").exists():
        return [f"(skipped: no {BIN / 'kube-apiserver'}; interop/build.sh builds it)"]
    tmp = tempfile.mkdtemp(prefix="kubeapi-bench-reference-")
    rows = ["| case (TLS, token, wrk) | kubeapi req/s | Go req/s | kubeapi p99 ms | Go p99 ms |"
            " kubeapi CPU µs/req | Go CPU µs/req | req per CPU second, kubeapi / Go |",
            "|---|---|---|---|---|---|---|---|"]
    try:
        ours = measure("kubeapi", seconds, connections, tmp)
        theirs = measure("go", seconds, connections, tmp)
        for case, k in ours.items():
            g = theirs[case]
            rows.append(f"| {case} | {k[0]:,.0f} | {g[0]:,.0f} | {k[1]:.2f} | {g[1]:.2f} | {k[2]:,.0f} |"
                        f" {g[2]:,.0f} | {g[2] / k[2]:.2f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=16)
    a = ap.parse_args()
    print_timed(lambda: table(a.seconds, a.connections))


if __name__ == "__main__":
    main()
