"""What CEL costs: compiling and evaluating policy expressions, and a ValidatingAdmissionPolicy
on the create path.

    python bench/cel.py [--n 2000]

Part one runs in this process on cel-python: the first compile of each expression (parse and
program), then evaluations of the compiled program against a Deployment.  Part two starts the
server (`twistd -n kubeapi`, embedded store) and times sequential Deployment creates over one
keep-alive connection without a policy and with one binding a three-validation policy.
Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import ServerProcess  # noqa: E402

EXPRESSIONS = [
    "object.spec.replicas <= 5",
    "object.spec.template.spec.containers.all(c, c.image.startsWith('registry.example.com/'))",
    "has(object.metadata.labels) && 'app' in object.metadata.labels",
    "object.spec.template.spec.containers.all(c, !has(c.resources) || !has(c.resources.limits) || "
    "quantity(c.resources.limits.memory).isLessThan(quantity('1Gi')))",
]


def deployment(name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "registry.example.com/web:1",
                                         "resources": {"limits": {"memory": "256Mi"}}}]}}}}


def in_process(n: int) -> None:
    import celpy

    from kubeapi.cel import compile_expression

    obj = {"object": celpy.json_to_cel(deployment("d"))}
    print(f"{'expression':<60} {'compile ms':>10} {'eval µs (mean / p99)':>22}")
    for e in EXPRESSIONS:
        t0 = time.perf_counter()
        program = compile_expression(e + " ")  # a text not compiled before in this process
        compile_ms = (time.perf_counter() - t0) * 1000
        times = []
        for _ in range(n):
            t = time.perf_counter()
            program.evaluate_bindings(obj)
            times.append((time.perf_counter() - t) * 1e6)
        times.sort()
        short = e if len(e) <= 57 else e[:54] + "..."
        print(f"{short:<60} {compile_ms:>10.1f} {statistics.mean(times):>11.0f} / {times[int(n * 0.99)]:<8.0f}")


POLICY = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "bench.example.com"},
    "spec": {"matchConstraints": {"resourceRules": [{"operations": ["CREATE"], "apiGroups": ["apps"],
                                                     "apiVersions": ["v1"], "resources": ["deployments"]}]},
             "validations": [{"expression": e} for e in EXPRESSIONS[:3]]},
}
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
           "metadata": {"name": "bench-binding.example.com"},
           "spec": {"policyName": "bench.example.com", "validationActions": ["Deny"]}}


def creates(server: ServerProcess, n: int, prefix: str) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.insecure_port, timeout=30)
    out = []
    for i in range(n):
        body = json.dumps(deployment(f"{prefix}-{i}"))
        t = time.perf_counter()
        conn.request("POST", "/apis/apps/v1/namespaces/default/deployments", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        out.append((time.perf_counter() - t) * 1000)
        if r.status != 201:
            raise SystemExit(f"create failed: {r.status}")
    conn.close()
    return out


def on_the_server(n: int) -> None:
    server = ServerProcess()
    server.start()
    try:
        rows = [("no policy", creates(server, n, "plain"))]
        for doc in (POLICY, BINDING):
            server.kubectl("apply", "-f", "-", input=json.dumps(doc))
        rows.append(("one policy, 3 validations", creates(server, n, "checked")))
    finally:
        server.stop()
        server.cleanup()
    print(f"\n{n} sequential Deployment creates, embedded store:")
    print(f"{'':<28} {'mean ms':>8} {'p99 ms':>8} {'creates/s':>10}")
    for label, times in rows:
        times.sort()
        print(f"{label:<28} {statistics.mean(times):>8.2f} {times[int(len(times) * 0.99)]:>8.2f} "
              f"{1000 / statistics.mean(times):>10.0f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    a = p.parse_args()
    in_process(a.n)
    on_the_server(max(a.n // 4, 100))


if __name__ == "__main__":
    main()
