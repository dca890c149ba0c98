"""The generic store's common ground: encoding, Status errors, body checks, get, and the
guarded single-key writes every verb shares.

It follows upstream's generic registry (k8s.io/apiserver pkg/registry/generic/registry):
strategies come from the ResourceDef's hooks, writes are compare-and-swap on the key's
mod_revision, and the resourceVersion served is that revision.  Kind-specific rules that
live in upstream's per-kind registries (pod graceful deletion, namespace termination) are
kept here, in small helpers, because they change what every client sees.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from kubeapi import errors
from kubeapi.admission.chain import AdmissionChain, Observer
from kubeapi.admission.interface import AdmissionPlugin, Attributes
from kubeapi.api.types import FieldError, HookContext, ResourceDef
from kubeapi.protobuf import canonical
from kubeapi.registry import codec, meta, scale, schemacheck
from kubeapi.registry.options import WriteOptions
from kubeapi.storage.interface import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
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


def _internal_package(group: str) -> str:
    """The Go package of a group's internal types (core for the legacy group)."""
    return group.split(".", 1)[0] if group else "core"


def _without(obj: Obj, *keys: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in keys}



class StoreBase:
    def __init__(self, rdef: ResourceDef, storage: Storage, ctx: HookContext, *,
                 prefix: str = "/registry", admission: Sequence[AdmissionPlugin] = (),
                 admission_observer: Observer | None = None, clock: Any = None, bookmark_interval: float = 60.0,
                 media_type: str = codec.JSON) -> None:
        self.rdef = rdef
        self.media_type = media_type  # --storage-media-type: how writes are encoded
        self.storage = storage
        self.ctx = ctx
        self.prefix = prefix
        self.admission = AdmissionChain(admission, admission_observer)
        self.clock = clock
        self.bookmark_interval = bookmark_interval
        self._is_namespace = rdef.group == "" and rdef.kind == "Namespace"
        self._is_pod = rdef.group == "" and rdef.kind == "Pod"
        self._prefixes: dict[str, tuple[ResourceDef, str, str]] = {}

    # ------------------------------------------------------------------ encoding

    def _key(self, namespace: str, name: str) -> str:
        return self._prefix(namespace) + name  # what rdef.key gives

    def _prefix(self, namespace: str) -> str:
        """The collection's key prefix, worked out once per namespace (every read asks)."""
        rdef, prefix = self.rdef, self.prefix
        cache = self._prefixes
        got = cache.get(namespace)
        if got is not None and got[0] is rdef and got[1] == prefix:
            return got[2]
        text = rdef.key_prefix(prefix, namespace if rdef.namespaced else None)
        if len(cache) >= 4096:
            cache.clear()  # namespaces come from clients: stay bounded
        cache[namespace] = (rdef, prefix, text)
        return text

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

    def _undeclared_fields(self, obj: Obj) -> list[str]:
        """Dotted paths of the fields of ``obj`` its kind does not declare."""
        r = self.rdef
        return canonical.unknown_fields(obj) if canonical.supports(r.api_version, r.kind) else []

    def _undeclared_in(self, obj: Obj) -> list[str]:
        """``_undeclared_fields`` leaving ``obj`` as it is (a typed kind's check never changes it)."""
        return self._undeclared_fields(obj)

    def _field_validation(self, obj: Obj, opts: WriteOptions, prefix: str) -> None:
        """Duplicate and undeclared fields: refused (fieldValidation=Strict), warned about (Warn,
        the default) or let go (Ignore; undeclared ones are dropped)."""
        # Duplicates and undeclared fields are reported in document order: find it before
        # _undeclared_fields may prune the body.
        order = schemacheck.document_order(obj) if opts.duplicates else None
        strict = schemacheck.strict_errors(opts.duplicates, self._undeclared_fields(obj), opts.yaml_duplicates, order)
        if strict:
            schemacheck.enforce_field_validation(opts.field_validation, strict, opts.warnings,
                                                 prefix + schemacheck.strict_decoding_message(strict))

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
        self._field_validation(obj, opts, prefix)
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

    async def _read_for_update(self, key: str, attempt: int) -> tuple[KeyValue | None, bool]:
        """The object an update starts from, and whether it may be stale.  The first attempt
        takes the watch cache's copy when there is one (upstream's cachedExistingObject); a
        write from a stale copy fails its compare-and-swap, and every later attempt reads
        storage.  A key the cache lacks is read from storage at once."""
        if attempt == 0:
            from_cache = getattr(self.storage, "get_from_cache", None)
            if from_cache is not None:
                kv = from_cache(key)
                if kv is not None:
                    return kv, True
        return await self._get_kv(key), False

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
            if canonical.supports(self.rdef.api_version, self.rdef.kind):
                # Upstream decodes the body's own kind, then fails to convert it to the
                # endpoint's internal type.
                raise errors.bad_request(
                    f'{kind} in version "{version}" cannot be handled as a {self.rdef.kind}: converting '
                    f'({version}.{kind}) to ({_internal_package(self.rdef.group)}.{self.rdef.kind}): '
                    f'unknown conversion')
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


    def _success(self, obj: Obj) -> Obj:
        m = obj.get("metadata") or {}
        return errors.success_status(m.get("name", ""), self.rdef.group, self.rdef.plural, m.get("uid", ""))


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

