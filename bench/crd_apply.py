"""CRD apply + first custom object: how long from POSTing a CustomResourceDefinition (the
monitoring-shaped one from the tests, big schema, CEL rules) until its first object is
created, against a real server process.  Also the CRD create alone and custom-object creates
once it is served.  Not a test: it asserts only that requests succeed.

    python bench/crd_apply.py [--rounds 20] [--n 200]

``bench/run.py`` adds these rows to its table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CRD_FILE = Path(__file__).resolve().parents[1] / "tests" / "apiextensions" / "probes-crd.yaml"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _request(c: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    c.request(method, path, body=data, headers={"Content-Type": "application/json", "Accept": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


def _crd(i: int) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text())
    names = crd["spec"]["names"]
    names.update(plural=f"probes{i}", singular=f"probe{i}", kind=f"Probe{i}", listKind=f"Probe{i}List",
                 shortNames=[f"prb{i}"])
    crd["metadata"]["name"] = f"probes{i}.monitoring.example.dev"
    return crd


def _probe(i: int, name: str) -> dict[str, Any]:
    return {"apiVersion": "monitoring.example.dev/v1", "kind": f"Probe{i}", "metadata": {"name": name},
            "spec": {"jobLabel": "app", "replicas": 1, "endpoints": [{"name": "http", "port": 8080}]}}


def rows(port: int, rounds: int = 20, n: int = 200) -> list[str]:
    from bench.run import row

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _request(c, "POST", "/api/v1/namespaces", {"metadata": {"name": "crdbench"}})
    crd_create: list[float] = []
    first_object: list[float] = []
    for i in range(rounds):
        t0 = time.perf_counter()
        code, body = _request(c, "POST", CRDS, _crd(i))
        assert code == 201, body
        crd_create.append(time.perf_counter() - t0)
        path = f"/apis/monitoring.example.dev/v1/namespaces/crdbench/probes{i}"
        for _ in range(1000):
            code, body = _request(c, "POST", path, _probe(i, "first"))
            if code == 201:
                break
            assert code == 404, body
            time.sleep(0.005)
        first_object.append(time.perf_counter() - t0)
    lat: list[float] = []
    t0 = time.perf_counter()
    path = "/apis/monitoring.example.dev/v1/namespaces/crdbench/probes0"
    for j in range(n):
        s = time.perf_counter()
        code, body = _request(c, "POST", path, _probe(0, f"p-{j:04d}"))
        assert code == 201, body
        lat.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    c.close()
    return [row("create CRD (big schema, CEL rules)", crd_create),
            row("CRD apply → first custom object created", first_object),
            row("create custom object (schema + CEL validated)", lat, total)]


def main() -> None:
    from tests.e2e.harness import ServerProcess

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--n", type=int, default=200)
    a = ap.parse_args()
    server = ServerProcess()
    server.start()
    try:
        print("| operation | count | mean ms | p50 ms | p99 ms | throughput |")
        print("|---|---|---|---|---|---|")
        for line in rows(server.insecure_port, a.rounds, a.n):
            print(line)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
