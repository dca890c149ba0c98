"""apps and batch kinds: defaulting, validation, printing, job selector generation."""

from __future__ import annotations

import copy
from typing import Any

from twisted.trial import unittest

from tests.api.helpers import cells, created, defaulted, errors, fields, rdef

DEPLOY = rdef("apps", "deployments")
RS = rdef("apps", "replicasets")
STS = rdef("apps", "statefulsets")
DS = rdef("apps", "daemonsets")
CR = rdef("apps", "controllerrevisions")
JOBS = rdef("batch", "jobs")
CJ = rdef("batch", "cronjobs")

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def workload(kind: str, api: str = "apps/v1", **spec: Any) -> dict:
    base: dict = {"apiVersion": api, "kind": kind,
                  "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}},
                           "template": copy.deepcopy(TEMPLATE)}}
    base["spec"].update(spec)
    return base


class Deployments(unittest.TestCase):
    def test_defaults(self) -> None:
        spec = defaulted(DEPLOY, workload("Deployment"))["spec"]
        self.assertEqual(spec["replicas"], 1)
        self.assertEqual(spec["strategy"], {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        self.assertEqual(spec["revisionHistoryLimit"], 10)
        self.assertEqual(spec["progressDeadlineSeconds"], 600)
        pod = spec["template"]["spec"]
        self.assertEqual((pod["restartPolicy"], pod["dnsPolicy"]), ("Always", "ClusterFirst"))
        self.assertEqual(pod["containers"][0]["imagePullPolicy"], "IfNotPresent")
        self.assertNotIn("serviceAccountName", pod)

    def test_good_and_bad(self) -> None:
        self.assertEqual(errors(DEPLOY, defaulted(DEPLOY, workload("Deployment"))), [])
        bad = workload("Deployment", selector={"matchLabels": {"app": "other"}})
        errs = errors(DEPLOY, defaulted(DEPLOY, bad))
        self.assertEqual(fields(errs), [("spec.template.metadata.labels", "FieldValueInvalid")])
        self.assertEqual(errs[0].detail, "`selector` does not match template `labels`")
        no_sel = workload("Deployment")
        del no_sel["spec"]["selector"]
        self.assertEqual(fields(errors(DEPLOY, defaulted(DEPLOY, no_sel))),
                         [("spec.selector", "FieldValueRequired")])
        neg = workload("Deployment", replicas=-1)
        self.assertEqual(fields(errors(DEPLOY, defaulted(DEPLOY, neg))),
                         [("spec.replicas", "FieldValueInvalid")])
        recreate = workload("Deployment", strategy={"type": "Recreate", "rollingUpdate": {}})
        self.assertEqual(fields(errors(DEPLOY, defaulted(DEPLOY, recreate))),
                         [("spec.strategy.rollingUpdate", "FieldValueForbidden")])
        zero = workload("Deployment", strategy={"type": "RollingUpdate",
                                                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}})
        self.assertEqual(fields(errors(DEPLOY, defaulted(DEPLOY, zero))),
                         [("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid")])
        onfail = workload("Deployment")
        onfail["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
        self.assertEqual(fields(errors(DEPLOY, defaulted(DEPLOY, onfail))),
                         [("spec.template.spec.restartPolicy", "FieldValueNotSupported")])

    def test_selector_immutable(self) -> None:
        assert DEPLOY.validate_update is not None
        old = defaulted(DEPLOY, workload("Deployment"))
        new = copy.deepcopy(old)
        new["spec"]["selector"] = {"matchLabels": {"app": "web", "x": "y"}}
        errs = DEPLOY.validate_update(new, old)
        self.assertEqual(fields(errs), [("spec.selector", "FieldValueInvalid")])
        self.assertEqual(errs[0].detail, "field is immutable")
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = 5
        self.assertEqual(DEPLOY.validate_update(new, old), [])

    def test_columns(self) -> None:
        d = defaulted(DEPLOY, workload("Deployment", replicas=3))
        d["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        self.assertEqual([c.name for c in DEPLOY.columns],
                         ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images",
                          "Selector"])
        c = cells(DEPLOY, d)
        self.assertEqual((c["Ready"], c["Up-to-date"], c["Available"], c["Containers"], c["Images"],
                          c["Selector"]), ("2/3", 3, 2, "app", "nginx:1.27", "app=web"))


class ReplicaSetsStatefulSetsDaemonSets(unittest.TestCase):
    def test_replicaset(self) -> None:
        rs = defaulted(RS, workload("ReplicaSet"))
        self.assertEqual(rs["spec"]["replicas"], 1)
        self.assertEqual(errors(RS, rs), [])
        rs["status"] = {"replicas": 1, "readyReplicas": 1}
        c = cells(RS, rs)
        self.assertEqual((c["Desired"], c["Current"], c["Ready"]), (1, 1, 1))
        self.assertEqual(RS.field_selectors["status.replicas"](rs), "1")

    def test_statefulset(self) -> None:
        sts = defaulted(STS, workload("StatefulSet", serviceName="web", volumeClaimTemplates=[
            {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]))
        spec = sts["spec"]
        self.assertEqual(spec["podManagementPolicy"], "OrderedReady")
        self.assertEqual(spec["updateStrategy"], {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        self.assertEqual(spec["persistentVolumeClaimRetentionPolicy"],
                         {"whenDeleted": "Retain", "whenScaled": "Retain"})
        self.assertEqual(spec["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem")
        self.assertEqual(errors(STS, sts), [])
        bad = copy.deepcopy(sts)
        bad["spec"]["podManagementPolicy"] = "Random"
        self.assertEqual(fields(errors(STS, bad)), [("spec.podManagementPolicy", "FieldValueNotSupported")])
        assert STS.validate_update is not None
        changed = copy.deepcopy(sts)
        changed["spec"]["serviceName"] = "other"
        self.assertEqual(fields(STS.validate_update(changed, sts)), [("spec", "FieldValueForbidden")])
        scaled = copy.deepcopy(sts)
        scaled["spec"]["replicas"] = 4
        self.assertEqual(STS.validate_update(scaled, sts), [])
        sts["status"] = {"readyReplicas": 1}
        self.assertEqual(cells(STS, sts)["Ready"], "1/1")

    def test_daemonset(self) -> None:
        ds = defaulted(DS, workload("DaemonSet"))
        self.assertEqual(ds["spec"]["updateStrategy"],
                         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        self.assertEqual(ds["spec"]["revisionHistoryLimit"], 10)
        self.assertEqual(errors(DS, ds), [])
        ds["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
        ds["status"] = {"desiredNumberScheduled": 2, "numberReady": 1}
        c = cells(DS, ds)
        self.assertEqual((c["Desired"], c["Current"], c["Ready"], c["Node Selector"]),
                         (2, 0, 1, "kubernetes.io/os=linux"))

    def test_controller_revision(self) -> None:
        cr = {"metadata": {"name": "web-1", "namespace": "d", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u",
             "controller": True}]}, "revision": 2, "data": {}}
        self.assertEqual(errors(CR, cr), [])
        c = cells(CR, cr)
        self.assertEqual((c["Controller"], c["Revision"]), ("statefulset.apps/web", 2))
        self.assertEqual(fields(errors(CR, dict(cr, revision=-1))), [("revision", "FieldValueInvalid")])


def job(**spec: Any) -> dict:
    j: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
         "spec": {"template": {"spec": {"restartPolicy": "Never",
                                        "containers": [{"name": "pi", "image": "perl"}]}}}}
    j["spec"].update(spec)
    return j


class Jobs(unittest.TestCase):
    def test_defaults(self) -> None:
        spec = defaulted(JOBS, job())["spec"]
        self.assertEqual((spec["parallelism"], spec["completions"], spec["backoffLimit"]), (1, 1, 6))
        self.assertEqual((spec["completionMode"], spec["suspend"], spec["podReplacementPolicy"]),
                         ("NonIndexed", False, "TerminatingOrFailed"))
        only_par = defaulted(JOBS, job(parallelism=3))["spec"]
        self.assertNotIn("completions", only_par)

    def test_generated_selector(self) -> None:
        j = created(JOBS, job(), uid="0000-1111")
        self.assertEqual(j["spec"]["selector"],
                         {"matchLabels": {"batch.kubernetes.io/controller-uid": "0000-1111"}})
        self.assertEqual(j["spec"]["template"]["metadata"]["labels"], {
            "batch.kubernetes.io/controller-uid": "0000-1111", "controller-uid": "0000-1111",
            "batch.kubernetes.io/job-name": "pi", "job-name": "pi"})
        self.assertEqual(errors(JOBS, j), [])

    def test_manual_selector_kept(self) -> None:
        j = job(manualSelector=True, selector={"matchLabels": {"a": "b"}})
        j["spec"]["template"]["metadata"] = {"labels": {"a": "b"}}
        out = created(JOBS, j)
        self.assertEqual(out["spec"]["selector"], {"matchLabels": {"a": "b"}})
        self.assertEqual(errors(JOBS, out), [])

    def test_user_selector_without_manual_is_rejected(self) -> None:
        j = job(selector={"matchLabels": {"a": "b"}})
        j["spec"]["template"]["metadata"] = {"labels": {"a": "b"}}
        errs = errors(JOBS, created(JOBS, j))
        self.assertIn(("spec.selector", "FieldValueInvalid"), fields(errs))

    def test_restart_policy(self) -> None:
        j = job()
        del j["spec"]["template"]["spec"]["restartPolicy"]
        errs = errors(JOBS, created(JOBS, j))
        self.assertEqual(fields(errs), [("spec.template.spec.restartPolicy", "FieldValueNotSupported")])
        self.assertEqual(errs[0].message(), 'spec.template.spec.restartPolicy: Unsupported value: '
                                            '"Always": supported values: "OnFailure", "Never"')

    def test_update_immutables(self) -> None:
        assert JOBS.validate_update is not None
        old = created(JOBS, job())
        new = copy.deepcopy(old)
        new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:2"
        self.assertEqual(fields(JOBS.validate_update(new, old)), [("spec.template", "FieldValueInvalid")])
        new = copy.deepcopy(old)
        new["spec"]["selector"]["matchLabels"]["x"] = "y"
        self.assertIn(("spec.selector", "FieldValueInvalid"), fields(JOBS.validate_update(new, old)))

    def test_columns_and_selector(self) -> None:
        j = created(JOBS, job())
        j["status"] = {"succeeded": 1, "startTime": "2024-01-01T00:00:00Z",
                       "completionTime": "2024-01-01T00:00:42Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}
        c = cells(JOBS, j)
        self.assertEqual([col.name for col in JOBS.columns],
                         ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images",
                          "Selector"])
        self.assertEqual((c["Status"], c["Completions"], c["Duration"]), ("Complete", "1/1", "42s"))
        self.assertEqual(c["Selector"], "batch.kubernetes.io/controller-uid=uid-1")
        self.assertEqual(JOBS.field_selectors["status.successful"](j), "1")
        j["status"] = {}
        self.assertEqual(cells(JOBS, j)["Status"], "Running")


class CronJobs(unittest.TestCase):
    def cj(self, **spec: Any) -> dict:
        base: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"name": "tick", "namespace": "default"},
                "spec": {"schedule": "*/5 * * * *",
                         "jobTemplate": {"spec": job()["spec"]}}}
        base["spec"].update(spec)
        return base

    def test_defaults_and_valid(self) -> None:
        c = defaulted(CJ, self.cj())
        spec = c["spec"]
        self.assertEqual((spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
                          spec["failedJobsHistoryLimit"]), ("Allow", False, 3, 1))
        self.assertEqual(spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst")
        self.assertEqual(errors(CJ, c), [])

    def test_bad_schedule_and_policy(self) -> None:
        errs = errors(CJ, defaulted(CJ, self.cj(schedule="every minute", concurrencyPolicy="Never")))
        self.assertEqual(fields(errs), [("spec.schedule", "FieldValueInvalid"),
                                        ("spec.concurrencyPolicy", "FieldValueNotSupported")])
        self.assertEqual(fields(errors(CJ, defaulted(CJ, self.cj(schedule="")))),
                         [("spec.schedule", "FieldValueRequired")])
        self.assertEqual(errors(CJ, defaulted(CJ, self.cj(schedule="@hourly"))), [])

    def test_columns(self) -> None:
        c = defaulted(CJ, self.cj())
        got = cells(CJ, c)
        self.assertEqual((got["Schedule"], got["Timezone"], got["Suspend"], got["Active"],
                          got["Last Schedule"], got["Containers"]),
                         ("*/5 * * * *", "<none>", "False", 0, "<none>", "pi"))
