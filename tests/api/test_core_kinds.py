"""The smaller core kinds: namespaces, configmaps, secrets, serviceaccounts, nodes,
endpoints, replicationcontrollers, pv/pvc, limitranges, resourcequotas."""

from __future__ import annotations

import base64
import copy
from typing import Any

from twisted.trial import unittest

from tests.api.helpers import cells, created, defaulted, errors, fields, rdef


def meta(name: str = "x", ns: str | None = "default") -> dict:
    m = {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"}
    if ns:
        m["namespace"] = ns
    return m


class Namespaces(unittest.TestCase):
    r = rdef("", "namespaces")

    def test_defaults_and_create(self) -> None:
        ns = created(self.r, {"metadata": meta("team-a", None)})
        self.assertEqual(ns["spec"], {"finalizers": ["kubernetes"]})
        self.assertEqual(ns["status"], {"phase": "Active"})
        self.assertEqual(ns["metadata"]["labels"], {"kubernetes.io/metadata.name": "team-a"})
        self.assertEqual(errors(self.r, ns), [])
        c = cells(self.r, ns)
        self.assertEqual((c["Name"], c["Status"]), ("team-a", "Active"))
        self.assertEqual(self.r.field_selectors["status.phase"](ns), "Active")

    def test_name_is_label(self) -> None:
        errs = errors(self.r, {"metadata": meta("a.b", None)})
        self.assertEqual(fields(errs), [("metadata.name", "FieldValueInvalid")])
        self.assertIn("RFC 1123 label", errs[0].detail)


class ConfigMapsAndSecrets(unittest.TestCase):
    cm = rdef("", "configmaps")
    sec = rdef("", "secrets")

    def test_configmap(self) -> None:
        good = {"metadata": meta(), "data": {"a.conf": "x", "B_2": "y"}, "binaryData": {"c": "AAEC"}}
        self.assertEqual(errors(self.cm, good), [])
        self.assertEqual(cells(self.cm, good)["Data"], 3)
        errs = errors(self.cm, {"metadata": meta(), "data": {"bad key": "x"}})
        self.assertEqual(fields(errs), [("data", "FieldValueInvalid")])
        self.assertIn("a valid config key must consist of alphanumeric characters", errs[0].detail)

    def test_configmap_immutable(self) -> None:
        assert self.cm.validate_update is not None
        old: dict[str, Any] = {"metadata": meta(), "data": {"a": "1"}, "immutable": True}
        new = copy.deepcopy(old)
        new["data"]["a"] = "2"
        self.assertEqual(fields(self.cm.validate_update(new, old)), [("data", "FieldValueForbidden")])

    def test_secret(self) -> None:
        s = defaulted(self.sec, {"metadata": meta(), "stringData": {"user": "admin"}})
        self.assertEqual(s["type"], "Opaque")
        self.assertEqual(s["data"], {"user": base64.b64encode(b"admin").decode()})
        self.assertNotIn("stringData", s)
        self.assertEqual(errors(self.sec, s), [])
        c = cells(self.sec, s)
        self.assertEqual((c["Type"], c["Data"]), ("Opaque", 1))
        self.assertEqual(self.sec.field_selectors["type"](s), "Opaque")
        bad = {"metadata": meta(), "type": "Opaque", "data": {"k": "not base64!"}}
        self.assertEqual(fields(errors(self.sec, bad)), [("data[k]", "FieldValueInvalid")])
        tls = {"metadata": meta(), "type": "kubernetes.io/tls", "data": {"tls.crt": "AA=="}}
        self.assertEqual(fields(errors(self.sec, tls)), [("data[tls.key]", "FieldValueRequired")])
        assert self.sec.validate_update is not None
        self.assertEqual(fields(self.sec.validate_update(dict(s, type="Other"), s)),
                         [("type", "FieldValueInvalid")])


class ServiceAccountsAndEndpoints(unittest.TestCase):
    def test_serviceaccount(self) -> None:
        r = rdef("", "serviceaccounts")
        sa = {"metadata": meta("default"), "secrets": [{"name": "t"}]}
        self.assertEqual(errors(r, sa), [])
        self.assertEqual(cells(r, sa)["Secrets"], 1)

    def test_endpoints(self) -> None:
        r = rdef("", "endpoints")
        ep = defaulted(r, {"metadata": meta("web"), "subsets": [{
            "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
            "ports": [{"port": 80}, {"port": 443}]}]})
        self.assertEqual(ep["subsets"][0]["ports"][0]["protocol"], "TCP")
        self.assertEqual(errors(r, ep), [])
        self.assertEqual(cells(r, ep)["Endpoints"], "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...")
        self.assertEqual(cells(r, {"metadata": meta()})["Endpoints"], "<none>")
        bad = {"metadata": meta(), "subsets": [{"addresses": [{"ip": "nope"}]}]}
        self.assertEqual(fields(errors(r, bad)), [("subsets[0].addresses[0].ip", "FieldValueInvalid")])


class Nodes(unittest.TestCase):
    r = rdef("", "nodes")

    def node(self) -> dict:
        return {"metadata": dict(meta("n1", None), labels={
            "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}),
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.5"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian",
                                    "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://2"}}}

    def test_columns(self) -> None:
        c = cells(self.r, self.node())
        self.assertEqual((c["Status"], c["Roles"], c["Version"], c["Internal-IP"], c["External-IP"],
                          c["OS-Image"]),
                         ("Ready,SchedulingDisabled", "control-plane,master", "v1.33.0", "192.168.1.5",
                          "<none>", "Debian"))
        bare = {"metadata": meta("n2", None)}
        self.assertEqual(cells(self.r, bare)["Status"], "Unknown")
        self.assertEqual(cells(self.r, bare)["Roles"], "<none>")

    def test_selector_and_validation(self) -> None:
        self.assertEqual(self.r.field_selectors["spec.unschedulable"](self.node()), "true")
        self.assertEqual(errors(self.r, self.node()), [])
        bad = self.node()
        bad["spec"]["taints"] = [{"key": "k", "effect": "Sometimes"}]
        self.assertEqual(fields(errors(self.r, bad)), [("spec.taints[0].effect", "FieldValueNotSupported")])


class ReplicationControllers(unittest.TestCase):
    r = rdef("", "replicationcontrollers")

    def rc(self) -> dict:
        return {"metadata": meta("web"), "spec": {"template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a", "image": "nginx"}]}}}}

    def test_defaults_selector_from_template(self) -> None:
        rc = defaulted(self.r, self.rc())
        self.assertEqual(rc["spec"]["selector"], {"app": "web"})
        self.assertEqual(rc["metadata"]["labels"], {"app": "web"})
        self.assertEqual(rc["spec"]["replicas"], 1)
        self.assertEqual(errors(self.r, rc), [])
        rc["status"] = {"replicas": 1}
        self.assertEqual(cells(self.r, rc)["Selector"], "app=web")
        self.assertEqual(self.r.field_selectors["status.replicas"](rc), "1")
        assert self.r.scale is not None
        self.assertEqual(self.r.scale.label_selector, "spec.selector")

    def test_mismatch(self) -> None:
        rc = defaulted(self.r, self.rc())
        rc["spec"]["selector"] = {"app": "other"}
        self.assertEqual(fields(errors(self.r, rc)), [("spec.template.metadata.labels", "FieldValueInvalid")])


class Volumes(unittest.TestCase):
    pv = rdef("", "persistentvolumes")
    pvc = rdef("", "persistentvolumeclaims")

    def test_pv(self) -> None:
        v = created(self.pv, {"metadata": meta("pv1", None), "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
            "hostPath": {"path": "/data"}, "storageClassName": "local"}})
        self.assertEqual(v["spec"]["persistentVolumeReclaimPolicy"], "Retain")
        self.assertEqual(v["spec"]["volumeMode"], "Filesystem")
        self.assertEqual(v["status"], {"phase": "Pending"})
        self.assertEqual(errors(self.pv, v), [])
        c = cells(self.pv, v)
        self.assertEqual((c["Capacity"], c["Access Modes"], c["Reclaim Policy"], c["Status"], c["Claim"],
                          c["StorageClass"], c["VolumeAttributesClass"]),
                         ("1Gi", "RWO,ROX", "Retain", "Pending", "", "local", "<unset>"))
        none = {"metadata": meta("pv2", None), "spec": {"capacity": {"storage": "1Gi"},
                                                         "accessModes": ["ReadWriteOnce"]}}
        self.assertEqual(fields(errors(self.pv, none)), [("spec", "FieldValueRequired")])

    def test_pvc(self) -> None:
        c = created(self.pvc, {"metadata": meta("data"), "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        self.assertEqual(c["status"], {"phase": "Pending"})
        self.assertEqual(c["spec"]["volumeMode"], "Filesystem")
        self.assertEqual(errors(self.pvc, c), [])
        self.assertEqual(cells(self.pvc, c)["Status"], "Pending")
        bad = {"metadata": meta("d"), "spec": {}}
        self.assertEqual(fields(errors(self.pvc, bad)), [("spec.accessModes", "FieldValueRequired"),
                                                         ("spec.resources[storage]", "FieldValueRequired")])
        assert self.pvc.validate_update is not None
        grown = copy.deepcopy(c)
        grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
        self.assertEqual(self.pvc.validate_update(grown, c), [])
        changed = copy.deepcopy(c)
        changed["spec"]["accessModes"] = ["ReadWriteMany"]
        self.assertEqual(fields(self.pvc.validate_update(changed, c)), [("spec", "FieldValueForbidden")])


class LimitsAndQuotas(unittest.TestCase):
    def test_limitrange(self) -> None:
        r = rdef("", "limitranges")
        lr = defaulted(r, {"metadata": meta("limits"), "spec": {"limits": [
            {"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}}]}})
        item = lr["spec"]["limits"][0]
        self.assertEqual(item["default"], {"cpu": "1"})
        self.assertEqual(item["defaultRequest"], {"cpu": "1", "memory": "64Mi"})
        self.assertEqual(errors(r, lr), [])
        self.assertEqual([c.name for c in r.columns], ["Name", "Created At"])
        bad = {"metadata": meta(), "spec": {"limits": [{"type": "Node"}]}}
        self.assertEqual(fields(errors(r, bad)), [("spec.limits[0].type", "FieldValueNotSupported")])

    def test_quota(self) -> None:
        r = rdef("", "resourcequotas")
        q = {"metadata": meta("q"), "spec": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}},
             "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"},
                        "used": {"pods": "3", "limits.cpu": "500m", "requests.cpu": "0"}}}
        self.assertEqual(errors(r, q), [])
        c = cells(r, q)
        self.assertEqual(c["Request"], "pods: 3/10, requests.cpu: 0/1")
        self.assertEqual(c["Limit"], "limits.cpu: 500m/2")
        bad = {"metadata": meta(), "spec": {"hard": {"pods": "many"}}}
        self.assertEqual(fields(errors(r, bad)), [("spec.hard[pods]", "FieldValueInvalid")])


class LeasesAndSlices(unittest.TestCase):
    def test_lease(self) -> None:
        r = rdef("coordination.k8s.io", "leases")
        lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "node-1",
                                                              "leaseDurationSeconds": 15}}
        self.assertEqual(errors(r, lease), [])
        self.assertEqual(cells(r, lease)["Holder"], "node-1")
        lease["spec"]["leaseDurationSeconds"] = 0
        self.assertEqual(fields(errors(r, lease)), [("spec.leaseDurationSeconds", "FieldValueInvalid")])

    def test_endpointslice(self) -> None:
        r = rdef("discovery.k8s.io", "endpointslices")
        es = defaulted(r, {"metadata": meta("web-abc"), "addressType": "IPv4",
                           "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}],
                           "ports": [{"port": 80}]})
        self.assertEqual(es["ports"], [{"port": 80, "name": "", "protocol": "TCP"}])
        self.assertEqual(errors(r, es), [])
        c = cells(r, es)
        self.assertEqual((c["AddressType"], c["Ports"], c["Endpoints"]), ("IPv4", "80", "10.0.0.1,10.0.0.2"))
        self.assertTrue(r.has_generation)
        bad = {"metadata": meta(), "addressType": "IPv4", "endpoints": [{"addresses": ["::1"]}, {}]}
        self.assertEqual(fields(errors(r, bad)), [("endpoints[0].addresses[0]", "FieldValueInvalid"),
                                                  ("endpoints[1].addresses", "FieldValueRequired")])
        assert r.validate_update is not None
        self.assertEqual(fields(r.validate_update(dict(es, addressType="IPv6"), es)),
                         [("addressType", "FieldValueInvalid")])
