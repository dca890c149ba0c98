"""Memory after a burst of watches: 2,000 watches open and end; the server, started as
``python -m kubeapi`` (glibc's allocator, as the systemd unit runs it), must come back near its
idle figure: its trimmer returns the freed pages."""

from __future__ import annotations

import socket
import sys
import time
from typing import Any

from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.e2e.harness import ServerProcess
from tests.support.procstat import rss_mib


class ModuleServer(ServerProcess):
    """The server as ``python -m kubeapi`` starts it (it sets PYTHONMALLOC=malloc itself)."""

    def command(self) -> list[str]:
        argv = super().command()
        return [sys.executable, "-m", "kubeapi", *argv[argv.index("kubeapi") + 1:]]

WATCHES = 2000



def allocator(pid: int) -> str:
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    return env.get(b"PYTHONMALLOC", b"").decode()


class WatchMemory(unittest.TestCase):
    timeout = 240

    def _flow(self) -> None:
        s = ModuleServer()
        self.addCleanup(s.cleanup)
        s.start()
        assert s.proc is not None
        time.sleep(2)
        idle = rss_mib(s.proc.pid)
        socks = []
        try:
            for _ in range(WATCHES):
                c = socket.create_connection(("127.0.0.1", s.insecure_port), timeout=10)
                c.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(c)
            for c in socks[-10:]:
                self.assertTrue(c.recv(64).startswith(b"HTTP/1.1 200"))
            time.sleep(3)
            peak = rss_mib(s.proc.pid)
        finally:
            for c in socks:
                c.close()
        after = peak
        for _ in range(60):  # the trim runs every few seconds once streams have ended
            time.sleep(0.5)
            after = rss_mib(s.proc.pid)
            if after - idle < (peak - idle) / 4:
                break
        print(f"\nwatch memory: idle={idle:.0f}MiB with {WATCHES} watches={peak:.0f}MiB after={after:.0f}MiB")
        self.assertGreater(peak - idle, 10)  # the watches did cost memory
        self.assertEqual(allocator(s.proc.pid), "malloc")
        self.assertLess(after - idle, (peak - idle) / 4, (idle, peak, after))

    def test_memory_returns_after_watches_end(self) -> Any:
        return deferToThread(self._flow)
