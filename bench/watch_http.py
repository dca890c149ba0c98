"""Watch fan-out over real HTTP: a real server process, W watches of one resource held
open by a separate client process, sequential PATCHes of one ConfigMap.

For each (watchers, media type) it prints the PATCH acknowledgement latency (request
sent -> response read), the event delivery latency (PATCH sent -> the event's bytes read
by a watcher; p50/p99 over every watcher and event), the server's CPU time per write
(the PATCH and its fan-out: less noisy than the latencies on a shared machine) and its RSS
growth per open watch.  ``--tls`` holds the watches over the secure port (admin client
certificate), as real clients do; the PATCHes stay on plain HTTP.  The client is a bare epoll loop (no HTTP parsing: it finds a marker the
PATCH puts in the object, which JSON and protobuf both carry verbatim), so it is not the
bottleneck; on a 2-core machine it still shares the CPU with the server, which adds to
the delivery figures for 10,000 watchers.  Not a test: it asserts only that events came.

    python bench/watch_http.py [--watchers 0,1000,10000] [--writes 20] [--interval 0.25]
                               [--media json,protobuf] [--backend embedded|etcd] [--tls]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import select
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import pct  # noqa: E402
from tests.e2e import harness  # noqa: E402
from tests.e2e.harness import ServerProcess  # noqa: E402
from tests.support.procstat import process_cpu_seconds, rss_kib  # noqa: E402

NS = "bench"
NAME = "target"
MARK = re.compile(rb"SEQ(\d{6});")
PROFILE = ""  # --profile: py-spy raw output files, one per row (the "after" server only)
ACCEPT = {"json": "application/json",
          "protobuf": "application/vnd.kubernetes.protobuf;stream=watch"}




# ---------------------------------------------------------------- the client process

def client(port: int, count: int, accept: str, rv: str, out: str, certs: str = "") -> None:
    """Open ``count`` watches, say "ready", record marker arrival times until stdin says stop.
    With ``certs`` (the server's cert dir) over TLS with the admin client certificate."""
    request = (f"GET /api/v1/namespaces/{NS}/configmaps?watch=1&resourceVersion={rv}"
               f"&timeoutSeconds=3600 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n\r\n").encode()
    ep = select.epoll()
    socks: dict[int, socket.socket] = {}
    tails: dict[int, bytes] = {}
    arrivals: dict[int, list[float]] = {}
    pending = 0
    ctx = None
    if certs:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(os.path.join(certs, "admin.crt"), os.path.join(certs, "admin.key"))
    for start in range(0, count, 200):  # in batches: the server's accept backlog is small
        batch = []
        for _ in range(min(200, count - start)):
            s = socket.create_connection(("127.0.0.1", port))
            if ctx is not None:
                s = ctx.wrap_socket(s)
            s.sendall(request)
            batch.append(s)
        for s in batch:  # wait for each stream's headers before opening more
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit("watch closed before its headers")
                head += chunk
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"watch refused: {head[:200]!r}")
            s.setblocking(False)
            fd = s.fileno()
            socks[fd] = s
            tails[fd] = head[head.index(b"\r\n\r\n") + 4:][-16:]
            ep.register(fd, select.EPOLLIN)
        pending += len(batch)
    ep.register(sys.stdin.fileno(), select.EPOLLIN)
    print("ready", flush=True)
    stdin = sys.stdin.fileno()
    now = time.monotonic
    running = True
    while running:
        for fd, _ in ep.poll():
            if fd == stdin:
                cmd = sys.stdin.readline().strip()
                if cmd == "count":
                    print(sum(len(v) for v in arrivals.values()), flush=True)
                else:
                    running = False
                continue
            try:
                data = socks[fd].recv(262144)
                if ctx is not None:  # the rest of what TLS has decrypted already
                    while socks[fd].pending():  # type: ignore[attr-defined]
                        data += socks[fd].recv(262144)
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            t = now()
            if not data:
                ep.unregister(fd)
                continue
            buf = tails[fd] + data
            end = 0
            for m in MARK.finditer(buf):
                arrivals.setdefault(int(m.group(1)), []).append(t)
                end = m.end()
            tails[fd] = buf[max(end, len(buf) - 16):]  # a marker split across reads, not one seen
    Path(out).write_text(json.dumps(arrivals))
    for s in socks.values():
        s.close()


# ---------------------------------------------------------------- the driver

class Conn:
    def __init__(self, port: int) -> None:
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: object = None,
                ctype: str = "application/json") -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        self.c.request(method, path, body=data, headers={"Content-Type": ctype, "Accept": "application/json"})
        r = self.c.getresponse()
        return r.status, r.read()


def run_one(server: ServerProcess, pid: int, watchers: int, media: str, writes: int,
            interval: float, seq0: int, tmp: str, tls: bool = False) -> dict[str, float]:
    c = Conn(server.insecure_port)
    base = f"/api/v1/namespaces/{NS}/configmaps"
    code, body = c.request("GET", f"{base}/{NAME}")
    rv = json.loads(body)["metadata"]["resourceVersion"]
    before = rss_kib(pid)
    proc = None
    out = os.path.join(tmp, f"arrivals-{watchers}-{media}.json")
    if watchers:
        target = [str(server.secure_port)] if tls else [str(server.insecure_port)]
        proc = subprocess.Popen([sys.executable, __file__, "--client", *target, str(watchers),
                                 ACCEPT[media], rv, out, server.cert_dir if tls else ""],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"client failed: {line!r}")
    time.sleep(0.5)
    opened = rss_kib(pid)
    c.c.close()  # opening 10,000 watches takes long enough for the server to drop an idle connection
    c = Conn(server.insecure_port)
    spy = None
    if PROFILE and watchers:
        spy = subprocess.Popen(["py-spy", "record", "-f", "raw", "-r", "200", "-o",
                                f"{PROFILE}-{watchers}-{media}.txt", "-p", str(pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    sent: dict[int, float] = {}
    acks: list[float] = []
    cpu0 = process_cpu_seconds(pid)
    for i in range(writes):
        seq = seq0 + i
        patch = {"data": {"seq": f"SEQ{seq:06d};"}}
        sent[seq] = time.monotonic()
        code, body = c.request("PATCH", f"{base}/{NAME}", patch, "application/merge-patch+json")
        acks.append(time.monotonic() - sent[seq])
        assert code == 200, (code, body[:200])
        time.sleep(max(0.0, interval - acks[-1]))
    after = rss_kib(pid)
    if proc is not None:  # until every watcher has every event, or 60 s
        assert proc.stdin is not None and proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            proc.stdin.write("count\n")
            proc.stdin.flush()
            if int(proc.stdout.readline()) >= watchers * writes:
                break
            time.sleep(0.2)
    cpu = process_cpu_seconds(pid) - cpu0  # the PATCHes and their fan-out (and 0.2 s of polling slack)
    if spy is not None:
        spy.send_signal(2)
        spy.wait(30)
    lat: list[float] = []
    got = 0
    if proc is not None:
        assert proc.stdin is not None
        time.sleep(0.5)  # anything more (duplicates) would show as more than expected
        proc.stdin.write("stop\n")
        proc.stdin.close()
        proc.wait(120)
        arrivals = {int(k): v for k, v in json.loads(Path(out).read_text()).items()}
        for seq, t0 in sent.items():
            for t in arrivals.get(seq, []):
                lat.append(t - t0)
        got = len(lat)
        time.sleep(1.0)  # let the server notice the disconnects before the next round
    c.c.close()
    ms = [x * 1000 for x in acks]
    dl = [x * 1000 for x in lat]
    return {"watchers": watchers, "media": media, "ack_p50": pct(ms, 0.5), "ack_p99": pct(ms, 0.99),
            "ack_mean": statistics.mean(ms), "deliv_p50": pct(dl, 0.5), "deliv_p99": pct(dl, 0.99),
            "deliv_max": max(dl) if dl else float("nan"), "got": got, "cpu_per_write": cpu * 1000 / writes, "expected": watchers * writes,
            "rss_per_watch": (max(opened, after) - before) * 1024 / watchers if watchers else 0.0}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        _, _, port, count, accept, rv, out, certs = sys.argv
        client(int(port), int(count), accept, rv, out, certs)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--watchers", default="0,1000,10000")
    ap.add_argument("--media", default="json,protobuf")
    ap.add_argument("--writes", type=int, default=20)
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between PATCHes")
    ap.add_argument("--backend", default="embedded", choices=["embedded", "etcd"])
    ap.add_argument("--tls", action="store_true", help="watch over the secure port (TLS, client certificate)")
    ap.add_argument("--compare", default="", metavar="DIR",
                    help="also run the server from this source tree (e.g. a `git archive` of the "
                         "base commit), row by row next to this one, in the same run")
    ap.add_argument("--profile", default="", help="record each server with py-spy (raw) to FILE-<row>.txt")
    args = ap.parse_args()
    global PROFILE
    PROFILE = args.profile
    trees = [("before", Path(args.compare)), ("after", harness.REPO)] if args.compare else [("", harness.REPO)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server and client inherit it
    tmp = tempfile.mkdtemp(prefix="kubeapi-watch-bench-")
    etcd = None
    extra: list[str] = []
    if args.backend == "etcd":
        from bench.run import start_etcd

        etcd, url = start_etcd(tmp)
        extra.append(f"--etcd-servers={url}")
    rows = []
    try:
        seq = 1
        for w in [int(x) for x in args.watchers.split(",")]:
            for media, (label, tree) in [(m, t) for m in (args.media.split(",") if w else ["-"])
                                         for t in trees]:
                # A fresh server per row: RSS growth is then the watches' own, not reused heap.
                server = ServerProcess(*extra)
                harness.REPO = tree
                try:
                    server.start()
                finally:
                    harness.REPO = trees[-1][1]
                assert server.proc is not None
                try:
                    c = Conn(server.insecure_port)
                    c.request("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
                    c.request("POST", f"/api/v1/namespaces/{NS}/configmaps",
                              {"metadata": {"name": NAME}, "data": {"seq": "SEQ000000;", "pad": "x" * 200}})
                    c.c.close()
                    rows.append(run_one(server, server.proc.pid, w, media, args.writes, args.interval, seq, tmp,
                                        args.tls))
                    rows[-1]["tree"] = label
                finally:
                    server.cleanup()
                seq += args.writes
    finally:
        if etcd:
            etcd.terminate()
            etcd.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n### watch over {'HTTPS' if args.tls else 'HTTP'} ({args.backend}): {args.writes} sequential PATCHes, "
          f"{args.interval * 1000:.0f} ms apart\n")
    print("| watchers | media | server | PATCH ack p50 / p99 ms | delivery p50 / p99 / max ms | events got | "
          "server CPU per write | RSS per watch |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = f"{r['rss_per_watch'] / 1024:.1f} KiB" if r["watchers"] else ""
        got = f"{r['got']:,}/{r['expected']:,}" if r["watchers"] else ""
        deliv = (f"{r['deliv_p50']:.1f} / {r['deliv_p99']:.1f} / {r['deliv_max']:.1f}"
                 if r["watchers"] else "")
        print(f"| {r['watchers']:,} | {r['media']} | {r['tree']} | {r['ack_p50']:.2f} / {r['ack_p99']:.2f} | {deliv} | "
              f"{got} | {r['cpu_per_write']:.0f} ms | {per} |")


if __name__ == "__main__":
    main()
