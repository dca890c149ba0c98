"""Start-up on the embedded store: time from `twistd kubeapi` being spawned to `/readyz`
answering 200, with an empty store and with N objects in it, and the idle RSS after.

    python bench/start.py [--objects 10000]

Bytecode is written and used as an installed package would (this machine's environment sets
PYTHONDONTWRITEBYTECODE, which would compile every module on each start).  The N ConfigMaps are copies of one the server itself stored, written into its database
directly (creating them over HTTP would take minutes and measure creates, not start-up).
Not a test.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import ServerProcess  # noqa: E402
from tests.support.procstat import rss_mib  # noqa: E402

KEY = "/registry/configmaps/default/"



def start_once(data_dir: str) -> tuple[float, float, ServerProcess]:
    server = ServerProcess(data_dir=data_dir, cert_dir=str(Path(data_dir) / "certs"))
    t0 = time.monotonic()
    server.start(timeout=120)
    ready = time.monotonic() - t0
    time.sleep(5)
    assert server.proc is not None
    return ready, rss_mib(server.proc.pid), server


def fill(data_dir: str, n: int) -> None:
    """Copy the one stored ConfigMap n times under new names, as new revisions."""
    db = sqlite3.connect(str(Path(data_dir) / "kubeapi.db"))
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(kv)")]
        row = db.execute("SELECT * FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1", (KEY + "seed",)).fetchone()
        template = dict(zip(cols, row, strict=True))
        value = bytes(template["value"])
        top = db.execute("SELECT MAX(id) FROM kv").fetchone()[0]
        rows = []
        for i in range(n):
            rec = dict(template, id=top + 1 + i, name=f"{KEY}cm-{i:05d}",
                       value=value.replace(b'"seed"', f'"cm-{i:05d}"'.encode()))
            rec["create_revision"] = rec["id"]
            rows.append(tuple(rec[c] for c in cols))
        db.executemany(f"INSERT INTO kv ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        db.commit()
    finally:
        db.close()


def table(objects: int = 10000) -> list[str]:
    # As installed (pip writes bytecode): compile once, not on every start.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    data_dir = tempfile.mkdtemp(prefix="kubeapi-bench-start-")
    rows = ["| case | ready s | idle RSS MiB |", "|---|---|---|"]
    ready, rss, server = start_once(data_dir)
    rows.append(f"| first start, empty store (writes the CA and certificates) | {ready:.2f} | {rss:.0f} |")
    req = urllib.request.Request(server.url + "/api/v1/namespaces/default/configmaps", method="POST",
                                 data=b'{"metadata":{"name":"seed"},"data":{"key":"' + b"x" * 200 + b'"}}',
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    server.stop()
    ready, rss, server = start_once(data_dir)
    rows.append(f"| restart, empty store | {ready:.2f} | {rss:.0f} |")
    server.stop()
    fill(data_dir, objects)
    ready, rss, server = start_once(data_dir)
    rows.append(f"| restart, {objects:,} ConfigMaps stored | {ready:.2f} | {rss:.0f} |")
    server.cleanup()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10000)
    for line in table(ap.parse_args().objects):
        print(line)


if __name__ == "__main__":
    main()
