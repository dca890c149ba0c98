"""GET one object, side by side with its baseline: kubeapi against a bare twisted.web resource
(`bench/bare.py`) serving the very bytes kubeapi answered, both loaded by wrk from another
process, in one run.

    python bench/get.py [--seconds 5] [--connections 1,16] [--tls] [--protobuf]

Prints, per case: requests/s, p99, CPU µs per request (the server process's own CPU time over
the run), and kubeapi's ratio to the bare server.  Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import ServerProcess, free_port  # noqa: E402
from tests.support.procstat import process_cpu_seconds  # noqa: E402

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
TOKEN = "bench-token-0123456789"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}



def wrk(url: str, connections: int, seconds: float, headers: dict[str, str]) -> tuple[float, float]:
    """(requests/s, p99 ms) as wrk measured them."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    run = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60)
    out = run.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"wrk {url}: {out}{run.stderr}")
    rate = float(found.group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return rate, p99


def measure(pid: int, url: str, connections: int, seconds: float, headers: dict[str, str]) -> tuple[float, float, float]:
    before = process_cpu_seconds(pid)
    rate, p99 = wrk(url, connections, seconds, headers)
    used = process_cpu_seconds(pid) - before
    return rate, p99, used / max(rate * seconds, 1) * 1e6


def fetch(url: str, headers: dict[str, str], cafile: str | None) -> tuple[bytes, str]:
    import ssl

    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return r.read(), r.headers["Content-Type"]


def table(seconds: float = 5, connections: tuple[int, ...] = (1, 16), tls: bool = True,
          protobuf: bool = True) -> list[str]:
    """The GET rows, kubeapi beside the bare server, one case per line."""
    tmp = tempfile.mkdtemp(prefix="kubeapi-bench-get-")
    tokens = os.path.join(tmp, "tokens.csv")
    Path(tokens).write_text(f'{TOKEN},bench,bench-uid,"system:masters"\n')
    server = ServerProcess(f"--token-auth-file={tokens}")
    server.start()
    bare: list[subprocess.Popen[bytes]] = []
    rows = ["| case | conns | kubeapi req/s | bare req/s | ratio | kubeapi p99 ms | bare p99 ms |"
            " kubeapi CPU µs/req | bare CPU µs/req |", "|---|---|---|---|---|---|---|---|---|"]
    try:
        base = server.url
        req = urllib.request.Request(base + "/api/v1/namespaces/default/configmaps", method="POST",
                                     data=b'{"metadata":{"name":"one"},"data":{"key":"' + b"x" * 64 + b'"}}',
                                     headers={"Content-Type": JSON})
        urllib.request.urlopen(req, timeout=10).read()
        path = "/api/v1/namespaces/default/configmaps/one"
        ca = os.path.join(server.cert_dir, "ca.crt")
        for secure in [False] + ([True] if tls else []):
            for mt in [JSON] + ([PROTOBUF] if protobuf else []):
                headers = {"Accept": mt}
                if secure:
                    headers["Authorization"] = f"Bearer {TOKEN}"
                ours = (server.secure_url if secure else base) + path
                body, ctype = fetch(ours, headers, ca if secure else None)
                body_file = os.path.join(tmp, f"body-{len(bare)}")
                Path(body_file).write_bytes(body)
                port = free_port()
                argv = [sys.executable, str(Path(__file__).with_name("bare.py")), str(port), body_file, ctype]
                if secure:
                    argv += [os.path.join(server.cert_dir, "apiserver.crt"),
                             os.path.join(server.cert_dir, "apiserver.key")]
                proc = subprocess.Popen(argv)
                bare.append(proc)
                theirs = f"{'https' if secure else 'http'}://127.0.0.1:{port}{path}"
                for _ in range(100):
                    try:
                        fetch(theirs, {}, ca if secure else None)
                        break
                    except OSError:
                        time.sleep(0.05)
                for conns in connections:
                    assert server.proc is not None
                    k = measure(server.proc.pid, ours, conns, seconds, headers)
                    b = measure(proc.pid, theirs, conns, seconds, headers)
                    name = f"GET configmap {'TLS' if secure else 'plain'} {'protobuf' if mt == PROTOBUF else 'JSON'}"
                    rows.append(f"| {name} | {conns} | {k[0]:,.0f} | {b[0]:,.0f} | {k[0] / b[0]:.2f} | {k[1]:.2f} |"
                                f" {b[1]:.2f} | {k[2]:.0f} | {b[2]:.0f} |")
                    print(rows[-1], file=sys.stderr, flush=True)
    finally:
        for proc in bare:
            proc.terminate()
            proc.wait(10)
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", default="1,16")
    ap.add_argument("--tls", action="store_true", help="also over TLS (token authentication)")
    ap.add_argument("--protobuf", action="store_true", help="also with Accept: protobuf")
    a = ap.parse_args()
    for line in table(a.seconds, tuple(int(c) for c in a.connections.split(",")), a.tls, a.protobuf):
        print(line)


if __name__ == "__main__":
    main()
