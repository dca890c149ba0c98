"""The embedded store and the allocators survive a restart of the server process."""

from __future__ import annotations

import json
import os
import signal

from twisted.trial import unittest

from tests.e2e.harness import ServerProcess


class RestartTests(unittest.TestCase):
    def test_objects_and_allocations_survive_restart(self) -> None:
        first = ServerProcess()
        self.addCleanup(first.cleanup)
        first.start()
        first.kubectl("create", "configmap", "kept", "--from-literal=a=1")
        first.kubectl("create", "service", "clusterip", "one", "--tcp=80:80")
        one = json.loads(first.kubectl("get", "svc", "one", "-o", "json").stdout)
        with open(os.path.join(first.cert_dir, "apiserver.crt"), "rb") as f:
            cert = f.read()
        first.stop(signal.SIGKILL)  # no graceful shutdown: acknowledged writes must still be there

        again = ServerProcess(data_dir=first.data_dir, cert_dir=first.cert_dir)
        self.addCleanup(again.cleanup)
        again.start()
        kept = json.loads(again.kubectl("get", "configmap", "kept", "-o", "json").stdout)
        self.assertEqual(kept["data"], {"a": "1"})
        self.assertEqual(json.loads(again.kubectl("get", "svc", "one", "-o", "json").stdout)["metadata"]["uid"],
                         one["metadata"]["uid"])
        ips = {one["spec"]["clusterIP"], "10.0.0.1"}
        for i in range(20):  # new services never get an address handed out before the restart
            again.kubectl("create", "service", "clusterip", f"s{i}", "--tcp=80:80")
            ip = json.loads(again.kubectl("get", "svc", f"s{i}", "-o", "json").stdout)["spec"]["clusterIP"]
            self.assertNotIn(ip, ips)
            ips.add(ip)
        # the generated serving certificate is reused, not regenerated
        with open(os.path.join(first.cert_dir, "apiserver.crt"), "rb") as f:
            self.assertEqual(f.read(), cert)
        self.assertEqual(json.loads(again.kubectl("get", "--raw", "/api", context="tls").stdout)["kind"],
                         "APIVersions")
