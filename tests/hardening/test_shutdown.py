"""Graceful shutdown of the real server process: systemd readiness over $NOTIFY_SOCKET, and
on SIGTERM /readyz fails first, serving goes on for --shutdown-delay-duration, watches end
cleanly and no acknowledged write is lost."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.e2e.harness import ServerProcess

CM = "/api/v1/namespaces/default/configmaps"


class Shutdown(unittest.TestCase):
    timeout = 180

    def _flow(self) -> None:
        tmp = tempfile.mkdtemp(prefix="kubeapi-notify-")
        sock_path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(30)
        self.addCleanup(sock.close)
        os.environ["NOTIFY_SOCKET"] = sock_path
        try:
            s = ServerProcess("--shutdown-delay-duration=3s")
            self.addCleanup(s.cleanup)
            s.start()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        self.assertEqual(sock.recv(4096), b"READY=1")
        assert s.proc is not None

        port = s.insecure_port
        watch = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        watch.request("GET", CM + "?watch=true")
        stream = watch.getresponse()
        self.assertEqual(stream.status, 200)

        acked: list[str] = []
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                name = f"c{i}"
                i += 1
                req = urllib.request.Request(s.url + CM, method="POST", headers={"Content-Type": "application/json"},
                                             data=json.dumps({"metadata": {"name": name}}).encode())
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        if r.status == 201:
                            acked.append(name)
                except (urllib.error.URLError, OSError, http.client.HTTPException):
                    time.sleep(0.05)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(1.0)
        s.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        ready_failed = False
        served_while_draining = False
        while time.monotonic() - t0 < 2.5:
            try:
                with urllib.request.urlopen(s.url + "/readyz?verbose", timeout=2) as r:
                    pass
            except urllib.error.HTTPError as e:
                if e.code == 500 and b"[-]shutdown failed" in e.read():
                    ready_failed = True
            try:
                with urllib.request.urlopen(s.url + "/api/v1/namespaces/default", timeout=2) as r:
                    served_while_draining = served_while_draining or (ready_failed and r.status == 200)
            except OSError:
                pass
            if ready_failed and served_while_draining:
                break
            time.sleep(0.05)
        self.assertTrue(ready_failed, "/readyz did not report shutdown")
        self.assertTrue(served_while_draining, "requests were not served during --shutdown-delay-duration")
        self.assertEqual(sock.recv(4096), b"STOPPING=1")
        body = stream.read()  # ends cleanly: a complete chunked body, no IncompleteRead
        self.assertIsInstance(body, bytes)
        watch.close()
        self.assertIn(s.proc.wait(60), (0, -signal.SIGTERM))
        stop.set()
        t.join(30)
        self.assertGreater(len(acked), 5)

        again = ServerProcess(data_dir=s.data_dir)
        self.addCleanup(again.cleanup)
        again.start()
        with urllib.request.urlopen(again.url + CM, timeout=10) as r:
            names = {i["metadata"]["name"] for i in json.loads(r.read())["items"]}
        self.assertEqual(set(acked) - names, set(), "acknowledged writes lost")

    def test_sigterm_drains_and_loses_nothing(self) -> Any:
        return deferToThread(self._flow)
