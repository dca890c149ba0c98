"""Pods: defaulting, validation, create-time status, printing and field selectors."""

from __future__ import annotations

import copy

from twisted.trial import unittest

from tests.api.helpers import cells, created, defaulted, errors, fields, rdef

PODS = rdef("", "pods")


def pod(**spec: object) -> dict:
    base = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    base["spec"].update(spec)  # type: ignore[attr-defined]
    return base


class PodDefaulting(unittest.TestCase):
    def test_minimal_pod(self) -> None:
        p = defaulted(PODS, pod())
        spec = p["spec"]
        self.assertEqual(spec["restartPolicy"], "Always")
        self.assertEqual(spec["dnsPolicy"], "ClusterFirst")
        self.assertEqual(spec["terminationGracePeriodSeconds"], 30)
        self.assertEqual(spec["schedulerName"], "default-scheduler")
        self.assertEqual(spec["securityContext"], {})
        self.assertIs(spec["enableServiceLinks"], True)
        # The service account, priority and default tolerations are admission's (tests/admission).
        for k in ("serviceAccountName", "priority", "tolerations"):
            self.assertNotIn(k, spec)
        c = spec["containers"][0]
        self.assertEqual(c["terminationMessagePath"], "/dev/termination-log")
        self.assertEqual(c["terminationMessagePolicy"], "File")
        self.assertEqual(c["imagePullPolicy"], "Always")
        self.assertEqual(c["resources"], {})

    def test_pull_policy_by_tag(self) -> None:
        spec = defaulted(PODS, pod(containers=[
            {"name": "a", "image": "nginx:1.27"}, {"name": "b", "image": "nginx:latest"},
            {"name": "c", "image": "reg:5000/x"}, {"name": "d", "image": "x@sha256:abc"},
            {"name": "e", "image": "x", "imagePullPolicy": "Never"},
        ]))["spec"]
        self.assertEqual([c["imagePullPolicy"] for c in spec["containers"]],
                         ["IfNotPresent", "Always", "Always", "IfNotPresent", "Never"])

    def test_ports_and_probes(self) -> None:
        c = defaulted(PODS, pod(containers=[{
            "name": "a", "image": "x", "ports": [{"containerPort": 80}],
            "readinessProbe": {"httpGet": {"port": 80}}}]))["spec"]["containers"][0]
        self.assertEqual(c["ports"], [{"containerPort": 80, "protocol": "TCP"}])
        self.assertEqual(c["readinessProbe"]["httpGet"], {"port": 80, "path": "/", "scheme": "HTTP"})
        self.assertEqual(c["readinessProbe"]["periodSeconds"], 10)

    def test_create_sets_pending_and_qos(self) -> None:
        self.assertEqual(created(PODS, pod())["status"], {"phase": "Pending", "qosClass": "BestEffort"})
        guaranteed = pod(containers=[{"name": "a", "image": "x", "resources": {
            "limits": {"cpu": "500m", "memory": "128Mi"}}}])
        out = created(PODS, guaranteed)
        self.assertEqual(out["status"]["qosClass"], "Guaranteed")
        self.assertEqual(out["spec"]["containers"][0]["resources"]["requests"],
                         {"cpu": "500m", "memory": "128Mi"})
        burstable = pod(containers=[{"name": "a", "image": "x", "resources": {
            "requests": {"cpu": "100m"}}}])
        self.assertEqual(created(PODS, burstable)["status"]["qosClass"], "Burstable")


class PodValidation(unittest.TestCase):
    def test_good_pod(self) -> None:
        self.assertEqual(errors(PODS, defaulted(PODS, pod())), [])

    def test_missing_containers(self) -> None:
        self.assertEqual(fields(errors(PODS, pod(containers=[]))),
                         [("spec.containers", "FieldValueRequired")])

    def test_container_name_and_image(self) -> None:
        errs = errors(PODS, pod(containers=[{"name": "Bad_Name"}, {"image": "x"}]))
        self.assertEqual(fields(errs), [
            ("spec.containers[0].name", "FieldValueInvalid"),
            ("spec.containers[0].image", "FieldValueRequired"),
            ("spec.containers[1].name", "FieldValueRequired"),
        ])
        self.assertIn("a lowercase RFC 1123 label must consist of", errs[0].detail)

    def test_duplicate_names_and_ports(self) -> None:
        errs = errors(PODS, pod(containers=[
            {"name": "a", "image": "x", "ports": [{"containerPort": 70000, "protocol": "ICMP"}]},
            {"name": "a", "image": "x"}]))
        self.assertEqual(fields(errs), [
            ("spec.containers[0].ports[0].containerPort", "FieldValueInvalid"),
            ("spec.containers[0].ports[0].protocol", "FieldValueNotSupported"),
            ("spec.containers[1].name", "FieldValueDuplicate"),
        ])
        self.assertEqual(errs[0].detail, "must be between 1 and 65535, inclusive")

    def test_restart_policy_and_volume_mounts(self) -> None:
        errs = errors(PODS, pod(restartPolicy="Sometimes", containers=[
            {"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]))
        self.assertEqual(fields(errs), [
            ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound"),
            ("spec.restartPolicy", "FieldValueNotSupported"),
        ])
        self.assertEqual(errs[1].message(), 'spec.restartPolicy: Unsupported value: "Sometimes": '
                                            'supported values: "Always", "OnFailure", "Never"')

    def test_sysctls(self) -> None:
        # upstream's "[sig-node] Sysctls should reject invalid sysctls" pod: two bad names only
        errs = errors(PODS, pod(securityContext={"sysctls": [
            {"name": "foo-", "value": "bar"}, {"name": "kernel.shmmax", "value": "100000000"},
            {"name": "safe-and-unsafe", "value": "100000000"}, {"name": "bar..", "value": "42"}]}))
        self.assertEqual(fields(errs), [("spec.securityContext.sysctls[0].name", "FieldValueInvalid"),
                                        ("spec.securityContext.sysctls[3].name", "FieldValueInvalid")])
        self.assertEqual(errs[0].message(), 'spec.securityContext.sysctls[0].name: Invalid value: "foo-": must have '
                         "at most 253 characters and match regex "
                         "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")
        ok = ["kernel.shm_rmid_forced", "net.ipv4.conf.eno2/100.rp_filter", "net/ipv4/ip_local_port_range"]
        self.assertEqual(errors(PODS, pod(securityContext={"sysctls": [{"name": n, "value": "1"} for n in ok]})), [])
        errs = errors(PODS, pod(securityContext={"sysctls": [
            {"name": "", "value": "1"}, {"name": "a" * 254, "value": "1"}, {"name": "kernel.sem", "value": "1"},
            {"name": "kernel.sem", "value": "2"}, {"name": "vm.x\n", "value": "1"}]}))
        self.assertEqual([e.type for e in errs], ["FieldValueRequired", "FieldValueInvalid", "FieldValueDuplicate",
                                                  "FieldValueInvalid"])
        # namespaced sysctls may not be set on a pod sharing that namespace with the host
        errs = errors(PODS, pod(hostNetwork=True, hostIPC=True, securityContext={"sysctls": [
            {"name": "net.core.somaxconn", "value": "1"}, {"name": "kernel.msgmax", "value": "1"},
            {"name": "fs.mqueue.msg_max", "value": "1"}, {"name": "kernel.shm*", "value": "1"},
            {"name": "vm.swappiness", "value": "1"}]}))
        self.assertEqual([(e.field, e.detail) for e in errs], [
            ("spec.securityContext.sysctls[0].name", "may not be specified when 'hostNetwork' is true"),
            ("spec.securityContext.sysctls[1].name", "may not be specified when 'hostIPC' is true"),
            ("spec.securityContext.sysctls[2].name", "may not be specified when 'hostIPC' is true"),
            ("spec.securityContext.sysctls[3].name", "must have at most 253 characters and match regex "
             "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"),
            ("spec.securityContext.sysctls[3].name", "may not be specified when 'hostIPC' is true")])

    def test_name_must_be_subdomain(self) -> None:
        p = pod()
        p["metadata"]["name"] = "Web"
        self.assertEqual(fields(errors(PODS, p)), [("metadata.name", "FieldValueInvalid")])

    def test_requests_above_limits(self) -> None:
        errs = errors(PODS, pod(containers=[{"name": "a", "image": "x", "resources": {
            "requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]))
        self.assertEqual(fields(errs), [("spec.containers[0].resources.requests", "FieldValueInvalid")])

    def test_update_only_image_may_change(self) -> None:
        assert PODS.validate_update is not None
        old = defaulted(PODS, pod())
        new = copy.deepcopy(old)
        new["spec"]["containers"][0]["image"] = "nginx:2"
        new["spec"]["activeDeadlineSeconds"] = 60
        self.assertEqual(PODS.validate_update(new, old), [])
        changed = defaulted(PODS, pod(nodeSelector={"a": "b"}))
        errs = PODS.validate_update(changed, old)
        self.assertEqual(fields(errs), [("spec", "FieldValueForbidden")])
        self.assertIn("pod updates may not change fields other than", errs[0].detail)


def running_pod() -> dict:
    p = pod(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], nodeName="n1")
    p["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    p["status"] = {
        "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
        "containerStatuses": [
            {"name": "a", "ready": True, "restartCount": 3, "state": {"running": {}}},
            {"name": "b", "ready": False, "restartCount": 0, "state": {"running": {}}},
        ],
    }
    return p


class PodPrinting(unittest.TestCase):
    def test_column_names(self) -> None:
        self.assertEqual([c.name for c in PODS.columns],
                         ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                          "Nominated Node", "Readiness Gates"])
        self.assertEqual([c.priority for c in PODS.columns], [0, 0, 0, 0, 0, 1, 1, 1, 1])
        self.assertEqual(PODS.columns[4].type, "date")

    def test_running_pod(self) -> None:
        c = cells(PODS, running_pod())
        self.assertEqual(c["Name"], "web")
        self.assertEqual(c["Ready"], "1/2")
        self.assertEqual(c["Status"], "Running")
        self.assertEqual(c["Restarts"], "3")
        self.assertEqual(c["Age"], "2024-01-01T00:00:00Z")
        self.assertEqual((c["IP"], c["Node"], c["Nominated Node"], c["Readiness Gates"]),
                         ("10.0.0.5", "n1", "<none>", "<none>"))

    def test_restarts_with_last_termination(self) -> None:
        p = running_pod()
        p["status"]["containerStatuses"][0]["lastState"] = {
            "terminated": {"exitCode": 1, "finishedAt": "2020-01-01T00:00:00Z"}}
        self.assertRegex(cells(PODS, p)["Restarts"], r"^3 \(\d+y\d+d ago\)$")

    def test_waiting_reason_wins(self) -> None:
        p = running_pod()
        p["status"]["containerStatuses"][1]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
        self.assertEqual(cells(PODS, p)["Status"], "CrashLoopBackOff")

    def test_terminating(self) -> None:
        p = running_pod()
        p["metadata"]["deletionTimestamp"] = "2024-01-02T00:00:00Z"
        self.assertEqual(cells(PODS, p)["Status"], "Terminating")

    def test_init_progress(self) -> None:
        p = pod(initContainers=[{"name": "i1", "image": "x"}, {"name": "i2", "image": "x"}])
        p["status"] = {"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
            {"name": "i2", "state": {"running": {}}}]}
        self.assertEqual(cells(PODS, p)["Status"], "Init:1/2")
        p["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 2}}
        self.assertEqual(cells(PODS, p)["Status"], "Init:ExitCode:2")

    def test_completed_pod(self) -> None:
        p = pod()
        p["status"] = {"phase": "Succeeded", "containerStatuses": [
            {"name": "app", "ready": False, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
        c = cells(PODS, p)
        self.assertEqual((c["Ready"], c["Status"]), ("0/1", "Completed"))


class PodFieldSelectors(unittest.TestCase):
    def test_extractors(self) -> None:
        p = defaulted(PODS, running_pod())
        got = {k: f(p) for k, f in PODS.field_selectors.items()}
        self.assertEqual(got["spec.nodeName"], "n1")
        self.assertEqual(got["spec.restartPolicy"], "Always")
        self.assertEqual(got["spec.schedulerName"], "default-scheduler")
        self.assertEqual(got["spec.serviceAccountName"], "")  # assigned by ServiceAccount admission
        self.assertEqual(got["spec.hostNetwork"], "false")
        self.assertEqual(got["status.phase"], "Running")
        self.assertEqual(got["status.podIP"], "10.0.0.5")
        self.assertEqual(got["status.nominatedNodeName"], "")
        self.assertNotIn("metadata.name", PODS.field_selectors)
