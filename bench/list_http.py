"""LIST of N ConfigMaps over real HTTP, against ``orjson.dumps`` of the same list.

Starts a real server (embedded store, or etcd behind the watch cache), creates N
ConfigMaps and times sequential JSON LISTs: a consistent list (no resourceVersion),
resourceVersion=0 (served from the watch cache where there is one) and a labelSelector
list, each next to the time orjson alone takes to serialise the list that came back
(measured in this process, interleaved with the requests).  Prints a markdown table.
``--profile FILE`` records the server with py-spy (raw format) during the LISTs.

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

from tests.e2e import harness  # noqa: E402
from tests.e2e.harness import ServerProcess  # noqa: E402

NS = "bench"


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


def measure(args: argparse.Namespace, tree: Path) -> list[tuple[str, list[float], list[float]]]:
    """One server from ``tree``: create the objects, time the LISTs."""
    tmp = tempfile.mkdtemp(prefix="kubeapi-list-bench-")
    etcd = None
    extra: list[str] = []
    if args.backend == "etcd":
        from bench.run import start_etcd

        etcd, url = start_etcd(tmp)
        extra.append(f"--etcd-servers={url}")
    server = ServerProcess(*extra)
    harness.REPO, here = tree, harness.REPO
    try:
        server.start()
    finally:
        harness.REPO = here
    assert server.proc is not None
    rows = []
    spy = None
    try:
        c = http.client.HTTPConnection("127.0.0.1", server.insecure_port, timeout=60)

        def req(method: str, path: str, body: object = None) -> tuple[int, bytes]:
            c.request(method, path, body=None if body is None else json.dumps(body).encode(),
                      headers={"Content-Type": "application/json", "Accept": "application/json"})
            r = c.getresponse()
            return r.status, r.read()

        req("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
        base = f"/api/v1/namespaces/{NS}/configmaps"
        for i in range(args.n):
            code, _ = req("POST", base, {"metadata": {"name": f"cm-{i:05d}", "labels": {"i": str(i % 10)}},
                                         "data": {"key": "x" * 64}})
            assert code == 201, code
        if args.profile:
            spy = subprocess.Popen(["py-spy", "record", "-f", "raw", "-o", args.profile, "-r", "200",
                                    "-p", str(server.proc.pid)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        cases = [("consistent (no resourceVersion)", base, args.n),
                 ("resourceVersion=0", base + "?resourceVersion=0", args.n),
                 ("labelSelector i=3 (1/10)", base + "?labelSelector=i%3D3", args.n // 10)]
        for name, path, want in cases:
            lat: list[float] = []
            enc: list[float] = []
            for _ in range(args.rounds):
                s = time.perf_counter()
                code, body = req("GET", path)
                lat.append(time.perf_counter() - s)
                lst = json.loads(body)
                assert code == 200 and len(lst["items"]) == want, (code, len(lst["items"]))
                s = time.perf_counter()
                orjson.dumps(lst)
                enc.append(time.perf_counter() - s)
            rows.append((name, lat, enc))
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        server.cleanup()
        if etcd:
            etcd.terminate()
            etcd.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--backend", default="embedded", choices=["embedded", "etcd"])
    ap.add_argument("--profile", default="", help="py-spy raw output file")
    ap.add_argument("--compare", default="", metavar="DIR",
                    help="also run the server from this source tree, one after the other in this run")
    args = ap.parse_args()
    trees = [("before", Path(args.compare)), ("after", harness.REPO)] if args.compare else [("", harness.REPO)]
    results = {label: measure(args, tree) for label, tree in trees}
    print(f"\n### LIST {args.n} ConfigMaps over HTTP ({args.backend}), {args.rounds} sequential requests each\n")
    print("| list | server | p50 ms | p99 ms | orjson.dumps p50 ms | ratio (p50) |")
    print("|---|---|---|---|---|---|")
    for i in range(len(results[trees[0][0]])):
        for label, _ in trees:
            name, lat, enc = results[label][i]
            p50, e50 = pct(lat, 0.5) * 1000, pct(enc, 0.5) * 1000
            print(f"| {name} | {label} | {p50:.2f} | {pct(lat, 0.99) * 1000:.2f} | {e50:.2f} | {p50 / e50:.1f}× |")


if __name__ == "__main__":
    main()
