"""Memory under overload: many clients listing at once, on kubeapi and on the Go kube-apiserver.

    python bench/overload.py [--clients 450] [--seconds 15] [--servers kubeapi,reference]

Each server gets its own fresh one-member etcd holding ``--objects`` ConfigMaps of 2 KiB.
``--clients`` threads then LIST them over HTTPS with a ``system:masters`` token (exempt from
flow control on both servers, as upstream's bootstrap FlowSchemas make it) for ``--seconds``.
The server's RSS is sampled throughout; reported: idle, peak, and 12 s after the load ends,
with the lists served.  What a server holds at the peak is one encoded list per client whose
response is still being written, so the peak scales with clients × list size.  Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.harness import ServerProcess  # noqa: E402
from tests.support.etcd import EtcdCluster  # noqa: E402
from tests.support.procstat import rss_mib  # noqa: E402

TOKEN = "overload-admin-token"
NS = "default"



def start_server(kind: str, etcd: list[str]) -> ServerProcess:
    if kind == "reference":
        from tests.interop.reference import TOKEN as REF_TOKEN
        from tests.interop.reference import ReferenceServer

        ref = ReferenceServer(etcd)
        ref.start()
        ref.bench_token = REF_TOKEN  # type: ignore[attr-defined]
        return ref
    tmp = Path(tempfile.mkdtemp(prefix="kubeapi-overload-"))
    (tmp / "tokens.csv").write_text(f'{TOKEN},admin,admin,"system:masters"\n')
    server = ServerProcess(f"--etcd-servers={','.join(etcd)}", f"--token-auth-file={tmp / 'tokens.csv'}")
    server.start()
    server.bench_token = TOKEN  # type: ignore[attr-defined]
    return server


class Client:
    """One keep-alive HTTPS connection with the bearer token (the serving cert is self-signed)."""

    def __init__(self, port: int, token: str) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept": "application/json"}

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, path, data, self.headers)
        r = self.conn.getresponse()
        return r.status, r.read()


def run_one(kind: str, clients: int, seconds: float, objects: int) -> dict[str, Any]:
    etcd = EtcdCluster(1).start_blocking()
    server = start_server(kind, etcd.endpoints)
    try:
        assert server.proc is not None
        pid, port, token = server.proc.pid, server.secure_port, server.bench_token  # type: ignore[attr-defined]
        seed = Client(port, token)
        for i in range(objects):
            code, body = seed.request("POST", f"/api/v1/namespaces/{NS}/configmaps",
                                      {"metadata": {"name": f"cm-{i:04d}"}, "data": {"k": "x" * 2048}})
            if code != 201:
                raise RuntimeError(f"{kind}: seeding: {code} {body[:200]!r}")
        time.sleep(3)
        idle = rss_mib(pid)
        stop = time.monotonic() + seconds
        served = [0]
        errors: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            try:
                c = Client(port, token)
                while time.monotonic() < stop:
                    code, _ = c.request("GET", f"/api/v1/namespaces/{NS}/configmaps")
                    with lock:
                        served[0] += code == 200
            except Exception as e:  # a refused or reset connection is part of the overload
                with lock:
                    errors.append(type(e).__name__)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
        for t in threads:
            t.start()
        peak = idle
        while any(t.is_alive() for t in threads) and time.monotonic() < stop + 120:
            peak = max(peak, rss_mib(pid))
            time.sleep(0.2)
        time.sleep(12)
        after = rss_mib(pid)
        return {"server": kind, "idle": idle, "peak": peak, "after": after, "lists": served[0],
                "errors": len(errors)}
    finally:
        server.cleanup()
        etcd.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=450)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--servers", default="kubeapi,reference")
    args = ap.parse_args()
    rows = [run_one(k, args.clients, args.seconds, args.objects) for k in args.servers.split(",")]
    print(f"\n{args.clients} clients listing {args.objects} × 2 KiB ConfigMaps for {args.seconds:.0f} s (etcd):")
    print(f"{'server':<10} {'idle MiB':>9} {'peak MiB':>9} {'12 s after':>11} {'lists':>7} {'errors':>7}")
    for r in rows:
        print(f"{r['server']:<10} {r['idle']:>9.0f} {r['peak']:>9.0f} {r['after']:>11.0f} {r['lists']:>7} "
              f"{r['errors']:>7}")


if __name__ == "__main__":
    main()
