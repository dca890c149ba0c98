"""The kinds added at API level v1.34: defaulting, validation (upstream's field paths and
messages), immutable fields, printing, the HPA v1<->v2 conversion and the bootstrap objects."""

from __future__ import annotations

import copy
import json
from typing import Any

from twisted.trial import unittest

from kubeapi.api import autoscaling, builtin_catalog
from kubeapi.api.apiregistration import local_apiservices
from kubeapi.api.generated import group_versions
from kubeapi.controllers.builtin_objects import flowcontrol_objects
from tests.api.helpers import cells, defaulted, errors, fields

CAT = builtin_catalog()


def r(group: str, plural: str, version: str = "v1") -> Any:
    found = CAT.get(group, version, plural)
    assert found is not None, plural
    return found


def meta(name: str = "x", ns: str | None = None) -> dict:
    m: dict = {"name": name}
    if ns:
        m["namespace"] = ns
    return m


class Policy(unittest.TestCase):
    PDB = r("policy", "poddisruptionbudgets")

    def test_both_bounds_refused(self) -> None:
        pdb = {"metadata": meta("p", "d"), "spec": {"minAvailable": 1, "maxUnavailable": "10%"}}
        errs = errors(self.PDB, pdb)
        self.assertEqual(fields(errs), [("spec", "FieldValueInvalid")])
        self.assertIn("minAvailable and maxUnavailable cannot be both set", errs[0].message())

    def test_percent_and_columns(self) -> None:
        bad = {"metadata": meta("p", "d"), "spec": {"maxUnavailable": "120%"}}
        self.assertEqual(fields(errors(self.PDB, bad)), [("spec.maxUnavailable", "FieldValueInvalid")])
        row = cells(self.PDB, {"metadata": meta("p", "d"), "spec": {"minAvailable": "50%"},
                               "status": {"disruptionsAllowed": 2}})
        self.assertEqual((row["Min Available"], row["Max Unavailable"], row["Allowed Disruptions"]),
                         ("50%", "N/A", 2))
        self.assertTrue(self.PDB.has_status)


class Rbac(unittest.TestCase):
    def test_rules(self) -> None:
        role = r("rbac.authorization.k8s.io", "roles")
        errs = errors(role, {"metadata": meta("r", "d"), "rules": [{"resources": ["pods"]},
                                                                   {"verbs": ["get"], "nonResourceURLs": ["/x"]}]})
        self.assertEqual(fields(errs), [("rules[0].verbs", "FieldValueRequired"),
                                        ("rules[0].apiGroups", "FieldValueRequired"),
                                        ("rules[1].nonResourceURLs", "FieldValueInvalid")])
        cluster = r("rbac.authorization.k8s.io", "clusterroles")
        self.assertEqual(errors(cluster, {"metadata": meta("c"), "rules": [{"verbs": ["get"],
                                                                           "nonResourceURLs": ["/x"]}]}), [])

    def test_binding_defaults_validation_and_immutable_role_ref(self) -> None:
        rb = r("rbac.authorization.k8s.io", "rolebindings")
        b = defaulted(rb, {"metadata": meta("b", "d"), "roleRef": {"kind": "Role", "name": "r"},
                           "subjects": [{"kind": "User", "name": "alice"}]})
        self.assertEqual(b["roleRef"]["apiGroup"], "rbac.authorization.k8s.io")
        self.assertEqual(b["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io")
        self.assertEqual(errors(rb, b), [])
        crb = r("rbac.authorization.k8s.io", "clusterrolebindings")
        bad = defaulted(crb, {"metadata": meta("b"), "roleRef": {"kind": "Role", "name": "r"}})
        self.assertEqual(fields(errors(crb, bad)), [("roleRef.kind", "FieldValueNotSupported")])
        new = copy.deepcopy(b)
        new["roleRef"]["name"] = "other"
        assert rb.validate_update is not None
        self.assertIn("cannot change roleRef", rb.validate_update(new, b)[0].message())
        row = cells(rb, b)
        self.assertEqual((row["Role"], row["Users"]), ("Role/r", "alice"))

    def test_storage_keys(self) -> None:
        self.assertEqual(r("rbac.authorization.k8s.io", "clusterroles").key("/registry", None, "admin"),
                         "/registry/clusterroles/admin")


class Storage(unittest.TestCase):
    SC = r("storage.k8s.io", "storageclasses")

    def test_storage_class(self) -> None:
        sc = defaulted(self.SC, {"metadata": meta("fast"), "provisioner": "p"})
        self.assertEqual((sc["reclaimPolicy"], sc["volumeBindingMode"]), ("Delete", "Immediate"))
        self.assertEqual(fields(errors(self.SC, {"metadata": meta("s")})), [("provisioner", "FieldValueRequired")])
        new = dict(sc, provisioner="q")
        assert self.SC.validate_update is not None
        self.assertEqual([e.message() for e in self.SC.validate_update(new, sc)],
                         ["provisioner: Forbidden: updates to provisioner are forbidden."])
        sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        self.assertEqual(cells(self.SC, sc)["Name"], "fast (default)")

    def test_csi_driver_defaults_and_volume_attachment_immutable(self) -> None:
        d = defaulted(r("storage.k8s.io", "csidrivers"), {"metadata": meta("csi.example.com")})
        self.assertEqual((d["spec"]["attachRequired"], d["spec"]["volumeLifecycleModes"]), (True, ["Persistent"]))
        va = r("storage.k8s.io", "volumeattachments")
        old = {"metadata": meta("va"), "spec": {"attacher": "a", "nodeName": "n",
                                                "source": {"persistentVolumeName": "pv"}}}
        self.assertEqual(errors(va, old), [])
        new = copy.deepcopy(old)
        new["spec"]["nodeName"] = "m"
        assert va.validate_update is not None
        self.assertEqual(fields(va.validate_update(new, old)), [("spec", "FieldValueInvalid")])


class Scheduling(unittest.TestCase):
    PC = r("scheduling.k8s.io", "priorityclasses")

    def test_value_rules(self) -> None:
        pc = defaulted(self.PC, {"metadata": meta("high"), "value": 1000})
        self.assertEqual(pc["preemptionPolicy"], "PreemptLowerPriority")
        self.assertEqual(errors(self.PC, pc), [])
        self.assertEqual(fields(errors(self.PC, {"metadata": meta("system-mine"), "value": 1})),
                         [("metadata.name", "FieldValueForbidden")])
        self.assertEqual(fields(errors(self.PC, {"metadata": meta("big"), "value": 2_000_000_000})),
                         [("value", "FieldValueForbidden")])
        assert self.PC.validate_update is not None
        self.assertEqual([e.message() for e in self.PC.validate_update(dict(pc, value=5), pc)],
                         ["value: Forbidden: may not be changed in an update."])


class Networking(unittest.TestCase):
    def test_ingress_path_type_required(self) -> None:
        ing = r("networking.k8s.io", "ingresses")
        bad = {"metadata": meta("i", "d"), "spec": {"rules": [{"http": {"paths": [
            {"path": "/", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}}
        self.assertEqual([e.message() for e in errors(ing, bad)],
                         ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"])
        self.assertEqual(ing.key("/registry", "d", "i"), "/registry/ingress/d/i")

    def test_network_policy_defaults_and_ip_address(self) -> None:
        np = defaulted(r("networking.k8s.io", "networkpolicies"),
                       {"metadata": meta("n", "d"), "spec": {"egress": [{"ports": [{"port": 53}]}]}})
        self.assertEqual(np["spec"]["policyTypes"], ["Ingress", "Egress"])
        self.assertEqual(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP")
        ip = r("networking.k8s.io", "ipaddresses")
        good = {"metadata": meta("10.0.0.1"), "spec": {"parentRef": {"resource": "services", "name": "s"}}}
        self.assertEqual(errors(ip, good), [])
        self.assertEqual(fields(errors(ip, dict(good, metadata=meta("2001:DB8::1")))),
                         [("metadata.name", "FieldValueInvalid")])


class Certificates(unittest.TestCase):
    CSR = r("certificates.k8s.io", "certificatesigningrequests")

    def test_approval_changes_only_conditions(self) -> None:
        old = {"metadata": meta("c"), "spec": {"request": "eA==", "signerName": "s", "usages": ["client auth"]},
               "status": {"certificate": "Y2VydA=="}}
        self.assertEqual(errors(self.CSR, old), [])
        new = copy.deepcopy(old)
        new["spec"]["signerName"] = "changed"
        new["status"] = {"conditions": [{"type": "Approved", "status": "True"}], "certificate": ""}
        out = self.CSR.update_strategies["approval"](copy.deepcopy(old), new)
        self.assertEqual(out["spec"]["signerName"], "s")
        self.assertEqual(out["status"], {"certificate": "Y2VydA==", "conditions": [{"type": "Approved",
                                                                                   "status": "True"}]})
        self.assertEqual(cells(self.CSR, out)["Condition"], "Approved,Issued")


class Autoscaling(unittest.TestCase):
    V2 = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("h", "d"),
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
                   "minReplicas": 2, "maxReplicas": 5,
                   "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                       "type": "Utilization", "averageUtilization": 60}}},
                               {"type": "External", "external": {"metric": {"name": "q"}, "target": {
                                   "type": "Value", "value": "3"}}}],
                   "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
          "status": {"currentReplicas": 2, "desiredReplicas": 2,
                     "conditions": [{"type": "AbleToScale", "status": "True"}],
                     "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                         "averageUtilization": 40}}}]}}

    def test_v2_to_v1_and_back_loses_nothing(self) -> None:
        v1 = autoscaling.v2_to_v1(self.V2)
        self.assertEqual(v1["spec"]["targetCPUUtilizationPercentage"], 60)
        self.assertEqual(v1["status"]["currentCPUUtilizationPercentage"], 40)
        ann = v1["metadata"]["annotations"]
        self.assertEqual(json.loads(ann[autoscaling.METRICS_ANN]),
                         [{"type": "External", "external": {"metricName": "q", "targetValue": "3"}}])
        self.assertEqual(json.loads(ann[autoscaling.BEHAVIOR_ANN]), {"scaleDown": {"stabilizationWindowSeconds": 60}})
        back = autoscaling.v1_to_v2(v1)
        self.assertEqual(back["spec"], self.V2["spec"] | {"metrics": [self.V2["spec"]["metrics"][1],
                                                                       self.V2["spec"]["metrics"][0]]})
        self.assertEqual(back["status"], self.V2["status"])
        self.assertNotIn("annotations", back["metadata"])

    def test_v1_defaults_to_cpu_80_and_columns(self) -> None:
        v1 = {"apiVersion": "autoscaling/v1", "metadata": meta("h", "d"),
              "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3}}
        v2 = autoscaling.v1_to_v2(v1)
        self.assertEqual(v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80)
        row = cells(r("autoscaling", "horizontalpodautoscalers", "v2"), v2)
        self.assertEqual((row["Reference"], row["Targets"], row["MinPods"]), ("Deployment/d",
                                                                               "cpu: <unknown>/80%", "<unset>"))

    def test_validation(self) -> None:
        hpa = r("autoscaling", "horizontalpodautoscalers", "v2")
        bad = {"metadata": meta("h", "d"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"},
                                                    "minReplicas": 4, "maxReplicas": 2}}
        self.assertEqual([e.message() for e in errors(hpa, bad)],
                         ["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"])


class Bootstrap(unittest.TestCase):
    def test_local_apiservices(self) -> None:
        names = [s["metadata"]["name"] for s in local_apiservices(group_versions())]
        self.assertEqual(len(names), 21)
        self.assertIn("v1.", names)
        self.assertIn("v2.autoscaling", names)
        self.assertNotIn("v1.apiregistration.k8s.io", names)
        core = next(s for s in local_apiservices(group_versions()) if s["metadata"]["name"] == "v1.")
        self.assertEqual(core["spec"], {"version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1})

    def test_flowcontrol_objects(self) -> None:
        pls, fss = flowcontrol_objects()
        self.assertEqual(sorted(p["metadata"]["name"] for p in pls),
                         ["catch-all", "exempt", "global-default", "leader-election", "node-high", "system",
                          "workload-high", "workload-low"])
        self.assertEqual(len(fss), 11)
        self.assertEqual(fss[0]["metadata"]["annotations"], {"apf.kubernetes.io/autoupdate-spec": "true"})
        fs = r("flowcontrol.apiserver.k8s.io", "flowschemas")
        self.assertEqual([errors(fs, o) for o in fss], [[] for _ in fss])

    def test_review_kinds_are_virtual(self) -> None:
        for plural in ("tokenreviews", "selfsubjectreviews"):
            self.assertTrue(r("authentication.k8s.io", plural).virtual)
        self.assertEqual(r("authorization.k8s.io", "subjectaccessreviews").verbs, ("create",))
