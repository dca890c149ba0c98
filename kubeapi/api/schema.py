"""Small builders for OpenAPI v3 structural schemas, and the shared pieces (ObjectMeta,
LabelSelector, Container, PodSpec, PodTemplateSpec) most kinds embed.

The list markers (x-kubernetes-patch-merge-key / -patch-strategy / -list-type /
-list-map-keys) sit where upstream puts them: strategic merge patch and server-side
apply read them from here.  Fields we do not model are kept by
``x-kubernetes-preserve-unknown-fields`` so nothing a user sends is dropped.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

PRESERVE = "x-kubernetes-preserve-unknown-fields"


def string(fmt: str = "", enum: tuple[str, ...] = (), desc: str = "") -> Schema:
    s: Schema = {"type": "string"}
    if fmt:
        s["format"] = fmt
    if enum:
        s["enum"] = list(enum)
    if desc:
        s["description"] = desc
    return s


def int32(desc: str = "") -> Schema:
    s: Schema = {"type": "integer", "format": "int32"}
    if desc:
        s["description"] = desc
    return s


def int64(desc: str = "") -> Schema:
    s: Schema = {"type": "integer", "format": "int64"}
    if desc:
        s["description"] = desc
    return s


def boolean() -> Schema:
    return {"type": "boolean"}


def number() -> Schema:
    return {"type": "number", "format": "double"}


def date_time() -> Schema:
    return string("date-time")


def int_or_string() -> Schema:
    return {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}


def quantity() -> Schema:
    # "format: quantity" lets the OpenAPI builder point at the shared Quantity definition.
    return {**int_or_string(), "format": "quantity"}


def byte_string() -> Schema:
    return string("byte")


def string_map(values: Schema | None = None) -> Schema:
    return {"type": "object", "additionalProperties": values or string()}


def preserve(desc: str = "") -> Schema:
    """An object whose inside we do not model: kept as sent."""
    s: Schema = {"type": "object", PRESERVE: True}
    if desc:
        s["description"] = desc
    return s


def obj(props: dict[str, Schema], required: tuple[str, ...] = (), *, open_: bool = True,
        desc: str = "", strategy: str = "") -> Schema:
    """An object; ``open_`` keeps unknown fields (the default: we model the common ones)."""
    s: Schema = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    if open_:
        s[PRESERVE] = True
    if desc:
        s["description"] = desc
    if strategy:
        s["x-kubernetes-patch-strategy"] = strategy
    return s


def arr(items: Schema, *, merge_key: str = "", strategy: str = "", list_type: str = "",
        map_keys: tuple[str, ...] = ()) -> Schema:
    """An array with upstream's patch/list markers."""
    s: Schema = {"type": "array", "items": items}
    if merge_key:
        s["x-kubernetes-patch-merge-key"] = merge_key
    if strategy:
        s["x-kubernetes-patch-strategy"] = strategy
    if list_type:
        s["x-kubernetes-list-type"] = list_type
    if map_keys:
        s["x-kubernetes-list-map-keys"] = list(map_keys)
    return s


def atomic(items: Schema) -> Schema:
    return arr(items, list_type="atomic")


def keyed(items: Schema, key: str, *extra_keys: str, strategy: str = "merge") -> Schema:
    """A list merged by ``key`` (patchMergeKey + listType=map)."""
    return arr(items, merge_key=key, strategy=strategy, list_type="map", map_keys=(key, *extra_keys))


def strings() -> Schema:
    return atomic(string())


# ---------------------------------------------------------------- shared pieces

OWNER_REFERENCE = obj({
    "apiVersion": string(), "kind": string(), "name": string(), "uid": string(),
    "controller": boolean(), "blockOwnerDeletion": boolean(),
}, ("apiVersion", "kind", "name", "uid"), open_=False)

MANAGED_FIELDS_ENTRY = obj({
    "apiVersion": string(), "fieldsType": string(), "fieldsV1": preserve(),
    "manager": string(), "operation": string(), "subresource": string(), "time": date_time(),
}, open_=False)

OBJECT_META = obj({
    "name": string(), "generateName": string(), "namespace": string(), "selfLink": string(),
    "uid": string(), "resourceVersion": string(), "generation": int64(),
    "creationTimestamp": date_time(), "deletionTimestamp": date_time(),
    "deletionGracePeriodSeconds": int64(),
    "labels": string_map(), "annotations": string_map(),
    "ownerReferences": keyed(OWNER_REFERENCE, "uid"),
    "finalizers": arr(string(), strategy="merge", list_type="set"),
    "managedFields": atomic(MANAGED_FIELDS_ENTRY),
}, open_=False)

LIST_META = obj({"resourceVersion": string(), "continue": string(),
                 "remainingItemCount": int64(), "selfLink": string()}, open_=False)

LABEL_SELECTOR = obj({
    "matchLabels": string_map(),
    "matchExpressions": atomic(obj({"key": string(), "operator": string(), "values": strings()},
                                   ("key", "operator"), open_=False)),
}, open_=False)
LABEL_SELECTOR["x-kubernetes-map-type"] = "atomic"


def condition(extra: dict[str, Schema] | None = None) -> Schema:
    props = {"type": string(), "status": string(), "reason": string(), "message": string(),
             "lastTransitionTime": date_time(), "lastUpdateTime": date_time(),
             "lastProbeTime": date_time(), "lastHeartbeatTime": date_time(),
             "observedGeneration": int64()}
    props.update(extra or {})
    return obj(props, ("type", "status"))


def conditions() -> Schema:
    return keyed(condition(), "type")


OBJECT_REFERENCE = obj({
    "apiVersion": string(), "kind": string(), "name": string(), "namespace": string(),
    "uid": string(), "resourceVersion": string(), "fieldPath": string(),
}, open_=False)
OBJECT_REFERENCE["x-kubernetes-map-type"] = "atomic"

LOCAL_OBJECT_REFERENCE = obj({"name": string()}, open_=False)
LOCAL_OBJECT_REFERENCE["x-kubernetes-map-type"] = "atomic"

RESOURCE_LIST = string_map(quantity())

RESOURCE_REQUIREMENTS = obj({
    "limits": RESOURCE_LIST, "requests": RESOURCE_LIST,
    "claims": keyed(obj({"name": string(), "request": string()}, ("name",)), "name"),
})

ENV_VAR = obj({
    "name": string(), "value": string(),
    "valueFrom": obj({
        "fieldRef": obj({"apiVersion": string(), "fieldPath": string()}, ("fieldPath",)),
        "resourceFieldRef": obj({"containerName": string(), "resource": string(),
                                 "divisor": quantity()}, ("resource",)),
        "configMapKeyRef": obj({"name": string(), "key": string(), "optional": boolean()}, ("key",)),
        "secretKeyRef": obj({"name": string(), "key": string(), "optional": boolean()}, ("key",)),
    }),
}, ("name",))

ENV_FROM = obj({
    "prefix": string(),
    "configMapRef": obj({"name": string(), "optional": boolean()}),
    "secretRef": obj({"name": string(), "optional": boolean()}),
})

CONTAINER_PORT = obj({
    "name": string(), "containerPort": int32(), "hostPort": int32(), "hostIP": string(),
    "protocol": string(enum=("SCTP", "TCP", "UDP")),
}, ("containerPort",))

VOLUME_MOUNT = obj({
    "name": string(), "mountPath": string(), "subPath": string(), "subPathExpr": string(),
    "readOnly": boolean(), "recursiveReadOnly": string(), "mountPropagation": string(),
}, ("name", "mountPath"))

VOLUME_DEVICE = obj({"name": string(), "devicePath": string()}, ("name", "devicePath"))

PROBE = obj({
    "exec": obj({"command": strings()}),
    "httpGet": obj({"path": string(), "port": int_or_string(), "host": string(), "scheme": string(),
                    "httpHeaders": atomic(obj({"name": string(), "value": string()}))}, ("port",)),
    "tcpSocket": obj({"port": int_or_string(), "host": string()}, ("port",)),
    "grpc": obj({"port": int32(), "service": string()}, ("port",)),
    "initialDelaySeconds": int32(), "timeoutSeconds": int32(), "periodSeconds": int32(),
    "successThreshold": int32(), "failureThreshold": int32(), "terminationGracePeriodSeconds": int64(),
})

CONTAINER = obj({
    "name": string(), "image": string(),
    "command": strings(), "args": strings(), "workingDir": string(),
    "ports": keyed(CONTAINER_PORT, "containerPort", "protocol"),
    "env": keyed(ENV_VAR, "name"),
    "envFrom": atomic(ENV_FROM),
    "resources": RESOURCE_REQUIREMENTS,
    "resizePolicy": atomic(obj({"resourceName": string(), "restartPolicy": string()})),
    "restartPolicy": string(),
    "volumeMounts": keyed(VOLUME_MOUNT, "mountPath"),
    "volumeDevices": keyed(VOLUME_DEVICE, "devicePath"),
    "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
    "lifecycle": preserve(),
    "terminationMessagePath": string(),
    "terminationMessagePolicy": string(enum=("FallbackToLogsOnError", "File")),
    "imagePullPolicy": string(enum=("Always", "IfNotPresent", "Never")),
    "securityContext": preserve(),
    "stdin": boolean(), "stdinOnce": boolean(), "tty": boolean(),
}, ("name",))

EPHEMERAL_CONTAINER = dict(CONTAINER, properties=dict(CONTAINER["properties"],
                                                       targetContainerName=string()))

VOLUME = obj({
    "name": string(),
    "configMap": obj({"name": string(), "items": atomic(obj({"key": string(), "path": string(),
                                                            "mode": int32()})),
                      "defaultMode": int32(), "optional": boolean()}),
    "secret": obj({"secretName": string(), "items": atomic(obj({"key": string(), "path": string(),
                                                               "mode": int32()})),
                   "defaultMode": int32(), "optional": boolean()}),
    "emptyDir": obj({"medium": string(), "sizeLimit": quantity()}),
    "hostPath": obj({"path": string(), "type": string()}, ("path",)),
    "persistentVolumeClaim": obj({"claimName": string(), "readOnly": boolean()}, ("claimName",)),
    "projected": preserve(), "downwardAPI": preserve(), "csi": preserve(), "nfs": preserve(),
    "ephemeral": preserve(),
}, ("name",))

TOLERATION = obj({"key": string(), "operator": string(), "value": string(), "effect": string(),
                  "tolerationSeconds": int64()})

TOPOLOGY_SPREAD = obj({
    "maxSkew": int32(), "topologyKey": string(), "whenUnsatisfiable": string(),
    "labelSelector": LABEL_SELECTOR, "minDomains": int32(), "nodeAffinityPolicy": string(),
    "nodeTaintsPolicy": string(), "matchLabelKeys": strings(),
}, ("maxSkew", "topologyKey", "whenUnsatisfiable"))

POD_SPEC = obj({
    "volumes": keyed(VOLUME, "name", strategy="merge,retainKeys"),
    "initContainers": keyed(CONTAINER, "name"),
    "containers": keyed(CONTAINER, "name"),
    "ephemeralContainers": keyed(EPHEMERAL_CONTAINER, "name"),
    "restartPolicy": string(enum=("Always", "Never", "OnFailure")),
    "terminationGracePeriodSeconds": int64(), "activeDeadlineSeconds": int64(),
    "dnsPolicy": string(enum=("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")),
    "nodeSelector": string_map(),
    "serviceAccountName": string(), "serviceAccount": string(),
    "automountServiceAccountToken": boolean(),
    "nodeName": string(), "hostNetwork": boolean(), "hostPID": boolean(), "hostIPC": boolean(),
    "shareProcessNamespace": boolean(),
    "securityContext": preserve(),
    "imagePullSecrets": keyed(LOCAL_OBJECT_REFERENCE, "name"),
    "hostname": string(), "subdomain": string(),
    "affinity": preserve(),
    "schedulerName": string(),
    "tolerations": atomic(TOLERATION),
    "hostAliases": keyed(obj({"ip": string(), "hostnames": strings()}, ("ip",)), "ip"),
    "priorityClassName": string(), "priority": int32(),
    "dnsConfig": preserve(),
    "readinessGates": atomic(obj({"conditionType": string()}, ("conditionType",))),
    "runtimeClassName": string(), "enableServiceLinks": boolean(),
    "preemptionPolicy": string(), "overhead": RESOURCE_LIST,
    "topologySpreadConstraints": keyed(TOPOLOGY_SPREAD, "topologyKey", "whenUnsatisfiable"),
    "setHostnameAsFQDN": boolean(), "os": obj({"name": string()}, ("name",)),
    "hostUsers": boolean(),
    "schedulingGates": keyed(obj({"name": string()}, ("name",)), "name"),
    "resourceClaims": keyed(obj({"name": string(), "resourceClaimName": string(),
                                 "resourceClaimTemplateName": string()}, ("name",)),
                            "name", strategy="merge,retainKeys"),
    "resources": RESOURCE_REQUIREMENTS,
}, ("containers",))

CONTAINER_STATUS = obj({
    "name": string(), "image": string(), "imageID": string(), "containerID": string(),
    "ready": boolean(), "started": boolean(), "restartCount": int32(),
    "state": preserve(), "lastState": preserve(),
}, ("name", "image", "imageID", "ready", "restartCount"))

POD_STATUS = obj({
    "phase": string(enum=("Failed", "Pending", "Running", "Succeeded", "Unknown")),
    "conditions": conditions(),
    "message": string(), "reason": string(), "nominatedNodeName": string(),
    "hostIP": string(), "hostIPs": keyed(obj({"ip": string()}, ("ip",)), "ip"),
    "podIP": string(), "podIPs": keyed(obj({"ip": string()}, ("ip",)), "ip"),
    "startTime": date_time(),
    "initContainerStatuses": atomic(CONTAINER_STATUS),
    "containerStatuses": atomic(CONTAINER_STATUS),
    "ephemeralContainerStatuses": atomic(CONTAINER_STATUS),
    "qosClass": string(enum=("BestEffort", "Burstable", "Guaranteed")),
    "resize": string(), "observedGeneration": int64(),
})

POD_TEMPLATE_SPEC = obj({"metadata": OBJECT_META, "spec": POD_SPEC})


def kind_schema(group: str, version: str, kind: str, desc: str,
                props: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """The top-level schema of a kind: apiVersion, kind, metadata + ``props``."""
    full: dict[str, Schema] = {
        "apiVersion": string(desc="APIVersion defines the versioned schema of this representation "
                                  "of an object."),
        "kind": string(desc="Kind is a string value representing the REST resource this object "
                            "represents."),
        "metadata": OBJECT_META,
    }
    full.update(props)
    s = obj(full, required, open_=False, desc=desc)
    s["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
    return s
