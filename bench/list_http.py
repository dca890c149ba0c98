"""LIST of N ConfigMaps over real HTTP, against ``orjson.dumps`` of the same list.

Starts a real server (embedded store, or etcd behind the watch cache), creates N
ConfigMaps and times sequential JSON LISTs: a consistent list (no resourceVersion),
resourceVersion=0 (served from the watch cache where there is one) and a labelSelector
list, each next to the time orjson alone takes to serialise the list that came back
(measured in this process, interleaved with the requests).  With ``--compare DIR`` a
second server runs from that tree and the requests alternate between the two, so both
see the same machine load.  Prints a markdown table.  ``--profile FILE`` records this
tree's server with py-spy (raw format) during the LISTs.

    python bench/list_http.py [--n 1000] [--rounds 30] [--backend embedded|etcd]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import pct  # noqa: E402
from tests.e2e import harness  # noqa: E402
from tests.e2e.harness import ServerProcess  # noqa: E402

NS = "bench"



class Server:
    """One seeded server from ``tree`` and a keep-alive connection to it."""

    def __init__(self, args: argparse.Namespace, tree: Path, extra: list[str]) -> None:
        self.proc = ServerProcess(*extra)
        harness.REPO, here = tree, harness.REPO
        try:
            self.proc.start()
        finally:
            harness.REPO = here
        self.c = http.client.HTTPConnection("127.0.0.1", self.proc.insecure_port, timeout=60)
        self.req("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
        for i in range(args.n):
            code, _ = self.req("POST", BASE, {"metadata": {"name": f"cm-{i:05d}", "labels": {"i": str(i % 10)}},
                                              "data": {"key": "x" * 64}})
            assert code == 201, code

    def req(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        self.c.request(method, path, body=None if body is None else json.dumps(body).encode(),
                       headers={"Content-Type": "application/json", "Accept": "application/json"})
        r = self.c.getresponse()
        return r.status, r.read()


BASE = f"/api/v1/namespaces/{NS}/configmaps"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--backend", default="embedded", choices=["embedded", "etcd"])
    ap.add_argument("--profile", default="", help="py-spy raw output file")
    ap.add_argument("--compare", default="", metavar="DIR",
                    help="also run a server from this source tree, requests alternating between the two")
    args = ap.parse_args()
    trees = [("before", Path(args.compare)), ("after", harness.REPO)] if args.compare else [("", harness.REPO)]
    tmp = tempfile.mkdtemp(prefix="kubeapi-list-bench-")
    etcds = []
    servers: dict[str, Server] = {}
    spy = None
    cases = [("consistent (no resourceVersion)", BASE, args.n),
             ("resourceVersion=0", BASE + "?resourceVersion=0", args.n),
             ("labelSelector i=3 (1/10)", BASE + "?labelSelector=i%3D3", args.n // 10)]
    rows: list[tuple[str, str, list[float], list[float]]] = []
    try:
        for label, tree in trees:
            extra: list[str] = []
            if args.backend == "etcd":
                from bench.run import start_etcd

                etcd, url = start_etcd(f"{tmp}/{label or 'one'}")
                etcds.append(etcd)
                extra.append(f"--etcd-servers={url}")
            servers[label] = Server(args, tree, extra)
        if args.profile:
            pid = servers[trees[-1][0]].proc.proc.pid  # type: ignore[union-attr]
            spy = subprocess.Popen(["py-spy", "record", "-f", "raw", "-o", args.profile, "-r", "200",
                                    "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        for name, path, want in cases:
            lat: dict[str, list[float]] = {label: [] for label, _ in trees}
            enc: dict[str, list[float]] = {label: [] for label, _ in trees}
            for _ in range(args.rounds):
                for label, _ in trees:
                    s = time.perf_counter()
                    code, body = servers[label].req("GET", path)
                    lat[label].append(time.perf_counter() - s)
                    lst = json.loads(body)
                    assert code == 200 and len(lst["items"]) == want, (code, len(lst["items"]))
                    s = time.perf_counter()
                    orjson.dumps(lst)
                    enc[label].append(time.perf_counter() - s)
            for label, _ in trees:
                rows.append((name, label, lat[label], enc[label]))
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        for srv in servers.values():
            srv.proc.cleanup()
        for etcd in etcds:
            etcd.terminate()
            etcd.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n### LIST {args.n} ConfigMaps over HTTP ({args.backend}), {args.rounds} sequential requests each\n")
    print("| list | server | p50 ms | p99 ms | orjson.dumps p50 ms | ratio (p50) |")
    print("|---|---|---|---|---|---|")
    for name, label, lat_, enc_ in rows:
        p50, e50 = pct(lat_, 0.5) * 1000, pct(enc_, 0.5) * 1000
        print(f"| {name} | {label} | {p50:.2f} | {pct(lat_, 0.99) * 1000:.2f} | {e50:.2f} | {p50 / e50:.1f}× |")


if __name__ == "__main__":
    main()
