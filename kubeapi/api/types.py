"""A built-in kind is data: one ``ResourceDef`` per resource, read by the registry,
discovery, OpenAPI, Table printing, validation and storage alike.

Modules ``kubeapi/api/<group>.py`` each export ``RESOURCES: list[ResourceDef]``;
``kubeapi/api/__init__.py`` gathers them into one ``Catalog``.  CRDs become the same
kind of entry at run time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kubeapi.auth.user import UserInfo
    from kubeapi.storage.interface import Storage

Obj = dict[str, Any]

# Verbs as discovery lists them.
STANDARD_VERBS: tuple[str, ...] = (
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One cause of a 422 Invalid.  ``type`` is upstream's cause reason, e.g.
    ``FieldValueRequired``, ``FieldValueInvalid``, ``FieldValueNotSupported``,
    ``FieldValueDuplicate``, ``FieldValueForbidden``, ``FieldValueTooLong``,
    ``FieldValueTypeInvalid``.  ``field`` is the dotted path with [i] indexes,
    e.g. ``spec.containers[0].name``."""

    type: str
    field: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    def message(self) -> str:
        """Upstream's one-line rendering, e.g. 'metadata.name: Required value'."""
        label = {
            "FieldValueRequired": "Required value",
            "FieldValueInvalid": "Invalid value",
            "FieldValueNotSupported": "Unsupported value",
            "FieldValueDuplicate": "Duplicate value",
            "FieldValueForbidden": "Forbidden",
            "FieldValueTooLong": "Too long",
            "FieldValueTypeInvalid": "Invalid value",
            "FieldValueNotFound": "Not found",
            "FieldValueTooMany": "Too many",
        }.get(self.type, "Invalid value")
        text = label
        if self.has_value or self.type in ("FieldValueInvalid", "FieldValueNotSupported",
                                           "FieldValueDuplicate", "FieldValueTypeInvalid"):
            import json

            text += ": " + json.dumps(self.value)
        if self.detail:
            text += ": " + self.detail
        return f"{self.field}: {text}" if self.field else text


@dataclass(frozen=True, slots=True)
class Column:
    """One column of server-side printing (``as=Table``).  ``priority`` 1 = only with -o wide.
    ``value`` computes the cell from the object; AGE cells are rendered by the server from
    ``metadata.creationTimestamp`` when ``type == 'date'``."""

    name: str
    type: str  # "string" | "integer" | "number" | "boolean" | "date"
    value: Callable[[Obj], Any]
    format: str = ""  # "name" for the NAME column
    description: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """Where the ``scale`` subresource (autoscaling/v1 Scale) reads and writes."""

    spec_replicas: str = "spec.replicas"
    status_replicas: str = "status.replicas"
    label_selector: str = "spec.selector"  # a LabelSelector or a map (replicationcontrollers)


class Allocators(Protocol):
    """What kind hooks may reach: the persistent ClusterIP and NodePort allocators.  ``name`` and
    ``field`` only shape the 422 Invalid raised for a taken or out-of-range request."""

    async def allocate_cluster_ip(self, requested: str | None, name: str = "") -> str: ...
    async def release_cluster_ip(self, ip: str) -> None: ...
    async def allocate_node_port(self, requested: int | None, name: str = "", field: str = "") -> int: ...
    async def release_node_port(self, port: int) -> None: ...


class HookContext(Protocol):
    storage: Storage
    allocators: Allocators


# Async per-kind hooks run by the generic store around the write.
CreateHook = Callable[[HookContext, Obj], Awaitable[None]]  # may mutate obj; raise StatusError
UpdateHook = Callable[[HookContext, Obj, Obj], Awaitable[None]]  # (ctx, new, old)
DeleteHook = Callable[[HookContext, Obj], Awaitable[None]]  # after the object is gone


@dataclass(frozen=True)
class ResourceDef:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    # Subresources served by the generic store: "status", "scale"; others
    # ("log", "proxy", "exec", "binding", "finalize", "eviction", ...) are listed here for
    # discovery and handled by the server where implemented.
    subresources: tuple[str, ...] = ()
    # Key segment under the etcd prefix, as upstream lays it out ("minions" for nodes,
    # "services/specs", "controllers" for replicationcontrollers).  Default: plural.
    storage_path: str = ""
    columns: tuple[Column, ...] = ()
    # Field selectors beyond metadata.name / metadata.namespace, e.g. {"spec.nodeName": f}.
    field_selectors: Mapping[str, Callable[[Obj], str]] = field(default_factory=dict)
    # Strategy: defaulting mutates in place (create and update); validate returns errors;
    # validate_update adds immutability checks against the old object.
    default: Callable[[Obj], None] | None = None
    validate: Callable[[Obj], list[FieldError]] | None = None
    validate_update: Callable[[Obj, Obj], list[FieldError]] | None = None
    # Called on create only, after defaulting (e.g. pods: status.phase = Pending).
    prepare_for_create: Callable[[Obj], None] | None = None
    # Also on create, with the requesting user (CSRs record who asked: spec.username, groups ...).
    stamp_requester: Callable[[Obj, UserInfo | None], None] | None = None
    has_status: bool = False  # spec/status split: create & update ignore status, /status only status
    # Create keeps the client's status despite has_status (nodes: kubelets register with it).
    keep_status_on_create: bool = False
    has_generation: bool = False  # metadata.generation = 1, +1 on every non-metadata, non-status change
    scale: ScaleSpec | None = None
    # Upstream returns the object (not a Status) from DELETE for these kinds.
    return_deleted_object: bool = False
    # Kinds whose objects' other versions share storage (events.k8s.io Event <-> core Event):
    # convert to the stored form before writing and from it after reading.
    to_storage: Callable[[Obj], Obj] | None = None
    from_storage: Callable[[Obj], Obj] | None = None
    on_create: CreateHook | None = None
    on_update: UpdateHook | None = None
    on_delete: DeleteHook | None = None
    # OpenAPI v3 schema of the object (properties, types, x-kubernetes-patch-merge-key ...);
    # used for /openapi, type checks and strategic-merge-patch list keys.
    schema: Obj | None = None
    # PUT on a missing object creates it (upstream's AllowCreateOnUpdate: events, endpoints,
    # services, leases, limitranges).
    allow_create_on_update: bool = False
    # Upstream's discovery entry (kubeapi.api.generated.discovery): subresource kinds and verbs,
    # storageVersionHash.  Set by kubeapi.api.facts.resource().
    facts: Mapping[str, Any] | None = None
    # Create-only kinds answered by a handler outside the generic store (TokenReview,
    # SubjectAccessReview, ...): the store refuses them with a Status instead of storing them.
    virtual: bool = False
    # Subresources beyond status/scale served by the generic store's update and patch, each with
    # its PrepareForUpdate: (old, new) -> the object to write (CSR "approval").
    update_strategies: Mapping[str, Callable[[Obj, Obj], Obj]] = field(default_factory=dict)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key_segment(self) -> str:
        return self.storage_path or self.plural

    def key_prefix(self, prefix: str, namespace: str | None = None) -> str:
        """Storage key prefix for a collection, ending in '/'.  ``prefix`` is --etcd-prefix."""
        base = f"{prefix.rstrip('/')}/{self.key_segment}/"
        if self.namespaced and namespace:
            base += f"{namespace}/"
        return base

    def key(self, prefix: str, namespace: str | None, name: str) -> str:
        return self.key_prefix(prefix, namespace if self.namespaced else None) + name


class Catalog:
    """Every served resource, looked up the ways the server needs."""

    def __init__(self, resources: Iterable[ResourceDef] = ()) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceDef] = {}
        self._order: list[ResourceDef] = []
        for r in resources:
            self.add(r)

    def add(self, r: ResourceDef) -> None:
        self._by_gvr[(r.group, r.version, r.plural)] = r
        self._order.append(r)

    def remove(self, group: str, version: str, plural: str) -> None:
        r = self._by_gvr.pop((group, version, plural), None)
        if r is not None:
            self._order.remove(r)

    def get(self, group: str, version: str, plural: str) -> ResourceDef | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[ResourceDef]:
        return list(self._order)

    def groups(self) -> dict[str, list[str]]:
        """group -> versions, in first-seen order (preferred version first)."""
        out: dict[str, list[str]] = {}
        for r in self._order:
            vs = out.setdefault(r.group, [])
            if r.version not in vs:
                vs.append(r.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceDef]:
        return [r for r in self._order if r.group == group and r.version == version]

    def by_kind(self, group: str, kind: str) -> ResourceDef | None:
        for r in self._order:
            if r.group == group and r.kind == kind:
                return r
        return None
