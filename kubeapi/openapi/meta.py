"""Schemas of the shared meta types (ObjectMeta, ListMeta, Status, ...), written from the
field lists of meta/v1 and autoscaling/v1.  ``ref`` turns a definition name into a
``$ref`` for the document being built (``#/definitions/`` or ``#/components/schemas/``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi.openapi.naming import META

Ref = Callable[[str], dict[str, Any]]
Schema = dict[str, Any]

TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
OBJECT_META = f"{META}.ObjectMeta"
LIST_META = f"{META}.ListMeta"
STATUS = f"{META}.Status"
DELETE_OPTIONS = f"{META}.DeleteOptions"
WATCH_EVENT = f"{META}.WatchEvent"
PATCH = f"{META}.Patch"
SCALE = "io.k8s.api.autoscaling.v1.Scale"


def _s(t: str, desc: str = "", **kw: Any) -> Schema:
    out: Schema = {"type": t}
    if desc:
        out["description"] = desc
    out.update(kw)
    return out


def _str_map(desc: str) -> Schema:
    return _s("object", desc, additionalProperties={"type": "string", "default": ""})


def described(target: Schema, desc: str) -> Schema:
    """A reference with its own description: OpenAPI 3 ignores a ``$ref``'s siblings, so there
    the reference goes into ``allOf`` (as upstream's v3 documents have it)."""
    if str(target.get("$ref", "")).startswith("#/components/"):
        return {"allOf": [target], "description": desc}
    return {**target, "description": desc}


def _gvk(group: str, version: str, kind: str) -> list[dict[str, str]]:
    return [{"group": group, "kind": kind, "version": version}]


def meta_definitions(ref: Ref) -> dict[str, Schema]:
    """Every shared type the resource schemas and operations refer to."""
    time = ref(TIME)
    defs: dict[str, Schema] = {
        TIME: _s("string", "An RFC 3339 timestamp, second precision.", format="date-time"),
        MICRO_TIME: _s("string", "An RFC 3339 timestamp, microsecond precision.", format="date-time"),
        f"{META}.FieldsV1": _s("object", "The set of fields a manager owns, in the FieldsV1 format."),
        f"{META}.ManagedFieldsEntry": _s("object", "Which fields a manager set, and how.", properties={
            "apiVersion": _s("string"), "fieldsType": _s("string"), "fieldsV1": ref(f"{META}.FieldsV1"),
            "manager": _s("string"), "operation": _s("string"), "subresource": _s("string"), "time": time,
        }),
        f"{META}.OwnerReference": _s("object", "Points at an object this one belongs to.", properties={
            "apiVersion": _s("string", default=""), "blockOwnerDeletion": _s("boolean"),
            "controller": _s("boolean"), "kind": _s("string", default=""),
            "name": _s("string", default=""), "uid": _s("string", default=""),
        }, required=["apiVersion", "kind", "name", "uid"], **{"x-kubernetes-map-type": "atomic"}),
        OBJECT_META: _s("object", "Metadata every persisted object carries.", properties={
            "annotations": _str_map("Unstructured key/value data for tools."),
            "creationTimestamp": described(time, "CreationTimestamp is a timestamp of when the server "
                                            "created the object (RFC 3339, UTC); read-only."),
            "deletionGracePeriodSeconds": _s("integer", format="int64"),
            "deletionTimestamp": time,
            "finalizers": {**_s("array", "Tokens that must be cleared before deletion completes.",
                                items={"type": "string", "default": ""}),
                           "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
            "generateName": _s("string", "Prefix for a server-generated name."),
            "generation": _s("integer", format="int64"),
            "labels": _str_map("Key/value pairs used by selectors."),
            "managedFields": _s("array", items=ref(f"{META}.ManagedFieldsEntry"),
                                **{"x-kubernetes-list-type": "atomic"}),
            "name": _s("string", "Unique within a namespace."),
            "namespace": _s("string", "The namespace the object lives in."),
            "ownerReferences": {**_s("array", items=ref(f"{META}.OwnerReference")),
                                "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map",
                                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
            "resourceVersion": _s("string", "Opaque version used for concurrency control and watches."),
            "selfLink": _s("string"),
            "uid": _s("string", "Unique in time and space."),
        }),
        LIST_META: _s("object", "Metadata of a list response.", properties={
            "continue": _s("string"), "remainingItemCount": _s("integer", format="int64"),
            "resourceVersion": _s("string"), "selfLink": _s("string"),
        }),
        f"{META}.StatusCause": _s("object", "One reason a request failed.", properties={
            "field": _s("string"), "message": _s("string"), "reason": _s("string"),
        }),
        f"{META}.StatusDetails": _s("object", "What a failure was about.", properties={
            "causes": _s("array", items=ref(f"{META}.StatusCause"), **{"x-kubernetes-list-type": "atomic"}),
            "group": _s("string"), "kind": _s("string"), "name": _s("string"),
            "retryAfterSeconds": _s("integer", format="int32"), "uid": _s("string"),
        }),
        STATUS: _s("object", "The result of a call that does not return an object.", properties={
            "apiVersion": _s("string"), "code": _s("integer", format="int32"),
            "details": ref(f"{META}.StatusDetails"), "kind": _s("string"), "message": _s("string"),
            "metadata": ref(LIST_META), "reason": _s("string"), "status": _s("string"),
        }, **{"x-kubernetes-group-version-kind": _gvk("", "v1", "Status")}),
        f"{META}.Preconditions": _s("object", "Must hold before a delete goes ahead.", properties={
            "resourceVersion": _s("string"), "uid": _s("string"),
        }),
        DELETE_OPTIONS: _s("object", "Options of a delete request.", properties={
            "apiVersion": _s("string"), "dryRun": _s("array", items={"type": "string", "default": ""},
                                                     **{"x-kubernetes-list-type": "atomic"}),
            "gracePeriodSeconds": _s("integer", format="int64"),
            "ignoreStoreReadErrorWithClusterBreakingPotential": _s("boolean"),
            "kind": _s("string"), "orphanDependents": _s("boolean"),
            "preconditions": ref(f"{META}.Preconditions"), "propagationPolicy": _s("string"),
        }, **{"x-kubernetes-group-version-kind": _gvk("", "v1", "DeleteOptions")}),
        WATCH_EVENT: _s("object", "One event of a watch stream.", properties={
            "object": _s("object", "The object (or a Status for ERROR events)."),
            "type": _s("string", default=""),
        }, required=["type", "object"], **{"x-kubernetes-group-version-kind": _gvk("", "v1", "WatchEvent")}),
        PATCH: _s("object", "A patch body; its format is given by the Content-Type."),
        f"{META}.LabelSelectorRequirement": _s("object", properties={
            "key": _s("string", default=""), "operator": _s("string", default=""),
            "values": _s("array", items={"type": "string", "default": ""},
                         **{"x-kubernetes-list-type": "atomic"}),
        }, required=["key", "operator"]),
        f"{META}.LabelSelector": _s("object", "Selects objects by their labels.", properties={
            "matchExpressions": _s("array", items=ref(f"{META}.LabelSelectorRequirement"),
                                   **{"x-kubernetes-list-type": "atomic"}),
            "matchLabels": _str_map("Equality requirements, ANDed."),
        }, **{"x-kubernetes-map-type": "atomic"}),
        f"{META}.Condition": _s("object", properties={
            "lastTransitionTime": time, "message": _s("string", default=""),
            "observedGeneration": _s("integer", format="int64"), "reason": _s("string", default=""),
            "status": _s("string", default=""), "type": _s("string", default=""),
        }, required=["type", "status", "lastTransitionTime", "reason", "message"]),
        "io.k8s.api.autoscaling.v1.ScaleSpec": _s("object", properties={
            "replicas": _s("integer", format="int32")}),
        "io.k8s.api.autoscaling.v1.ScaleStatus": _s("object", properties={
            "replicas": _s("integer", format="int32", default=0), "selector": _s("string")},
            required=["replicas"]),
        SCALE: _s("object", "The scale subresource of a scalable kind.", properties={
            "apiVersion": _s("string"), "kind": _s("string"), "metadata": ref(OBJECT_META),
            "spec": ref("io.k8s.api.autoscaling.v1.ScaleSpec"),
            "status": ref("io.k8s.api.autoscaling.v1.ScaleStatus"),
        }, **{"x-kubernetes-group-version-kind": _gvk("autoscaling", "v1", "Scale")}),
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": _s(
            "string", "An integer or a string.", format="int-or-string"),
        "io.k8s.apimachinery.pkg.api.resource.Quantity": _s("string", "A fixed-point quantity, e.g. 100m."),
    }
    return defs
