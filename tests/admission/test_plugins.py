"""The small built-in plugins through the real stores: what a client sees after create/update."""

from __future__ import annotations

import os
import tempfile

from twisted.trial import unittest

from kubeapi.admission import config as admission_config
from kubeapi.errors import StatusError
from kubeapi.options import ADMISSION_PLUGINS
from tests.admission.helpers import AdmissionCase, W, async_test, pod


class AlwaysTests(AdmissionCase):
    @async_test
    async def test_always_deny(self) -> None:
        s = self.stores(("AlwaysDeny",))
        with self.assertRaises(StatusError) as cm:
            await s["configmaps"].create("default", {"metadata": {"name": "a"}}, W)
        self.assertEqual((cm.exception.code, cm.exception.message),
                         (403, 'configmaps "a" is forbidden: admission control is denying all modifications'))

    @async_test
    async def test_always_admit(self) -> None:
        s = self.stores(("AlwaysAdmit",))
        await s["configmaps"].create("default", {"metadata": {"name": "a"}}, W)

    @async_test
    async def test_always_pull_images(self) -> None:
        s = self.stores(("AlwaysPullImages",))
        p = pod("p", containers=[{"name": "c", "image": "x", "imagePullPolicy": "IfNotPresent"}],
                initContainers=[{"name": "i", "image": "y", "imagePullPolicy": "Never"}])
        out = await s["pods"].create("default", p, W)
        self.assertEqual([c["imagePullPolicy"] for c in out["spec"]["containers"] + out["spec"]["initContainers"]],
                         ["Always", "Always"])


class PodDefaultTests(AdmissionCase):
    @async_test
    async def test_default_toleration_seconds(self) -> None:
        s = self.stores(("DefaultTolerationSeconds",))
        out = await s["pods"].create("default", pod("p"), W)
        self.assertEqual(out["spec"]["tolerations"], [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}])
        mine = pod("q", tolerations=[{"operator": "Exists"}])  # tolerates everything: nothing added
        out = await s["pods"].create("default", mine, W)
        self.assertEqual(out["spec"]["tolerations"], [{"operator": "Exists"}])

    @async_test
    async def test_priority(self) -> None:
        s = self.stores(("Priority",))
        await s["priorityclasses"].create("", {"metadata": {"name": "high"}, "value": 1000,
                                               "preemptionPolicy": "Never"}, W)
        out = await s["pods"].create("default", pod("p", priorityClassName="high"), W)
        self.assertEqual((out["spec"]["priority"], out["spec"]["preemptionPolicy"]), (1000, "Never"))
        out = await s["pods"].create("default", pod("none"), W)
        self.assertEqual(out["spec"]["priority"], 0)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("x", priorityClassName="ghost"), W)
        self.assertEqual(cm.exception.message, 'pods "x" is forbidden: no PriorityClass with name ghost was found')
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("y", priorityClassName="high", priority=5), W)
        self.assertEqual(cm.exception.message, 'pods "y" is forbidden: the integer value of priority (5) must not '
                                               'be provided in pod spec; priority admission controller computed 1000 '
                                               'from the given PriorityClass name')
        await s["priorityclasses"].create("", {"metadata": {"name": "dflt"}, "value": 7, "globalDefault": True}, W)
        out = await s["pods"].create("default", pod("d"), W)
        self.assertEqual((out["spec"]["priorityClassName"], out["spec"]["priority"]), ("dflt", 7))
        with self.assertRaises(StatusError) as cm:
            await s["priorityclasses"].create("", {"metadata": {"name": "d2"}, "value": 8, "globalDefault": True}, W)
        self.assertEqual(cm.exception.message, 'priorityclasses.scheduling.k8s.io "d2" is forbidden: PriorityClass '
                                               'dflt is already marked as default. Only one default can exist')

    @async_test
    async def test_service_account(self) -> None:
        s = self.stores(("ServiceAccount",))
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("p", serviceAccountName="robot"), W)
        self.assertEqual(cm.exception.message, 'pods "p" is forbidden: error looking up service account '
                                               'default/robot: serviceaccount "robot" not found')
        await s["serviceaccounts"].create("default", {"metadata": {"name": "robot"},
                                                      "imagePullSecrets": [{"name": "reg"}]}, W)
        out = await s["pods"].create("default", pod("p", serviceAccountName="robot"), W)
        vols = out["spec"]["volumes"]
        self.assertEqual(len(vols), 1)
        self.assertTrue(vols[0]["name"].startswith("kube-api-access-"))
        self.assertEqual(out["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
                         "/var/run/secrets/kubernetes.io/serviceaccount")
        self.assertEqual(out["spec"]["imagePullSecrets"], [{"name": "reg"}])
        out = await s["pods"].create("default", pod("n", serviceAccountName="robot",
                                                    automountServiceAccountToken=False), W)
        self.assertNotIn("volumes", out["spec"])


class ClusterObjectTests(AdmissionCase):
    @async_test
    async def test_taint_nodes_by_condition(self) -> None:
        s = self.stores(("TaintNodesByCondition",))
        out = await s["nodes"].create("", {"metadata": {"name": "n1"}}, W)
        self.assertEqual(out["spec"]["taints"], [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])

    @async_test
    async def test_storage_protection_finalizers(self) -> None:
        s = self.stores(("StorageObjectInUseProtection",))
        pvc = {"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                   "resources": {"requests": {"storage": "1Gi"}}}}
        out = await s["pvcs"].create("default", pvc, W)
        self.assertEqual(out["metadata"]["finalizers"], ["kubernetes.io/pvc-protection"])
        pv = {"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                                  "hostPath": {"path": "/tmp"}}}
        out = await s["pvs"].create("", pv, W)
        self.assertEqual(out["metadata"]["finalizers"], ["kubernetes.io/pv-protection"])

    @async_test
    async def test_default_storage_and_ingress_class(self) -> None:
        s = self.stores(("DefaultStorageClass", "DefaultIngressClass"))
        await s["storageclasses"].create("", {"metadata": {"name": "fast", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "x"}, W)
        pvc = {"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                   "resources": {"requests": {"storage": "1Gi"}}}}
        out = await s["pvcs"].create("default", pvc, W)
        self.assertEqual(out["spec"]["storageClassName"], "fast")
        await s["ingressclasses"].create("", {"metadata": {"name": "nginx", "annotations": {
            "ingressclass.kubernetes.io/is-default-class": "true"}}, "spec": {"controller": "k8s.io/nginx"}}, W)
        ing = {"metadata": {"name": "i"}, "spec": {"defaultBackend": {"service": {"name": "s",
                                                                                  "port": {"number": 80}}}}}
        out = await s["ingresses"].create("default", ing, W)
        self.assertEqual(out["spec"]["ingressClassName"], "nginx")


class RuntimeClassAndResizeTests(AdmissionCase):
    @async_test
    async def test_runtime_class(self) -> None:
        s = self.stores(("RuntimeClass",))
        await s["runtimeclasses"].create("", {"metadata": {"name": "kata"}, "handler": "kata",
                                              "overhead": {"podFixed": {"cpu": "250m"}},
                                              "scheduling": {"nodeSelector": {"rt": "kata"},
                                                             "tolerations": [{"key": "rt", "operator": "Exists"}]}}, W)
        out = await s["pods"].create("default", pod("p", runtimeClassName="kata"), W)
        spec = out["spec"]
        self.assertEqual((spec["overhead"], spec["nodeSelector"]), ({"cpu": "250m"}, {"rt": "kata"}))
        self.assertIn({"key": "rt", "operator": "Exists"}, spec["tolerations"])
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("q", runtimeClassName="gone"), W)
        self.assertEqual(cm.exception.message, 'pods "q" is forbidden: pod rejected: RuntimeClass "gone" not found')
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("r", runtimeClassName="kata", nodeSelector={"rt": "runc"}), W)
        self.assertEqual(cm.exception.message, 'pods "r" is forbidden: conflict: runtimeClass.scheduling.'
                                               'nodeSelector[rt] = kata; pod.spec.nodeSelector[rt] = runc')
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("o", overhead={"cpu": "1"}), W)
        self.assertEqual(cm.exception.message, 'pods "o" is forbidden: pod rejected: Pod Overhead set without '
                                               'corresponding RuntimeClass defined Overhead')

    @async_test
    async def test_pvc_resize(self) -> None:
        s = self.stores(("PersistentVolumeClaimResize",))
        await s["storageclasses"].create("", {"metadata": {"name": "grow"}, "provisioner": "x",
                                              "allowVolumeExpansion": True}, W)
        await s["storageclasses"].create("", {"metadata": {"name": "fixed"}, "provisioner": "x"}, W)
        for name, cls in (("a", "grow"), ("b", "fixed")):
            await s["pvcs"].create("default", {"metadata": {"name": name}, "spec": {
                "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                "resources": {"requests": {"storage": "1Gi"}}}}, W)

        async def grow(name: str) -> None:
            cur = await s["pvcs"].get("default", name)
            cur["spec"]["resources"]["requests"]["storage"] = "2Gi"
            await s["pvcs"].update("default", name, cur, W)

        with self.assertRaises(StatusError) as cm:
            await grow("a")
        self.assertEqual(cm.exception.message, 'persistentvolumeclaims "a" is forbidden: Only bound persistent '
                                               'volume claims can be expanded')
        for name in ("a", "b"):
            cur = await s["pvcs"].get("default", name)
            cur["status"] = {"phase": "Bound"}
            await s["pvcs"].update("default", name, cur, W, subresource="status")
        await grow("a")
        with self.assertRaises(StatusError) as cm:
            await grow("b")
        self.assertIn("only dynamically provisioned pvc can be resized", cm.exception.message)


class ConfigFileTests(unittest.TestCase):
    def write(self, text: str, name: str = "admission.yaml") -> str:
        d = tempfile.mkdtemp()
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_inline_and_path(self) -> None:
        path = self.write("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n"
                          "- name: DefaultTolerationSeconds\n  configuration: {defaultNotReadyTolerationSeconds: 60}\n"
                          "- name: ResourceQuota\n  path: quota.yaml\n")
        with open(os.path.join(os.path.dirname(path), "quota.yaml"), "w") as f:
            f.write("apiVersion: apiserver.config.k8s.io/v1\nkind: ResourceQuotaConfiguration\nlimitedResources: []\n")
        conf = admission_config.load(path, ADMISSION_PLUGINS)
        self.assertEqual(conf["DefaultTolerationSeconds"], {"defaultNotReadyTolerationSeconds": 60})
        self.assertEqual(conf["ResourceQuota"]["kind"], "ResourceQuotaConfiguration")

    def test_errors_are_one_line(self) -> None:
        bad_kind = self.write("apiVersion: v1\nkind: Pod\n")
        with self.assertRaises(admission_config.AdmissionConfigError) as cm:
            admission_config.load(bad_kind)
        self.assertIn('no kind "Pod" is registered for version "v1"', str(cm.exception))
        unknown = self.write("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
                             "plugins: [{name: Nope}]\n")
        with self.assertRaises(admission_config.AdmissionConfigError) as cm:
            admission_config.load(unknown, ADMISSION_PLUGINS)
        self.assertIn("plugin 'Nope' is unknown", str(cm.exception))
        for e in (cm.exception,):
            self.assertNotIn("\n", str(e))


class ServiceWiringTests(unittest.TestCase):
    def test_bad_config_file_stops_the_server_with_one_line(self) -> None:
        from kubeapi.service import build_admission

        path = os.path.join(tempfile.mkdtemp(), "bad.yaml")
        with open(path, "w") as f:
            f.write("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins: [{name: Nope}]\n")
        with self.assertRaises(SystemExit) as cm:
            build_admission(["NamespaceLifecycle"], None, "/registry", config_file=path)  # type: ignore[arg-type]
        self.assertEqual(str(cm.exception).count("\n"), 0)
        self.assertIn("--admission-control-config-file", str(cm.exception))

    def test_unknown_plugin_name_is_refused(self) -> None:
        from twisted.python import usage

        from kubeapi.options import Options

        with self.assertRaises(usage.UsageError) as cm:
            Options().parseOptions(["--enable-admission-plugins=Bogus"])
        self.assertIn("'Bogus' is unknown", str(cm.exception))

    def test_default_chain_order(self) -> None:
        from kubeapi.options import Options

        o = Options()
        o.parseOptions(["--enable-admission-plugins=AlwaysPullImages,NodeRestriction",
                        "--disable-admission-plugins=DefaultIngressClass"])
        names = o.admission_plugins()
        self.assertEqual(names[:5], ["NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction",
                                     "TaintNodesByCondition"])
        self.assertNotIn("DefaultIngressClass", names)
        self.assertEqual(names[-1], "ResourceQuota")
