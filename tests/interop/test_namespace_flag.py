"""``--enable-namespace-controller=false`` leaves namespace finalization to another controller
(kube-controller-manager's, in the interop suite), as upstream kube-apiserver has none."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from kubeapi.options import Options
from tests.e2e.harness import ServerProcess
from tests.support.waiting import wait_until


class NamespaceControllerFlagTests(unittest.TestCase):
    def test_default_on_and_parsed(self) -> None:
        o = Options()
        o.parseOptions([])
        self.assertIs(o["enable-namespace-controller"], True)
        o = Options()
        o.parseOptions(["--enable-namespace-controller=false"])
        self.assertIs(o["enable-namespace-controller"], False)

    def _terminating_stays(self) -> None:
        server = ServerProcess("--enable-namespace-controller=false")
        self.addCleanup(server.cleanup)
        server.start()
        server.kubectl("create", "namespace", "doomed")
        server.kubectl("create", "configmap", "c", "--from-literal=a=b", "-n", "doomed")
        server.kubectl("delete", "namespace", "doomed", "--wait=false")
        # Nothing empties it: it stays Terminating with its content.
        self.assertFalse(wait_until(
            lambda: server.kubectl("get", "namespace", "doomed", check=False).returncode != 0, 3, 0.2))
        ns = server.kubectl_json("get", "namespace", "doomed")
        self.assertEqual(ns["status"]["phase"], "Terminating")
        self.assertEqual(ns["spec"]["finalizers"], ["kubernetes"])
        server.kubectl("get", "configmap", "c", "-n", "doomed")

    def test_off_leaves_namespaces_terminating(self) -> Deferred[None]:
        return deferToThread(self._terminating_stays)
