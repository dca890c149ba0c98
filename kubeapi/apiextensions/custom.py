"""Custom kinds as ResourceDefs: one per served version of an Established CRD, built from
its spec, and the store that serves them (the generic store plus pruning, defaulting, schema
and CEL validation, and upstream's refusal of strategic merge patch)."""

from __future__ import annotations

import builtins
import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubeapi import errors
from kubeapi.api.types import Column, FieldError, ResourceDef, ScaleSpec
from kubeapi.apiextensions import jsonpath, rules, values
from kubeapi.registry import meta
from kubeapi.registry.options import ListOptions, WriteOptions
from kubeapi.registry.patch import CUSTOM_PATCH_TYPES, STRATEGIC_MERGE_PATCH
from kubeapi.registry.patch import media_type as patch_media_type
from kubeapi.registry.store import ResourceStore, WatchHandle, WatchSink
from kubeapi.storage.interface import KeyValue

Obj = dict[str, Any]
NAME_DESCRIPTION = ("Name must be unique within a namespace. Is required when creating resources, although "
                    "some resources may allow a client to request the generation of an appropriate name "
                    "automatically. Name is primarily intended for creation idempotence and configuration "
                    "definition. Cannot be updated. More info: "
                    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")


@dataclass(frozen=True)
class CustomResourceDef(ResourceDef):
    """A served version of a CRD.  ``rules`` are its compiled x-kubernetes-validations;
    ``crd_name``/``crd_uid`` tie it to the CRD that made it."""

    crd_name: str = ""
    crd_uid: str = ""
    storage_version: str = ""
    served_versions: tuple[str, ...] = ()
    rules: rules.Node | None = None
    conversion: Obj | None = None
    custom_list_kind: str = ""
    terminating: bool = False
    # Webhook conversion: the storage version's definition (this one's objects are converted
    # to and from it by the CRD's conversion webhook).
    at_rest: CustomResourceDef | None = None

    @property
    def list_kind(self) -> str:
        return self.custom_list_kind or self.kind + "List"

    def make_store(self, server: Any) -> Any:
        if self.at_rest is not None:
            from kubeapi.apiextensions.conversion import ConvertingStore

            return ConvertingStore(self, self.at_rest.make_store(server), server)
        store = CustomResourceStore(self, server.storage, server.hook_context, prefix=server.prefix,
                                    admission=server.admission,
                                    admission_observer=server.metrics.observe_admission)
        store.controller = getattr(server, "crd_controller", None)
        return store


def _strip(path: str) -> str:
    return path[1:] if path.startswith(".") else path


def _column(col: Obj) -> Column:
    steps = jsonpath.parse(str(col.get("jsonPath") or ""))
    ctype = str(col.get("type") or "string")

    def value(obj: Obj) -> Any:
        v = jsonpath.first(obj, steps)
        if v is None:
            return None
        if ctype == "date":
            return v if isinstance(v, str) else None
        if ctype == "integer":
            return v if isinstance(v, int) and not isinstance(v, bool) else None
        if ctype == "number":
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        if ctype == "boolean":
            return v if isinstance(v, bool) else None
        return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))

    return Column(str(col.get("name") or ""), ctype, value, format=str(col.get("format") or ""),
                  description=str(col.get("description") or ""), priority=int(col.get("priority") or 0))


def columns(version: Obj) -> tuple[Column, ...]:
    cols = [Column("Name", "string", lambda o: (o.get("metadata") or {}).get("name", ""), format="name",
                   description=NAME_DESCRIPTION)]
    extra = version.get("additionalPrinterColumns")
    if extra is None:
        cols.append(Column("Age", "date", lambda o: (o.get("metadata") or {}).get("creationTimestamp"),
                           description="Custom resource definition column (in JSONPath format): "
                                       ".metadata.creationTimestamp"))
    else:
        cols += [_column(c) for c in extra]
    return tuple(cols)


def _selectable(version: Obj) -> dict[str, Callable[[Obj], str]]:
    out: dict[str, Callable[[Obj], str]] = {}
    for f in version.get("selectableFields") or []:
        path = str(f.get("jsonPath") or "")
        steps = jsonpath.parse(path)

        def get(obj: Obj, steps: list[tuple[str, Any]] = steps) -> str:
            v = jsonpath.first(obj, steps)
            if v is None:
                return ""
            if isinstance(v, bool):
                return "true" if v else "false"
            return str(v)

        out[_strip(path)] = get
    return out


def _storage_form(api_version: str) -> Callable[[Obj], Obj]:
    """Objects are written in the storage version (conversion None: only apiVersion changes)."""
    def convert(obj: Obj) -> Obj:
        return {**obj, "apiVersion": api_version}
    return convert


def build(crd: Obj) -> list[CustomResourceDef]:
    """One CustomResourceDef per served version, the preferred (kube-aware highest) first."""
    from kubeapi.apiextensions.crd import sorted_versions, storage_version

    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or spec.get("names") or {}
    m = crd.get("metadata") or {}
    group = str(spec.get("group"))
    st = storage_version(crd)
    by_name = {str(v.get("name")): v for v in spec.get("versions") or []}
    served = tuple(sorted_versions([n for n, v in by_name.items() if v.get("served")]))
    webhook = (spec.get("conversion") or {}).get("strategy") == "Webhook"
    out: list[CustomResourceDef] = []
    for vname in served + ((st,) if webhook and st not in served else ()):
        v = by_name[vname]
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
        node, _ = rules.compile_schema(schema, "")
        subs = v.get("subresources") or {}
        scale_cfg = subs.get("scale")
        sub_names = tuple(s for s in ("status", "scale") if s in subs)
        scale_spec = None
        if isinstance(scale_cfg, dict):
            scale_spec = ScaleSpec(spec_replicas=_strip(str(scale_cfg.get("specReplicasPath"))),
                                   status_replicas=_strip(str(scale_cfg.get("statusReplicasPath"))),
                                   label_selector=_strip(str(scale_cfg.get("labelSelectorPath") or "")))
        storage_av = f"{group}/{st}"
        out.append(CustomResourceDef(
            group=group, version=vname, kind=str(names.get("kind")), plural=str(names.get("plural")),
            singular=str(names.get("singular") or str(names.get("kind")).lower()),
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=sub_names, storage_path=f"{group}/{names.get('plural')}", columns=columns(v),
            field_selectors=_selectable(v), has_status="status" in subs, has_generation=True,
            scale=scale_spec, schema=schema,
            to_storage=_storage_form(storage_av),
            crd_name=str(m.get("name")), crd_uid=str(m.get("uid")), storage_version=st, served_versions=served,
            rules=node, conversion=spec.get("conversion"),
            custom_list_kind=str(names.get("listKind") or f"{names.get('kind')}List"),
        ))
    if webhook:
        at_rest = next(d for d in out if d.version == st)
        out = [dataclasses.replace(d, at_rest=at_rest) if d.version != st else d
               for d in out if d.version in served]
    return out


class CustomResourceStore(ResourceStore):
    """The generic store with what the apiextensions server adds for custom resources."""

    rdef: CustomResourceDef
    controller: Any = None  # the CRDController, told about watches so it can end them

    async def create(self, namespace: str, obj: Obj, opts: WriteOptions, subresource: str = "", *,
                     track: bool = True) -> Obj:
        if self.rdef.terminating:
            raise errors.StatusError(405, "MethodNotAllowed",
                                     "create not allowed while custom resource definition is terminating")
        return await super().create(namespace, obj, opts, subresource, track=track)

    async def watch(self, namespace: str, opts: ListOptions, sink: WatchSink) -> WatchHandle:
        handle = await super().watch(namespace, opts, sink)
        stream = getattr(sink, "__self__", None)
        if stream is not None and self.controller is not None:
            self.controller.track_watch(self.rdef.crd_uid, stream)
        return handle

    def _decode(self, kv: KeyValue, revision: int | None = None) -> Obj:
        obj = super()._decode(kv, revision)
        values.apply_defaults(obj, self.rdef.schema)  # defaults also apply to what was stored before
        return obj

    def _undeclared_fields(self, obj: Obj) -> builtins.list[str]:
        return values.prune(obj, self.rdef.schema)  # in document order, as Go reports them

    def _undeclared_in(self, obj: Obj) -> builtins.list[str]:
        return self._undeclared_fields(copy.deepcopy(obj))  # pruning works in place

    def _decode_body(self, obj: Obj, opts: WriteOptions, patching: bool = False) -> Obj:
        r = self.rdef
        obj.setdefault("kind", r.kind)
        obj.setdefault("apiVersion", r.api_version)
        if not isinstance(obj.get("metadata", {}), dict):
            raise errors.bad_request(f"unable to decode metadata: json: cannot unmarshal "
                                     f"{type(obj['metadata']).__name__} into Go value of type map[string]interface {{}}")
        self._field_validation(obj, opts, "" if patching else
                               f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: ')
        values.apply_defaults(obj, r.schema)
        return obj

    def _validate_create(self, obj: Obj) -> builtins.list[FieldError]:
        errs = meta.validate_object_meta(obj, self.rdef.namespaced, check_name_format=True)
        errs += values.validate(obj, self.rdef.schema)
        if not errs:
            errs += rules.validate(self.rdef.rules, obj)
        return meta.dedupe(errs)

    def _validate_update(self, new: Obj, old: Obj) -> builtins.list[FieldError]:
        errs = meta.validate_object_meta(new, self.rdef.namespaced, check_name_format=True)
        errs += meta.validate_immutable_meta(new, old)
        errs += values.validate(new, self.rdef.schema)
        if not errs:
            errs += rules.validate(self.rdef.rules, new, old)
        return meta.dedupe(errs)

    async def patch(self, namespace: str, name: str, patch_type: str, patch: bytes,
                    opts: WriteOptions, subresource: str = "") -> tuple[Obj, bool]:
        if patch_media_type(patch_type) == STRATEGIC_MERGE_PATCH and subresource != "scale":
            raise errors.unsupported_media_type(STRATEGIC_MERGE_PATCH, CUSTOM_PATCH_TYPES)
        return await super().patch(namespace, name, patch_type, patch, opts, subresource)

