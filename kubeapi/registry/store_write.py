"""CREATE, UPDATE (PUT), the scale subresource and PATCH of the generic store: the
strategy's PrepareForCreate/PrepareForUpdate, validation, admission and the CAS write.
"""

from __future__ import annotations

from kubeapi import errors
from kubeapi.protobuf import canonical
from kubeapi.registry import apply_errors, codec, managedfields, meta, scale
from kubeapi.registry.options import WriteOptions
from kubeapi.registry.podspecupdates import POD_SPEC_SUBRESOURCES, pod_spec_update
from kubeapi.registry.store_base import (
    MAX_GENERATE_NAME_ATTEMPTS,
    MAX_UPDATE_ATTEMPTS,
    SCALE_SCHEMA,
    Obj,
    _Retry,
    _without,
)
from kubeapi.registry.store_list import ListWatchStore
from kubeapi.storage.interface import (
    KeyExistsError,
    KeyValue,
    StorageError,
)


class WriteStore(ListWatchStore):
    # ------------------------------------------------------------------ create

    def _manager(self, opts: WriteOptions) -> str:
        return opts.field_manager or managedfields.manager_from_user_agent(opts.user_agent)

    def _empty_object(self) -> Obj:
        """The kind's zero value as Go would serialise it: what a create is compared with."""
        r = self.rdef
        if canonical.supports(r.api_version, r.kind):
            return canonical.zero_value(r.api_version, r.kind)
        return {}

    def _track(self, old: Obj | None, new: Obj, opts: WriteOptions, subresource: str) -> None:
        managedfields.track_update(old, new, self._manager(opts), self.rdef.api_version, self.rdef.schema,
                                   subresource=subresource, has_status="status" in self.rdef.subresources,
                                   empty=self._empty_object())

    async def create(self, namespace: str, obj: Obj, opts: WriteOptions, subresource: str = "", *,
                     track: bool = True) -> Obj:
        if subresource:
            raise errors.method_not_allowed()
        if self.rdef.virtual:  # review kinds, bindings: answered by their own handler, never stored
            raise errors.service_unavailable(
                f"{errors.qualified(self.rdef.plural, self.rdef.group)} is not served by this server's "
                "generic store; its handler is not installed")
        obj = meta.deepcopy(obj)
        self._check_type(obj)
        obj = self._decode_body(obj, opts)
        self._match_namespace(namespace, obj)
        m = meta.meta(obj)
        rv_given = m.get("resourceVersion")
        if isinstance(rv_given, str) and rv_given.isascii() and rv_given.isdigit() and len(rv_given) < 21 and \
                0 < int(rv_given) < 2 ** 64:
            # upstream's storage refuses a parsable one; an unparsable one is just dropped
            raise errors.StatusError(500, "", "resourceVersion should not be set on objects to be created")
        m.pop("resourceVersion", None)
        if self.rdef.default is not None:
            self.rdef.default(obj)
        attrs = self._attrs("CREATE", namespace, m.get("name") or "", obj, None, "", opts.user,
                            opts.dry_run)
        await self.admission.admit(attrs)
        obj = attrs.object or obj
        return await self._create_prepared(namespace, obj, opts, track=track)

    async def _create_prepared(self, namespace: str, obj: Obj, opts: WriteOptions, *, track: bool = True) -> Obj:
        """BeforeCreate + validation + validating admission + write (retrying generated names)."""
        rdef = self.rdef
        m = meta.meta(obj)
        m.pop("deletionTimestamp", None)
        m.pop("deletionGracePeriodSeconds", None)
        m.pop("resourceVersion", None)
        if rdef.has_status and not rdef.keep_status_on_create:
            obj.pop("status", None)
        if rdef.has_generation:
            m["generation"] = 1
        m["uid"] = meta.new_uid()
        m["creationTimestamp"] = meta.now_rfc3339()
        if rdef.prepare_for_create is not None:  # may read the uid (jobs' controller-uid selector)
            rdef.prepare_for_create(obj)
        if rdef.stamp_requester is not None:
            rdef.stamp_requester(obj, opts.user)
        generated = bool(m.get("generateName")) and not m.get("name")
        for attempt in range(MAX_GENERATE_NAME_ATTEMPTS):
            if generated:
                m["name"] = meta.generate_name(m["generateName"])
            name = m.get("name") or ""
            if attempt == 0:
                if track:
                    self._track(None, obj, opts, "")
                errs = self._validate_create(obj)
                if errs:
                    raise self._invalid(name, errs)
                attrs = self._attrs("CREATE", namespace, name, obj, None, "", opts.user, opts.dry_run)
                attrs.warnings = opts.warnings
                attrs.audit_annotations = opts.audit_annotations
                await self.admission.validate(attrs)
            key = self._key(namespace, name)
            if opts.dry_run:
                kv = await self._get_kv(key)
                if kv is not None:
                    if generated:
                        continue
                    raise errors.already_exists(rdef.plural, rdef.group, name)
                out = self._decode(KeyValue(key, self._encode(obj), 0, 0))
                meta.meta(out).pop("resourceVersion", None)
                return out
            if attempt == 0 and rdef.on_create is not None:
                await rdef.on_create(self.ctx, obj)
            try:
                kv = await self.storage.create(key, self._encode(obj))
            except KeyExistsError:
                if generated:
                    continue
                raise errors.already_exists(rdef.plural, rdef.group, name) from None
            except StorageError as e:
                raise self._storage_error(e, name) from None
            return self._decode(kv)
        raise errors.already_exists(rdef.plural, rdef.group, m.get("name") or "")

    # ------------------------------------------------------------------ update

    async def update(self, namespace: str, name: str, obj: Obj, opts: WriteOptions,
                     subresource: str = "") -> tuple[Obj, bool]:
        obj = meta.deepcopy(obj)
        if subresource == "scale":
            return await self._update_scale(namespace, name, obj, opts)
        self._check_subresource(subresource)
        self._check_type(obj)
        obj = self._decode_body(obj, opts)
        self._check_name(namespace, name, obj)
        self._match_namespace(namespace, obj)
        if self.rdef.default is not None:
            self.rdef.default(obj)
        precondition = meta.meta(obj).get("resourceVersion") or ""
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            try:
                return await self._update_once(namespace, name, obj, opts, subresource, precondition, attempt)
            except _Retry:
                continue
        raise self._conflict(name)

    def _check_subresource(self, subresource: str) -> None:
        allowed = {"", "status"} | ({"finalize"} if self._is_namespace else set()) | \
            (POD_SPEC_SUBRESOURCES if self._is_pod else set()) | set(self.rdef.update_strategies)
        if subresource not in allowed or (subresource == "status" and not self.rdef.has_status
                                          and "status" not in self.rdef.subresources):
            raise errors.method_not_allowed()

    def _check_name(self, namespace: str, name: str, obj: Obj) -> None:
        m = meta.meta(obj)
        obj_name = m.get("name") or ""
        if not obj_name:
            raise errors.bad_request(f"the name of the object ({name} based on URL) was undeterminable: "
                                     f"name must be provided")
        if obj_name != name:
            raise errors.bad_request(f"the name of the object ({obj_name}) does not match the name on "
                                     f"the URL ({name})")
        obj_ns = m.get("namespace") or ""
        if self.rdef.namespaced and namespace and obj_ns and obj_ns != namespace:
            raise errors.bad_request(f"the namespace of the object ({obj_ns}) does not match the "
                                     f"namespace on the URL ({namespace})")

    async def _update_once(self, namespace: str, name: str, obj: Obj, opts: WriteOptions,
                           subresource: str, precondition: str, attempt: int = 1) -> tuple[Obj, bool]:
        """One read-modify-write round; raises _Retry when an unconditional write lost a race,
        or when the round failed on a copy that may be stale (the next one reads storage)."""
        key = self._key(namespace, name)
        kv, stale = await self._read_for_update(key, attempt)
        if not stale:
            return await self._update_from(namespace, name, obj, opts, subresource, precondition, kv)
        try:
            return await self._update_from(namespace, name, obj, opts, subresource, precondition, kv, stale=True)
        except errors.StatusError:
            raise _Retry() from None

    async def _update_from(self, namespace: str, name: str, obj: Obj, opts: WriteOptions, subresource: str,
                           precondition: str, kv: KeyValue | None, stale: bool = False) -> tuple[Obj, bool]:
        if kv is None:
            if not self.rdef.allow_create_on_update or subresource:
                raise self._not_found(name)
            new = meta.deepcopy(obj)
            attrs = self._attrs("CREATE", namespace, name, new, None, "", opts.user, opts.dry_run)
            attrs.warnings = opts.warnings
            attrs.audit_annotations = opts.audit_annotations
            await self.admission.admit(attrs)
            try:
                return await self._create_prepared(namespace, attrs.object or new, opts), True
            except errors.StatusError as e:
                if e.reason == "AlreadyExists" and not precondition:
                    raise _Retry() from None
                raise
        old = self._decode(kv)
        if precondition and precondition != str(kv.mod_revision):
            raise self._conflict(name)
        new = self._merge_update(old, meta.deepcopy(obj), subresource)
        return await self._write_update(namespace, name, new, old, kv, opts, subresource,
                                        conditional=bool(precondition), stale=stale)

    def _merge_update(self, old: Obj, new: Obj, subresource: str) -> Obj:
        """The strategy's PrepareForUpdate: which parts a verb may change, the rest from old."""
        rdef = self.rdef
        if subresource in rdef.update_strategies:
            return rdef.update_strategies[subresource](meta.deepcopy(old), new)
        if subresource == "status":
            out = meta.deepcopy(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            nm, om = meta.meta(new), meta.meta(out)
            for f in ("labels", "annotations"):
                if f in nm:
                    om[f] = nm[f]
                else:
                    om.pop(f, None)
            if "managedFields" in nm:  # what an apply to /status computed
                om["managedFields"] = nm["managedFields"]
            return out
        if subresource in POD_SPEC_SUBRESOURCES:
            return pod_spec_update(old, new, subresource, self._invalid)
        if subresource == "finalize":
            out = meta.deepcopy(old)
            fins = (new.get("spec") or {}).get("finalizers")
            spec = out.setdefault("spec", {})
            if fins:
                spec["finalizers"] = fins
            else:
                spec.pop("finalizers", None)
            return out
        nm, om = meta.meta(new), old.get("metadata") or {}
        if not nm.get("uid") and om.get("uid"):
            nm["uid"] = om["uid"]
        for f in ("creationTimestamp",):
            if f in om:
                nm[f] = om[f]
            else:
                nm.pop(f, None)
        if om.get("deletionTimestamp"):
            nm["deletionTimestamp"] = om["deletionTimestamp"]
        if om.get("deletionGracePeriodSeconds") is not None and nm.get("deletionGracePeriodSeconds") is None:
            nm["deletionGracePeriodSeconds"] = om["deletionGracePeriodSeconds"]
        if "generation" in om:
            nm["generation"] = om["generation"]
        else:
            nm.pop("generation", None)
        nm["resourceVersion"] = om.get("resourceVersion", "")
        if rdef.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self._is_namespace:
            old_fins = (old.get("spec") or {}).get("finalizers")
            spec = new.setdefault("spec", {}) if (old_fins or "spec" in new) else None
            if spec is not None:
                if old_fins:
                    spec["finalizers"] = old_fins
                else:
                    spec.pop("finalizers", None)
            if "status" in old:
                new["status"] = old["status"]
        return new

    def _spec_changed(self, new: Obj, old: Obj) -> bool:
        skip = ("metadata", "status", "kind", "apiVersion") if self.rdef.has_status else \
            ("metadata", "kind", "apiVersion")
        return _without(new, *skip) != _without(old, *skip)

    def _should_delete_during_update(self, new: Obj, old: Obj) -> bool:
        nm, om = new.get("metadata") or {}, old.get("metadata") or {}
        if nm.get("finalizers") or not om.get("deletionTimestamp"):
            return False
        if self._is_namespace and (new.get("spec") or {}).get("finalizers"):
            return False
        return not om.get("deletionGracePeriodSeconds")

    async def _write_update(self, namespace: str, name: str, new: Obj, old: Obj, kv: KeyValue,
                            opts: WriteOptions, subresource: str, conditional: bool,
                            track: bool = True, stale: bool = False) -> tuple[Obj, bool]:
        rdef = self.rdef
        nm = meta.meta(new)
        if rdef.has_generation and subresource in ("", "scale", *POD_SPEC_SUBRESOURCES) and \
                self._spec_changed(new, old):
            nm["generation"] = int((old.get("metadata") or {}).get("generation") or 0) + 1
        attrs = self._attrs("UPDATE", namespace, name, new, old, subresource, opts.user, opts.dry_run)
        attrs.warnings = opts.warnings
        attrs.audit_annotations = opts.audit_annotations
        await self.admission.admit(attrs)
        new = attrs.object or new
        if track:
            self._track(old, new, opts, subresource)
        if subresource in POD_SPEC_SUBRESOURCES:  # their own narrower rules ran in pod_spec_update
            errs = meta.dedupe(self._validate_create(new) + meta.validate_immutable_meta(new, old))
        else:
            errs = self._validate_update(new, old)
        if errs:
            raise self._invalid(name, errs)
        await self.admission.validate(attrs)
        if self._should_delete_during_update(new, old):
            # Upstream answers an update that empties the finalizers with the updated object,
            # not the delete's Status: clients of PUT/PATCH (the garbage collector's metadata
            # client) expect an object back.
            await self._delete_now(namespace, name, old, kv, opts.dry_run, conditional)
            return new, False
        if codec.decode_stored(self._encode(new)) == codec.decode_stored(kv.value):
            if stale:  # a no-op against a cached copy: make sure against storage
                raise _Retry()
            return old, False  # no-op: upstream skips the write and keeps the resourceVersion
        if opts.dry_run:
            if stale:  # answer from what storage holds, not a cached copy
                raise _Retry()
            return new, False
        if rdef.on_update is not None:
            await rdef.on_update(self.ctx, new, old)
        return await self._write_at_revision(name, new, kv, conditional), False

    # ------------------------------------------------------------------ scale

    async def _update_scale(self, namespace: str, name: str, body: Obj, opts: WriteOptions) -> tuple[Obj, bool]:
        if self.rdef.scale is None:
            raise errors.method_not_allowed()
        if body.get("kind") and body["kind"] != "Scale":
            raise errors.bad_request(f'{body["kind"]} in version "v1" cannot be handled as a Scale: the kind '
                                     f'in the request body does not match the kind of this endpoint (Scale)')
        bm = meta.meta(body)
        if bm.get("name") and bm["name"] != name:
            raise errors.bad_request(f"the name of the object ({bm['name']}) does not match the name on "
                                     f"the URL ({name})")
        precondition = bm.get("resourceVersion") or ""
        for _ in range(MAX_UPDATE_ATTEMPTS):
            try:
                return await self._scale_once(namespace, name, body, opts, precondition)
            except _Retry:
                continue
        raise self._conflict(name)

    async def _scale_once(self, namespace: str, name: str, body: Obj, opts: WriteOptions,
                          precondition: str) -> tuple[Obj, bool]:
        assert self.rdef.scale is not None
        kv = await self._get_kv(self._key(namespace, name))
        if kv is None:
            raise self._not_found(name)
        old = self._decode(kv)
        if precondition and precondition != str(kv.mod_revision):
            raise self._conflict(name)
        return await self._write_scale(namespace, name, body, old, kv, opts, bool(precondition)), False

    async def _write_scale(self, namespace: str, name: str, wanted: Obj, old: Obj, kv: KeyValue,
                           opts: WriteOptions, conditional: bool) -> Obj:
        """Validate a Scale, carry its replicas into the object read as ``kv``, write, and
        answer with the resulting Scale (PUT and PATCH of /scale alike)."""
        assert self.rdef.scale is not None
        errs = scale.validate_scale(wanted)
        if errs:
            raise errors.invalid("Scale", "autoscaling", name, errs)
        new = meta.deepcopy(old)
        scale.apply_scale(new, wanted, self.rdef.scale)
        out, _ = await self._write_update(namespace, name, new, old, kv, opts, "scale",
                                          conditional=conditional)
        return scale.to_scale(out, self.rdef.scale)

    # ------------------------------------------------------------------ patch

    async def patch(self, namespace: str, name: str, patch_type: str, patch: bytes,
                    opts: WriteOptions, subresource: str = "") -> tuple[Obj, bool]:
        from kubeapi.registry import patch as patching

        if subresource == "scale" and self.rdef.scale is None:
            raise errors.method_not_allowed()
        if subresource != "scale":
            self._check_subresource(subresource)
        is_apply = patching.media_type(patch_type) == patching.APPLY_PATCH
        key = self._key(namespace, name)
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            kv, stale = await self._read_for_update(key, attempt if subresource != "scale" else 1)
            if kv is None:
                if is_apply and not subresource:
                    created = self._apply(None, patch_type, patch, opts, "")
                    self._check_type(created)
                    cm = meta.meta(created)
                    if cm.get("name") and cm["name"] != name:
                        raise errors.bad_request(f"the name of the object ({cm['name']}) does not match "
                                                 f"the name on the URL ({name})")
                    cm["name"] = name
                    return await self.create(namespace, created, opts, track=False), True
                raise self._not_found(name)
            current = self._decode(kv)
            try:
                if subresource == "scale":
                    assert self.rdef.scale is not None
                    cur_scale = scale.to_scale(current, self.rdef.scale)
                    patched = patching.apply_patch(cur_scale, patch_type, patch, SCALE_SCHEMA)
                    rv = meta.meta(patched).get("resourceVersion") or ""
                    if rv and rv != str(kv.mod_revision):
                        raise self._conflict(name)
                    return await self._write_scale(namespace, name, patched, current, kv, opts,
                                                   conditional=False), False
                if is_apply:
                    patched = self._apply(current, patch_type, patch, opts, subresource)
                else:
                    patched = patching.apply_patch(current, patch_type, patch, self.rdef.schema)
                self._check_type(patched)
                patched = self._decode_body(patched, opts, patching=True)
                self._check_name(namespace, name, patched)
                self._match_namespace(namespace, patched)
                if self.rdef.default is not None:
                    self.rdef.default(patched)
                rv = meta.meta(patched).get("resourceVersion") or ""
                if rv and rv != str(kv.mod_revision):
                    raise self._conflict(name)
                new = self._merge_update(current, patched, subresource)
                return await self._write_update(namespace, name, new, current, kv, opts, subresource,
                                                conditional=False, track=not is_apply, stale=stale)
            except _Retry:
                continue
            except errors.StatusError:
                if stale:  # it may have failed only for being a stale copy: once more from storage
                    continue
                raise
        raise self._conflict(name)


    def _apply(self, current: Obj | None, patch_type: str, body: bytes, opts: WriteOptions,
               subresource: str) -> Obj:
        """Server-side apply: the configuration merged into ``current`` with managedFields,
        pruning and conflicts (409 unless force)."""
        from kubeapi.registry import patch as patching

        config = patching.decode_apply_yaml(body)
        if not isinstance(config, dict):
            raise errors.bad_request("error decoding YAML: the applied configuration is not an object")
        given = _group_version_kind(config)
        if given != (self.rdef.group, self.rdef.version, self.rdef.kind):  # upstream's first check
            raise errors.bad_request(f"invalid object type: {given[0]}/{given[1]}, Kind={given[2]}")
        if (config.get("metadata") or {}).get("managedFields") is not None:
            raise errors.bad_request("metadata.managedFields must be nil")
        undeclared = self._undeclared_in(config)
        if undeclared:
            r = self.rdef
            m = config.get("metadata") or {}
            raise apply_errors.undeclared_fields_error(
                config, r.schema, undeclared, str(m.get("namespace") or ""), str(m.get("name") or ""),
                r.group, r.version, r.kind)
        merged = patching.apply_server_side(current, config, self.rdef.schema)
        return managedfields.apply(current, config, merged, self._manager(opts), self.rdef.api_version,
                                   self.rdef.schema, force=opts.force, subresource=subresource,
                                   has_status="status" in self.rdef.subresources, empty=self._empty_object())


def _group_version_kind(obj: Obj) -> tuple[str, str, str]:
    """(group, version, kind) as an unstructured object reports them: non-strings read as
    empty, and an apiVersion with more than one "/" gives no kind at all."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    api_version = api_version if isinstance(api_version, str) else ""
    kind = kind if isinstance(kind, str) else ""
    if api_version.count("/") > 1:
        return "", "", ""
    group, _, version = api_version.rpartition("/")
    return group, version, kind

