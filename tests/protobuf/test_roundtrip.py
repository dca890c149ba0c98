"""encode -> decode keeps every field a user set, for representative objects of each kind."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kubeapi import protobuf

META = {"name": "x", "namespace": "ns", "uid": "1b4c8a5e-0000-4000-8000-000000000001",
        "resourceVersion": "42", "generation": 3, "creationTimestamp": "2024-05-06T07:08:09Z",
        "labels": {"app": "web", "tier": "fe"}, "annotations": {"note": "é ünïcode"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                             "uid": "u1", "controller": True, "blockOwnerDeletion": True}],
        "finalizers": ["example.com/f"],
        "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                           "time": "2024-05-06T07:08:09Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]}

POD_SPEC: dict[str, Any] = {
    "volumes": [{"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
                {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
    "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
    "containers": [{
        "name": "c", "image": "nginx:1.27", "args": ["-g", "daemon off;"],
        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "A", "value": "1"},
                {"name": "B", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                          "initialDelaySeconds": 5, "periodSeconds": 10},
        "readinessProbe": {"tcpSocket": {"port": 80}},
        "securityContext": {"runAsUser": -1, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
        "imagePullPolicy": "IfNotPresent",
    }],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
    "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "default", "automountServiceAccountToken": False,
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}},
    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}],
    "priority": 0, "enableServiceLinks": True,
}
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}
SELECTOR = {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}

OBJECTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]},
     "status": {"phase": "Active"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": META, "spec": POD_SPEC, "status": {
        "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
        "startTime": "2024-05-06T07:08:10Z", "qosClass": "Burstable",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-06T07:08:11Z"}],
        "containerStatuses": [{"name": "c", "ready": True, "restartCount": 2, "image": "nginx:1.27",
                               "imageID": "sha", "started": True,
                               "state": {"running": {"startedAt": "2024-05-06T07:08:12Z"}},
                               "lastState": {"terminated": {"exitCode": -2, "reason": "Error",
                                                            "finishedAt": "2024-05-06T07:08:11Z"}}}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {
        "type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080}],
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}, "ipFamilies": ["IPv4"]},
     "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ports": [{"port": 80, "protocol": "TCP"}]}]}}},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "s"}, "subsets": [
        {"addresses": [{"ip": "10.0.0.5", "targetRef": {"kind": "Pod", "name": "p", "namespace": "ns"}}],
         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v", "e": ""},
     "binaryData": {"bin": "AAEC/w=="}, "immutable": True},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
     "data": {"a": "YWJj", "empty": ""}, "stringData": {"x": "y"}},
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
     "secrets": [{"name": "tok"}], "imagePullSecrets": [{"name": "reg"}]},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1"}, "involvedObject": {"kind": "Pod", "name": "p"},
     "reason": "Started", "message": "ok", "source": {"component": "kubelet"},
     "firstTimestamp": "2024-05-06T07:08:09Z", "lastTimestamp": "2024-05-06T07:08:10Z", "count": 2,
     "type": "Normal", "eventTime": "2024-05-06T07:08:09.123456Z", "reportingComponent": "kubelet"},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {
        "podCIDR": "10.244.0.0/24", "taints": [{"key": "k", "effect": "NoSchedule"}], "unschedulable": True},
     "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "3800m"},
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-05-06T07:08:09Z",
                                "reason": "KubeletReady"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"kubeletVersion": "v1.33.0", "architecture": "amd64", "machineID": "m"},
                "images": [{"names": ["nginx"], "sizeBytes": 123456789012}]}},
    {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
     "spec": {"replicas": 0, "selector": {"app": "web"}, "template": TEMPLATE},
     "status": {"replicas": 1, "observedGeneration": 4}},
    {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"}, "spec": {
        "capacity": {"storage": "10Gi"}, "hostPath": {"path": "/data", "type": "DirectoryOrCreate"},
        "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
        "claimRef": {"namespace": "ns", "name": "pvc"}, "volumeMode": "Filesystem"},
     "status": {"phase": "Bound"}},
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pvc"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": "standard"}, "status": {"phase": "Pending"}},
    {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "100m"},
         "max": {"memory": "1Gi"}}]}},
    {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {
        "hard": {"pods": "10"}, "scopes": ["BestEffort"]}, "status": {"hard": {"pods": "10"}, "used": {"pods": "0"}}},
    {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "pt"}, "template": TEMPLATE},
    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
     "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": META, "spec": {
        "replicas": 3, "selector": SELECTOR, "template": TEMPLATE, "revisionHistoryLimit": 10,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        "progressDeadlineSeconds": 600},
     "status": {"observedGeneration": 3, "replicas": 3, "availableReplicas": 3, "conditions": [
         {"type": "Available", "status": "True", "lastUpdateTime": "2024-05-06T07:08:09Z",
          "lastTransitionTime": "2024-05-06T07:08:09Z", "reason": "MinimumReplicasAvailable"}]}},
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
     "spec": {"replicas": 1, "minReadySeconds": 5, "selector": SELECTOR, "template": TEMPLATE},
     "status": {"replicas": 1, "fullyLabeledReplicas": 1}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ss"}, "spec": {
        "replicas": 2, "selector": SELECTOR, "template": TEMPLATE, "serviceName": "ss",
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": "50%"}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
        "ordinals": {"start": 1}}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"}, "spec": {
        "selector": SELECTOR, "template": TEMPLATE,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
     "status": {"currentNumberScheduled": 1, "numberMisscheduled": 0, "desiredNumberScheduled": 1,
                "numberReady": 1}},
    {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "cr"}, "revision": 7,
     "data": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {
        "parallelism": 2, "completions": 4, "backoffLimit": 6, "activeDeadlineSeconds": 3600,
        "ttlSecondsAfterFinished": 100, "completionMode": "Indexed", "suspend": False,
        "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
            {"type": "DisruptionTarget", "status": "True"}]}]},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}},
     "status": {"startTime": "2024-05-06T07:08:09Z", "active": 1, "succeeded": 2, "completedIndexes": "0-1",
                "uncountedTerminatedPods": {"succeeded": ["u1"]}}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"}, "spec": {
        "schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 200, "successfulJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": {"x": "y"}}, "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}},
     "status": {"active": [{"kind": "Job", "name": "cj-1"}], "lastScheduleTime": "2024-05-06T07:05:00Z"}},
    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {
        "holderIdentity": "node-1", "leaseDurationSeconds": 40, "acquireTime": "2024-05-06T07:08:09.000001Z",
        "renewTime": "2024-05-06T07:08:19.654321Z", "leaseTransitions": 0}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "es"},
     "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": True, "serving": True},
                                           "nodeName": "n1", "zone": "a",
                                           "targetRef": {"kind": "Pod", "name": "p"}}],
     "ports": [{"name": "http", "protocol": "TCP", "port": 80, "appProtocol": "http"}]},
    {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
     "eventTime": "2024-05-06T07:08:09.500000Z", "reportingController": "c", "reportingInstance": "i",
     "action": "Scheduled", "reason": "Scheduled", "regarding": {"kind": "Pod", "name": "p"},
     "note": "assigned", "type": "Normal", "series": {"count": 2, "lastObservedTime": "2024-05-06T07:08:10.000000Z"},
     "deprecatedCount": 1},
    {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "d"}, "spec": {"replicas": 5},
     "status": {"replicas": 3, "selector": "app=web"}},
    {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "ns"},
     "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u"}, "dryRun": ["All"]}},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cr"},
     "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
               {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
     "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
     "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}],
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}},
    {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {}, "spec": {
        "resourceAttributes": {"namespace": "ns", "verb": "get", "resource": "pods"}, "user": "alice",
        "groups": ["g"], "extra": {"scopes": ["a", "b"]}, "uid": "1"},
     "status": {"allowed": True, "reason": "rbac"}},
    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {}, "spec": {
        "token": "t", "audiences": ["api"]}, "status": {"authenticated": True, "user": {
            "username": "u", "groups": ["system:authenticated"], "extra": {"k": ["v"]}}}},
    {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
     "metadata": {"name": "foos.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "foos", "singular": "foo", "kind": "Foo", "listKind": "FooList", "shortNames": ["fo"]},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"size": {"type": "integer", "minimum": 1, "maximum": 10.5,
                                                 "default": 3},
                                        "tags": {"type": "array", "items": {"type": "string"}},
                                        "env": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "free": {"type": "object", "additionalProperties": False}},
                         "required": ["size"]}}}},
            "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size",
                                                     "statusReplicasPath": ".status.size"}},
            "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]}},
    {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 30,
     "propagationPolicy": "Foreground"},
    {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
     "message": 'pods "p" not found', "reason": "NotFound",
     "details": {"name": "p", "kind": "pods", "causes": [{"reason": "FieldValueInvalid", "field": "x"}]},
     "code": 404},
    {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "10", "continue": "abc",
                                                               "remainingItemCount": 5},
     "items": [{"metadata": {"name": "a"}, "data": {"k": "v"}}, {"metadata": {"name": "b"}}]},
]


def _assert_subset(tc: unittest.TestCase, sent: Any, got: Any, path: str) -> None:
    """Every value the user set comes back unchanged (Go may add zero-valued fields)."""
    if isinstance(sent, dict):
        tc.assertIsInstance(got, dict, path)
        for k, v in sent.items():
            tc.assertIn(k, got, f"{path}.{k} lost")
            _assert_subset(tc, v, got[k], f"{path}.{k}")
    elif isinstance(sent, list):
        tc.assertIsInstance(got, list, path)
        tc.assertEqual(len(sent), len(got), path)
        for i, (a, b) in enumerate(zip(sent, got, strict=True)):
            _assert_subset(tc, a, b, f"{path}[{i}]")
    else:
        tc.assertEqual(got, sent, path)
        tc.assertIs(type(got), type(sent), path)


class RoundTripTests(unittest.TestCase):
    def test_every_object_round_trips(self) -> None:
        for obj in OBJECTS:
            name = f"{obj['apiVersion']}/{obj['kind']}"
            body = protobuf.encode(obj)
            self.assertTrue(body.startswith(b"k8s\x00"), name)
            got = protobuf.decode(body)
            self.assertEqual((got["kind"], got["apiVersion"]), (obj["kind"], obj["apiVersion"]))
            _assert_subset(self, obj, got, name)
            # the decoded form is Go's canonical JSON: it encodes to the same bytes and is a fixpoint
            self.assertEqual(protobuf.encode(got), body, name)
            self.assertEqual(protobuf.decode(protobuf.encode(got)), got, name)

    def test_go_zero_values_appear_as_json_would(self) -> None:
        got = protobuf.decode(protobuf.encode({"apiVersion": "apps/v1", "kind": "Deployment",
                                               "metadata": {"name": "d"}}))
        self.assertEqual(got, {"kind": "Deployment", "apiVersion": "apps/v1",
                               "metadata": {"name": "d", "creationTimestamp": None},
                               "spec": {"selector": None,
                                        "template": {"metadata": {"creationTimestamp": None},
                                                     "spec": {"containers": None}},
                                        "strategy": {}},
                               "status": {}})

    def test_pointer_zero_survives_but_plain_zero_is_omitted(self) -> None:
        got = protobuf.decode(protobuf.encode({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                               "metadata": {"name": "r"},
                                               "spec": {"replicas": 0, "minReadySeconds": 0}}))
        self.assertEqual(got["spec"]["replicas"], 0)
        self.assertNotIn("minReadySeconds", got["spec"])

    def test_list_items_carry_no_type_meta(self) -> None:
        body = protobuf.encode_list({"apiVersion": "v1", "kind": "SecretList", "metadata": {"resourceVersion": "5"},
                                     "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}]})
        got = protobuf.decode(body)
        self.assertEqual(got["items"], [{"metadata": {"name": "a", "creationTimestamp": None}}])
        self.assertEqual(got["metadata"], {"resourceVersion": "5"})

    def test_times_normalise_to_utc_and_precision(self) -> None:
        got = protobuf.decode(protobuf.encode({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l", "creationTimestamp": "2024-05-06T09:08:09.75+02:00"},
            "spec": {"renewTime": "2024-05-06T07:08:09.123456789Z"}}))
        self.assertEqual(got["metadata"]["creationTimestamp"], "2024-05-06T07:08:09Z")
        self.assertEqual(got["spec"]["renewTime"], "2024-05-06T07:08:09.123456Z")

    def test_durations_use_go_text(self) -> None:
        for text, canonical in [("1h", "1h0m0s"), ("90s", "1m30s"), ("1.5s", "1.5s"), ("300ms", "300ms"),
                                ("0s", "0s"), ("2h45m0.5s", "2h45m0.5s"), ("1500us", "1.5ms")]:
            got = _duration_round_trip(text)
            self.assertEqual(got, canonical, text)

    def test_status_encoding(self) -> None:
        body = protobuf.encode_status({"status": "Failure", "reason": "AlreadyExists", "code": 409,
                                       "message": "exists", "details": {"name": "x", "kind": "configmaps"}})
        got = protobuf.decode(body)
        self.assertEqual((got["kind"], got["apiVersion"]), ("Status", "v1"))
        self.assertEqual(got["code"], 409)
        self.assertEqual(got["details"], {"name": "x", "kind": "configmaps"})
        self.assertEqual(got["metadata"], {})


def _duration_round_trip(text: str) -> str:
    """None of the served kinds carries a metav1.Duration, so exercise its codec directly."""
    from kubeapi.protobuf.codec import DURATION, decode_value
    from kubeapi.protobuf.encode import encode_value

    value = decode_value(DURATION, encode_value(DURATION, text))
    assert isinstance(value, str)
    return value
