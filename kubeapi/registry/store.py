"""The generic store: every verb over the storage contract for any ResourceDef.

It follows upstream's generic registry (k8s.io/apiserver pkg/registry/generic/registry):
strategies come from the ResourceDef's hooks, writes are compare-and-swap on the key's
mod_revision, and the resourceVersion served is that revision.  Kind-specific rules that
live in upstream's per-kind registries (pod graceful deletion, namespace termination) are
kept here, in small helpers, because they change what every client sees.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from kubeapi import errors
from kubeapi.admission.chain import AdmissionChain
from kubeapi.admission.interface import AdmissionPlugin, Attributes
from kubeapi.api.types import FieldError, HookContext, ResourceDef
from kubeapi.protobuf import canonical
from kubeapi.registry import codec, continuetoken, meta, scale, schemacheck, selectors
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions
from kubeapi.registry.watch import INITIAL_EVENTS_END, EventTranslator
from kubeapi.storage.interface import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    Storage,
    StorageError,
    TimeoutError_,
    TooLargeError,
    UnavailableError,
)

Obj = dict[str, Any]
# (event type, object): "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR" (object = Status)
WatchSink = Callable[[str, Obj], None]

T = TypeVar("T")

# GuaranteedUpdate retries an unconditional write until it wins its compare-and-swap; each
# lost round means another writer won, so N concurrent writers need at most N rounds.  The
# bound only keeps a pathological storm from spinning forever.
MAX_UPDATE_ATTEMPTS = 256
MAX_GENERATE_NAME_ATTEMPTS = 8
LIST_PAGE = 500  # storage page size when reading everything (watch initial state, filtered lists)
SCALE_SCHEMA: Obj = {"type": "object", "properties": {"spec": {"type": "object"}}}

LIST_TOO_OLD = "The resourceVersion for the provided list is too old."
CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter, or use the continue "
                    "token in this response to retrieve the remainder of the results. Continuing with "
                    "the provided token results in an inconsistent list - objects that were created, "
                    "modified, or deleted between the time the first chunk was returned and now may "
                    "show up in the list.")
NAMESPACE_PURGE = ("The system is ensuring all content is removed from this namespace.  Upon completion, "
                   "this namespace will automatically be purged by the system.")


class WatchHandle(Protocol):
    def stop(self) -> None: ...


class ExpiredContinue(errors.StatusError):
    """410 whose Status carries a fresh continue token (metadata.continue), as upstream."""

    def __init__(self, message: str, token: str) -> None:
        super().__init__(410, "Expired", message)
        self.continue_token = token

    def status(self) -> dict[str, Any]:
        body = super().status()
        body["metadata"] = {"continue": self.continue_token}
        return body


class _Retry(Exception):
    """A compare-and-swap lost a race; read again and redo the change."""


def _int_rv(rv: str, what: str = "resourceVersion") -> int:
    try:
        v = int(rv)
    except ValueError:
        raise errors.bad_request(f'invalid resource version: strconv.ParseUint: parsing "{rv}": '
                                 f'invalid syntax') from None
    if v < 0:
        raise errors.bad_request(f"invalid {what}: {rv}")
    return v


def _without(obj: Obj, *keys: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in keys}


class ResourceStore:
    def __init__(self, rdef: ResourceDef, storage: Storage, ctx: HookContext, *,
                 prefix: str = "/registry", admission: Sequence[AdmissionPlugin] = (),
                 clock: Any = None, bookmark_interval: float = 60.0,
                 media_type: str = codec.JSON) -> None:
        self.rdef = rdef
        self.media_type = media_type  # --storage-media-type: how writes are encoded
        self.storage = storage
        self.ctx = ctx
        self.prefix = prefix
        self.admission = AdmissionChain(admission)
        self.clock = clock
        self.bookmark_interval = bookmark_interval
        self._is_namespace = rdef.group == "" and rdef.kind == "Namespace"
        self._is_pod = rdef.group == "" and rdef.kind == "Pod"

    # ------------------------------------------------------------------ encoding

    def _key(self, namespace: str, name: str) -> str:
        return self.rdef.key(self.prefix, namespace, name)

    def _prefix(self, namespace: str) -> str:
        return self.rdef.key_prefix(self.prefix, namespace if self.rdef.namespaced else None)

    def _decode(self, kv: KeyValue, revision: int | None = None) -> Obj:
        obj = codec.decode_stored(kv.value)
        if self.rdef.from_storage is not None:
            obj = self.rdef.from_storage(obj)
        obj["kind"] = self.rdef.kind
        obj["apiVersion"] = self.rdef.api_version
        meta.meta(obj)["resourceVersion"] = str(kv.mod_revision if revision is None else revision)
        return obj

    def _stored_form(self, obj: Obj) -> Obj:
        out = dict(obj)
        m = dict(out.get("metadata") or {})
        m.pop("resourceVersion", None)
        out["metadata"] = m
        out["kind"] = self.rdef.kind
        out["apiVersion"] = self.rdef.api_version
        if self.rdef.to_storage is not None:
            out = self.rdef.to_storage(out)
        if canonical.supports(str(out.get("apiVersion")), str(out.get("kind"))):
            out = canonical.canonicalize(out)  # what Go would store: no empty omitempty fields
        return out

    def _decode_body(self, obj: Obj, opts: WriteOptions, patching: bool = False) -> Obj:
        """What upstream's decoder does to a request body of a built-in kind: unknown fields are
        refused (fieldValidation=Strict), warned about (Warn, the default) or dropped (Ignore),
        and a value of the wrong JSON type is a 400."""
        r = self.rdef
        schemacheck.default_type_meta(obj, r.api_version, r.kind)
        prefix = "" if patching else f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: '
        typed = canonical.supports(r.api_version, r.kind)
        if not typed:
            out_of_range = schemacheck.int_range_error(obj, r.schema, r.kind)
            if out_of_range:
                raise errors.bad_request(prefix + out_of_range)
        strict = schemacheck.strict_errors(opts.duplicates, canonical.unknown_fields(obj) if typed else [])
        if strict:
            mode = opts.field_validation or "Warn"
            if mode == "Strict":
                raise errors.bad_request(prefix + schemacheck.strict_decoding_message(strict))
            if mode == "Warn":
                opts.warnings.extend(w for w in strict if w not in opts.warnings)
        if not typed:
            return obj
        try:
            return canonical.canonicalize(obj)
        except canonical.EncodeError as e:
            raise errors.bad_request(f"{prefix}{e}") from None

    def _encode(self, obj: Obj) -> bytes:
        return codec.encode_stored(self._stored_form(obj), self.media_type)

    # ------------------------------------------------------------------ errors

    def _storage_error(self, exc: StorageError, name: str) -> errors.StatusError:
        r = self.rdef
        if isinstance(exc, KeyExistsError):
            return errors.already_exists(r.plural, r.group, name)
        if isinstance(exc, KeyNotFoundError):
            return errors.not_found(r.plural, r.group, name)
        if isinstance(exc, ConflictError):
            return errors.conflict(r.plural, r.group, name)
        if isinstance(exc, CompactedError):
            return errors.gone(LIST_TOO_OLD)
        if isinstance(exc, FutureRevisionError):
            return errors.timeout(f"Too large resource version: {exc}", 1)
        if isinstance(exc, UnavailableError):
            return errors.service_unavailable(str(exc) or "storage is unavailable")
        if isinstance(exc, TimeoutError_):
            return errors.timeout(f"The {r.plural} operation against {errors.qualified(r.plural, r.group)} "
                                  f"could not be completed at this time, please try again.", 2)
        if isinstance(exc, TooLargeError):
            return errors.StatusError(413, "RequestEntityTooLarge", f"Request entity too large: {exc}")
        return errors.internal_error(str(exc))

    def _not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.rdef.plural, self.rdef.group, name)

    def _conflict(self, name: str, why: str | None = None) -> errors.StatusError:
        if why is None:
            return errors.conflict(self.rdef.plural, self.rdef.group, name)
        return errors.conflict(self.rdef.plural, self.rdef.group, name, why)

    def _invalid(self, name: str, errs: list[FieldError], kind: str | None = None,
                 group: str | None = None) -> errors.StatusError:
        return errors.invalid(kind or self.rdef.kind, self.rdef.group if group is None else group, name,
                              errs)

    async def _get_kv(self, key: str) -> KeyValue | None:
        try:
            return await self.storage.get(key)
        except StorageError as e:
            raise self._storage_error(e, key.rsplit("/", 1)[-1]) from None

    # ------------------------------------------------------------------ checks

    def _check_type(self, obj: Obj) -> None:
        """The decode checks upstream does against the endpoint's kind and group/version."""
        kind = obj.get("kind") or ""
        api_version = obj.get("apiVersion") or ""
        if kind and kind != self.rdef.kind:
            version = api_version.rsplit("/", 1)[-1] if api_version else self.rdef.version
            raise errors.bad_request(
                f'{kind} in version "{version}" cannot be handled as a {self.rdef.kind}: the kind in the '
                f'request body ({kind}) does not match the kind of this endpoint ({self.rdef.kind})')
        if api_version and api_version != self.rdef.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({self.rdef.api_version})")

    def _match_namespace(self, namespace: str, obj: Obj) -> None:
        m = meta.meta(obj)
        want = namespace if self.rdef.namespaced else ""
        have = m.get("namespace") or ""
        if have == want:
            return
        if not have:
            m["namespace"] = want
        elif not want:
            m.pop("namespace", None)
        else:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request")

    def _attrs(self, op: str, namespace: str, name: str, obj: Obj | None, old: Obj | None,
               subresource: str, user: Any, dry_run: bool) -> Attributes:
        return Attributes(resource=self.rdef, subresource=subresource, operation=op,
                          namespace=namespace if self.rdef.namespaced else "", name=name, object=obj,
                          old_object=old, user=user, dry_run=dry_run)

    def _validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if self.rdef.validate is not None:
            errs += self.rdef.validate(obj)
        # Names are DNS subdomains unless the kind checks its own (RBAC allows path segments).
        own_names = self.rdef.validate is not None or self.rdef.group == "rbac.authorization.k8s.io"
        errs += meta.validate_object_meta(obj, self.rdef.namespaced, check_name_format=not own_names)
        return meta.dedupe(errs)

    def _validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = self._validate_create(new)
        errs += meta.validate_immutable_meta(new, old)
        if self.rdef.validate_update is not None:
            errs += self.rdef.validate_update(new, old)
        return meta.dedupe(errs)

    # ------------------------------------------------------------------ get

    async def get(self, namespace: str, name: str, subresource: str = "") -> Obj:
        kv = await self._get_kv(self._key(namespace, name))
        if kv is None:
            raise self._not_found(name)
        obj = self._decode(kv)
        if subresource == "scale":
            if self.rdef.scale is None:
                raise self._not_found(name)
            return scale.to_scale(obj, self.rdef.scale)
        return obj

    # ------------------------------------------------------------------ create

    async def create(self, namespace: str, obj: Obj, opts: WriteOptions, subresource: str = "") -> Obj:
        if subresource:
            raise errors.method_not_allowed()
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
        return await self._create_prepared(namespace, obj, opts)

    async def _create_prepared(self, namespace: str, obj: Obj, opts: WriteOptions) -> Obj:
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
        generated = bool(m.get("generateName")) and not m.get("name")
        for attempt in range(MAX_GENERATE_NAME_ATTEMPTS):
            if generated:
                m["name"] = meta.generate_name(m["generateName"])
            name = m.get("name") or ""
            if attempt == 0:
                errs = self._validate_create(obj)
                if errs:
                    raise self._invalid(name, errs)
                attrs = self._attrs("CREATE", namespace, name, obj, None, "", opts.user, opts.dry_run)
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
        for _ in range(MAX_UPDATE_ATTEMPTS):
            try:
                return await self._update_once(namespace, name, obj, opts, subresource, precondition)
            except _Retry:
                continue
        raise self._conflict(name)

    def _check_subresource(self, subresource: str) -> None:
        allowed = {"", "status"} | ({"finalize"} if self._is_namespace else set())
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
                           subresource: str, precondition: str) -> tuple[Obj, bool]:
        """One read-modify-write round; raises _Retry when an unconditional write lost a race."""
        key = self._key(namespace, name)
        kv = await self._get_kv(key)
        if kv is None:
            if not self.rdef.allow_create_on_update or subresource:
                raise self._not_found(name)
            new = meta.deepcopy(obj)
            attrs = self._attrs("CREATE", namespace, name, new, None, "", opts.user, opts.dry_run)
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
                                        conditional=bool(precondition))

    def _merge_update(self, old: Obj, new: Obj, subresource: str) -> Obj:
        """The strategy's PrepareForUpdate: which parts a verb may change, the rest from old."""
        rdef = self.rdef
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
            return out
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
                            opts: WriteOptions, subresource: str, conditional: bool) -> tuple[Obj, bool]:
        rdef = self.rdef
        nm = meta.meta(new)
        if rdef.has_generation and subresource in ("", "scale") and self._spec_changed(new, old):
            nm["generation"] = int((old.get("metadata") or {}).get("generation") or 0) + 1
        attrs = self._attrs("UPDATE", namespace, name, new, old, subresource, opts.user, opts.dry_run)
        await self.admission.admit(attrs)
        new = attrs.object or new
        errs = self._validate_update(new, old)
        if errs:
            raise self._invalid(name, errs)
        await self.admission.validate(attrs)
        if self._should_delete_during_update(new, old):
            return await self._delete_now(namespace, name, old, kv, opts.dry_run, conditional), False
        if codec.decode_stored(self._encode(new)) == codec.decode_stored(kv.value):
            return old, False  # no-op: upstream skips the write and keeps the resourceVersion
        if opts.dry_run:
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
        for _ in range(MAX_UPDATE_ATTEMPTS):
            kv = await self._get_kv(key)
            if kv is None:
                if is_apply and not subresource:
                    created = patching.apply_patch(None, patch_type, patch, self.rdef.schema)
                    self._check_type(created)
                    cm = meta.meta(created)
                    if cm.get("name") and cm["name"] != name:
                        raise errors.bad_request(f"the name of the object ({cm['name']}) does not match "
                                                 f"the name on the URL ({name})")
                    cm["name"] = name
                    return await self.create(namespace, created, opts), True
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
                                                conditional=False)
            except _Retry:
                continue
        raise self._conflict(name)

    # ------------------------------------------------------------------ delete

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        key = self._key(namespace, name)
        for _ in range(MAX_UPDATE_ATTEMPTS):
            kv = await self._get_kv(key)
            if kv is None:
                raise self._not_found(name)
            obj = self._decode(kv)
            self._check_preconditions(name, obj, opts)
            attrs = self._attrs("DELETE", namespace, name, None, obj, "", opts.user, opts.dry_run)
            await self.admission.admit(attrs)
            await self.admission.validate(attrs)
            try:
                return await self._delete_once(namespace, name, obj, kv, opts)
            except _Retry:
                continue
        raise self._conflict(name)

    def _check_preconditions(self, name: str, obj: Obj, opts: DeleteOptions) -> None:
        m = obj.get("metadata") or {}
        if opts.precondition_uid is not None and opts.precondition_uid != m.get("uid", ""):
            raise self._conflict(name, f"the UID in the precondition ({opts.precondition_uid}) does not match "
                                       f"the UID in record ({m.get('uid', '')}). The object might have "
                                       f"been deleted and then recreated")
        if opts.precondition_resource_version is not None and \
                opts.precondition_resource_version != m.get("resourceVersion", ""):
            raise self._conflict(name, f"the ResourceVersion in the precondition "
                                       f"({opts.precondition_resource_version}) does not match the "
                                       f"ResourceVersion in record ({m.get('resourceVersion', '')}). The "
                                       f"object might have been modified")

    @staticmethod
    def _gc_finalizers(finalizers: list[str], policy: str | None) -> list[str]:
        """Orphan/Foreground/Background as finalizers, as upstream's deletion propagation."""
        out = [f for f in finalizers]
        if policy == "Orphan":
            out = [f for f in out if f != "foregroundDeletion"]
            if "orphan" not in out:
                out.append("orphan")
        elif policy == "Foreground":
            out = [f for f in out if f != "orphan"]
            if "foregroundDeletion" not in out:
                out.append("foregroundDeletion")
        elif policy == "Background":
            out = [f for f in out if f not in ("orphan", "foregroundDeletion")]
        return out

    def _pod_grace(self, obj: Obj, opts: DeleteOptions) -> int:
        """Pods: the kubelet finishes the deletion, so only scheduled, running pods wait."""
        if opts.grace_period_seconds is not None:
            period = max(opts.grace_period_seconds, 0) if opts.grace_period_seconds >= 0 else 1
        else:
            period = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds") or 0)
        if not (obj.get("spec") or {}).get("nodeName"):
            period = 0
        if (obj.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            period = 0
        return period

    async def _delete_once(self, namespace: str, name: str, obj: Obj, kv: KeyValue,
                           opts: DeleteOptions) -> tuple[Obj, bool]:
        m = obj.get("metadata") or {}
        conditional = opts.precondition_resource_version is not None
        if self._is_namespace:
            spec_fins = (obj.get("spec") or {}).get("finalizers") or []
            if not m.get("deletionTimestamp"):
                if spec_fins or m.get("finalizers") or opts.propagation_policy in ("Orphan", "Foreground"):
                    new = meta.deepcopy(obj)
                    nm = meta.meta(new)
                    nm["deletionTimestamp"] = meta.now_rfc3339()
                    new.setdefault("status", {})["phase"] = "Terminating"
                    fins = self._gc_finalizers(list(nm.get("finalizers") or []), opts.propagation_policy)
                    if fins:
                        nm["finalizers"] = fins
                    else:
                        nm.pop("finalizers", None)
                    return await self._write_deleting(name, new, kv, opts.dry_run, conditional), False
            elif spec_fins:
                raise self._conflict(name, NAMESPACE_PURGE)
        fins = list(m.get("finalizers") or [])
        new_fins = self._gc_finalizers(fins, opts.propagation_policy)
        if m.get("deletionTimestamp"):
            grace_now = m.get("deletionGracePeriodSeconds")
            if self._is_pod and grace_now and opts.grace_period_seconds is not None:
                period = max(opts.grace_period_seconds, 0)
                if period < grace_now:
                    new = meta.deepcopy(obj)
                    nm = meta.meta(new)
                    ts = meta.parse_rfc3339(nm["deletionTimestamp"]).timestamp() - grace_now + period
                    nm["deletionTimestamp"] = meta.format_rfc3339(ts)
                    nm["deletionGracePeriodSeconds"] = period
                    if period == 0 and not fins:
                        return await self._delete_now(namespace, name, obj, kv, opts.dry_run, conditional), True
                    return await self._write_deleting(name, new, kv, opts.dry_run, conditional), False
            if grace_now or fins:
                # Deletion already under way: nothing changes until the kubelet or the
                # finalizers' owners finish it.
                return (obj if fins or self.rdef.return_deleted_object else self._success(obj)), False
            return await self._delete_now(namespace, name, obj, kv, opts.dry_run, conditional), True
        period = self._pod_grace(obj, opts) if self._is_pod else 0
        if period > 0 or new_fins:
            new = meta.deepcopy(obj)
            nm = meta.meta(new)
            if new_fins:
                nm["finalizers"] = new_fins
            else:
                nm.pop("finalizers", None)
            if period > 0:
                nm["deletionTimestamp"] = meta.rfc3339_plus(period)
                nm["deletionGracePeriodSeconds"] = period
            else:
                nm["deletionTimestamp"] = meta.now_rfc3339()
                nm["deletionGracePeriodSeconds"] = 0
            if nm.get("generation"):
                nm["generation"] = int(nm["generation"]) + 1
            return await self._write_deleting(name, new, kv, opts.dry_run, conditional), False
        return await self._delete_now(namespace, name, obj, kv, opts.dry_run, conditional), True

    def _success(self, obj: Obj) -> Obj:
        m = obj.get("metadata") or {}
        return errors.success_status(m.get("name", ""), self.rdef.group, self.rdef.plural, m.get("uid", ""))

    async def _write_deleting(self, name: str, new: Obj, kv: KeyValue, dry_run: bool,
                              conditional: bool) -> Obj:
        """Mark an object as being deleted (deletionTimestamp, finalizers) and keep it."""
        if dry_run:
            return new
        return await self._write_at_revision(name, new, kv, conditional)

    async def _write_at_revision(self, name: str, new: Obj, kv: KeyValue, conditional: bool) -> Obj:
        """Replace the object read as ``kv``, only if nobody wrote it since."""
        kv2 = await self._guarded(name, conditional, self.storage.update(kv.key, self._encode(new),
                                                                         kv.mod_revision))
        return self._decode(kv2)

    async def _guarded(self, name: str, conditional: bool, write: Awaitable[T]) -> T:
        """Await a write guarded by a mod revision.  A lost race is the client's 409 when it named
        a precondition (resourceVersion/uid); otherwise the caller re-reads and retries."""
        try:
            return await write
        except (ConflictError, KeyNotFoundError):
            if conditional:
                raise self._conflict(name) from None
            raise _Retry() from None
        except StorageError as e:
            raise self._storage_error(e, name) from None

    async def _delete_now(self, namespace: str, name: str, obj: Obj, kv: KeyValue, dry_run: bool,
                          conditional: bool) -> Obj:
        if not dry_run:
            await self._guarded(name, conditional, self.storage.delete(kv.key, kv.mod_revision))
            if self.rdef.on_delete is not None:
                await self.rdef.on_delete(self.ctx, obj)
        return obj if self.rdef.return_deleted_object else self._success(obj)

    async def delete_collection(self, namespace: str, list_opts: ListOptions,
                                opts: DeleteOptions) -> Obj:
        listed = await self.list(namespace, ListOptions(
            label_selector=list_opts.label_selector, field_selector=list_opts.field_selector,
            resource_version=list_opts.resource_version,
            resource_version_match=list_opts.resource_version_match))
        for item in listed["items"]:
            m = item.get("metadata") or {}
            try:
                await self.delete(m.get("namespace") or namespace, m.get("name", ""), opts)
            except errors.StatusError as e:
                if e.code != 404:
                    raise
        return listed

    # ------------------------------------------------------------------ list

    def _matcher(self, opts: ListOptions) -> tuple[Callable[[Obj], bool], bool]:
        """(predicate, selects-everything) from the label and field selectors."""
        ls = selectors.parse_label_selector(opts.label_selector or "")
        fs = selectors.parse_field_selector(opts.field_selector or "")
        supported = ["metadata.name"] + (["metadata.namespace"] if self.rdef.namespaced else []) + \
            list(self.rdef.field_selectors)
        selectors.check_supported(fs, supported, self.rdef.plural)
        if ls.empty and fs.empty:
            return (lambda _o: True), True
        rdef = self.rdef

        def matches(obj: Obj) -> bool:
            if not ls.matches((obj.get("metadata") or {}).get("labels") or {}):
                return False
            if fs.empty:
                return True
            return fs.matches(selectors.object_fields(obj, rdef.field_selectors, rdef.namespaced))

        return matches, False

    async def _read_revision(self, opts: ListOptions) -> tuple[int, bool]:
        """Which revision to read at, and whether limit applies (upstream's cache ignores it
        for resourceVersion=0)."""
        rv, match = opts.resource_version, opts.resource_version_match
        if match and match not in ("Exact", "NotOlderThan"):
            raise errors.bad_request(f'resourceVersionMatch: Unsupported value: "{match}": supported '
                                     f'values: "Exact", "NotOlderThan"')
        if match and not rv:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if not rv:
            return 0, True
        want = _int_rv(rv)
        if match == "Exact":
            if want == 0:
                raise errors.bad_request('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            return want, True
        current = await self._current_revision()
        if want > current:
            raise errors.timeout(f"Too large resource version: {want}, current: {current}", 1)
        return 0, not (want == 0 and not match)

    async def _current_revision(self) -> int:
        try:
            return await self.storage.current_revision()
        except StorageError as e:
            raise self._storage_error(e, "") from None

    async def list(self, namespace: str, opts: ListOptions) -> Obj:
        matches, everything = self._matcher(opts)
        prefix = self._prefix(namespace)
        revision, use_limit = await self._read_revision(opts)
        limit = opts.limit if (use_limit and opts.limit and opts.limit > 0) else 0
        start_after: str | None = None
        paging = bool(opts.continue_)
        if opts.continue_:
            if opts.resource_version and opts.resource_version != "0":
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            tok = continuetoken.decode(opts.continue_, prefix)
            start_after = tok.start_key[:-1] if tok.start_key.endswith("\x00") else tok.start_key
            revision = 0 if tok.revision == -1 else tok.revision
            limit = opts.limit if opts.limit and opts.limit > 0 else 0
        read_page = self._page_reader(opts)
        items: list[Obj] = []
        read_rev = revision
        more = False
        remaining = 0
        last_key: str | None = None
        while True:
            page = 0
            if limit:
                page = max(limit - len(items), 1) if everything else max(limit, LIST_PAGE)
            try:
                res = await read_page(prefix, read_rev, page, start_after)
            except CompactedError:
                if paging and start_after is not None:
                    token = continuetoken.encode(start_after + "\x00", prefix, -1)
                    raise ExpiredContinue(CONTINUE_EXPIRED, token) from None
                raise errors.gone(LIST_TOO_OLD) from None
            except FutureRevisionError:
                current = await self._current_revision()
                raise errors.timeout(f"Too large resource version: {read_rev}, current: {current}", 1) from None
            except StorageError as e:
                raise self._storage_error(e, "") from None
            read_rev = res.revision
            more, remaining = res.more, res.remaining
            full = False
            for i, kv in enumerate(res.items):
                last_key = kv.key
                obj = self._decode(kv)
                if matches(obj):
                    # Upstream's typed lists carry kind/apiVersion only on the list, not the items.
                    del obj["kind"], obj["apiVersion"]
                    items.append(obj)
                    if limit and len(items) >= limit:
                        full = True
                        if i < len(res.items) - 1:
                            more = True
                            remaining += len(res.items) - 1 - i
                        break
            if res.items:
                start_after = last_key
            if full or not limit or not res.more or not res.items:
                break
        list_meta: Obj = {"resourceVersion": str(read_rev)}
        if limit and more and last_key is not None:
            list_meta["continue"] = continuetoken.encode(last_key + "\x00", prefix, read_rev)
            if everything and remaining:
                list_meta["remainingItemCount"] = remaining
        return {"kind": self.rdef.list_kind, "apiVersion": self.rdef.api_version, "metadata": list_meta,
                "items": items}

    def _page_reader(self, opts: ListOptions) -> Callable[[str, int, int, str | None], Awaitable[ListResult]]:
        """resourceVersion=0 means "any data is fine": served from the watch cache when there is one."""
        from_cache = getattr(self.storage, "list_from_cache", None)
        if opts.resource_version == "0" and not opts.continue_ and from_cache is not None:
            return lambda prefix, _rev, limit, start_after: from_cache(prefix, limit=limit, start_after=start_after)
        return lambda prefix, rev, limit, start_after: self.storage.list(
            prefix, revision=rev, limit=limit, start_after=start_after)

    async def _list_all(self, prefix: str, revision: int) -> tuple[builtins.list[KeyValue], int]:
        out: builtins.list[KeyValue] = []
        start_after: str | None = None
        while True:
            res = await self.storage.list(prefix, revision=revision, limit=LIST_PAGE, start_after=start_after)
            out.extend(res.items)
            revision = res.revision
            if not res.more or not res.items:
                return out, revision
            start_after = res.items[-1].key

    # ------------------------------------------------------------------ watch

    async def watch(self, namespace: str, opts: ListOptions, sink: WatchSink) -> WatchHandle:
        matches, _ = self._matcher(opts)
        prefix = self._prefix(namespace)
        rv = opts.resource_version
        if opts.send_initial_events is not None:
            initial = opts.send_initial_events
        else:
            initial = rv in ("", "0")
        requested = _int_rv(rv) if rv else 0
        translator = EventTranslator(
            decode=lambda kv, rev: self._decode(kv, rev), matches=matches, sink=sink,
            kind=self.rdef.kind, api_version=self.rdef.api_version, start_revision=requested,
            clock=self.clock, bookmark_interval=self.bookmark_interval if opts.allow_watch_bookmarks else 0)
        try:
            if initial:
                kvs, at = await self._list_all(prefix, 0)
                translator.last_revision = at
                for kv in kvs:
                    translator.emit_initial(self._decode(kv))
                if opts.send_initial_events:
                    sink("BOOKMARK", translator.bookmark_object(at, {INITIAL_EVENTS_END: "true"}))
                start = at + 1
            else:
                start = requested + 1
            handle = await self.storage.watch(prefix, start, translator.on_events, translator.on_error)
        except CompactedError as e:
            raise errors.too_old_resource_version(requested, e.compact_revision) from None
        except StorageError as e:
            raise self._storage_error(e, "") from None
        translator.attach(handle)
        return translator
