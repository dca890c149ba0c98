"""Webhook conversion: ConversionReview v1 over HTTPS (treq), and the store that serves a
non-storage version of such a CRD by converting to and from its storage version.

The webhook is reached at ``clientConfig.url``, or for ``clientConfig.service`` at the
Service's cluster IP and port with TLS server name ``<name>.<namespace>.svc``; the server
certificate must chain to ``caBundle`` (PEM, base64 in the CRD) when it is set, else to the
system roots.
"""

from __future__ import annotations

import base64
import builtins
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import treq
from twisted.internet.defer import Deferred, succeed
from twisted.web.client import Agent

from kubeapi import errors, kubeconfig
from kubeapi.registry import meta
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions
from kubeapi.registry.patch import APPLY_PATCH, CUSTOM_PATCH_TYPES
from kubeapi.registry.patch import apply_patch as apply_patch_body
from kubeapi.registry.patch import media_type as patch_media_type

Obj = dict[str, Any]
TIMEOUT = 30.0  # upstream's default webhook timeout


class WebhookConverter:
    """Converts objects of one CRD by calling its conversion webhook."""

    def __init__(self, conversion: Obj, kind: str, storage: Any, prefix: str, reactor: Any = None) -> None:
        webhook = conversion.get("webhook") or {}
        self.config = webhook.get("clientConfig") or {}
        self.kind = kind
        self.storage = storage
        self.prefix = prefix
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor

    async def _target(self) -> tuple[str, str | None]:
        if self.config.get("url"):
            return str(self.config["url"]), None
        svc = self.config.get("service") or {}
        ns, name = svc.get("namespace", ""), svc.get("name", "")
        kv = await self.storage.get(f"{self.prefix.rstrip('/')}/services/specs/{ns}/{name}")
        if kv is None:
            raise RuntimeError(f'service "{name}" not found')
        from kubeapi.registry import codec

        ip = ((codec.decode_stored(kv.value).get("spec") or {}).get("clusterIP")) or ""
        path = svc.get("path") or "/"
        return f"https://{ip}:{int(svc.get('port') or 443)}{path}", f"{name}.{ns}.svc"

    async def convert(self, objects: builtins.list[Obj], desired: str) -> builtins.list[Obj]:
        """``objects`` in ``desired`` apiVersion; those already there are not sent."""
        todo = [i for i, o in enumerate(objects) if o.get("apiVersion") != desired]
        if not todo:
            return objects
        source = objects[todo[0]].get("apiVersion", "")
        try:
            converted = await self._call([objects[i] for i in todo], desired)
        except errors.StatusError:
            raise
        except Exception as e:
            raise errors.internal_error(f"conversion webhook for {source}, Kind={self.kind} failed: {e}") from None
        out = list(objects)
        for i, obj in zip(todo, converted, strict=True):
            # The webhook may change only labels and annotations of the metadata.
            m = dict(objects[i].get("metadata") or {})
            cm = obj.get("metadata") or {}
            for f in ("labels", "annotations"):
                if f in cm:
                    m[f] = cm[f]
            obj["metadata"] = m
            out[i] = obj
        return out

    async def _call(self, objects: builtins.list[Obj], desired: str) -> builtins.list[Obj]:
        url, server_name = await self._target()
        ca = base64.b64decode(self.config["caBundle"]) if self.config.get("caBundle") else None
        host = urlsplit(url).hostname or ""
        agent = Agent(self.reactor, contextFactory=kubeconfig.ca_bundle_policy(ca, server_name or host))
        uid = str(uuid.uuid4())
        review = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
                  "request": {"uid": uid, "desiredAPIVersion": desired, "objects": objects}}
        headers: dict[bytes | str, bytes | str] = {"Content-Type": "application/json"}
        resp = await treq.post(url, data=orjson.dumps(review), headers=headers,
                               agent=agent, timeout=TIMEOUT)  # type: ignore[arg-type]
        body = await resp.content()
        if resp.code != 200:
            raise RuntimeError(f"conversion webhook returned HTTP {resp.code}")
        answer = orjson.loads(body).get("response") or {}
        if answer.get("uid") != uid:
            raise RuntimeError(f"expected response uid {uid}, got {answer.get('uid')}")
        result = answer.get("result") or {}
        if result.get("status") != "Success":
            raise RuntimeError(f"conversion request failed: {result.get('message', '')}")
        converted = answer.get("convertedObjects") or []
        if len(converted) != len(objects):
            raise RuntimeError(f"returned {len(converted)} objects, expected {len(objects)}")
        for o in converted:
            if o.get("apiVersion") != desired:
                raise RuntimeError(f"invalid apiVersion {o.get('apiVersion')!r}, expected {desired!r}")
        return converted  # type: ignore[no-any-return]


class ConvertingStore:
    """A served version of a Webhook-conversion CRD, over the storage version's store."""

    def __init__(self, rdef: Any, inner: Any, server: Any) -> None:
        self.rdef = rdef
        self.inner = inner
        self.converter = WebhookConverter(rdef.conversion or {}, rdef.kind, server.storage, server.prefix)
        self.controller = getattr(server, "crd_controller", None)

    async def _out(self, obj: Obj) -> Obj:
        if obj.get("kind") != self.rdef.kind:
            return obj  # Status, Scale
        return (await self.converter.convert([obj], self.rdef.api_version))[0]

    async def _in(self, obj: Obj) -> Obj:
        obj.setdefault("apiVersion", self.rdef.api_version)
        obj.setdefault("kind", self.rdef.kind)
        from kubeapi.registry.store import ResourceStore

        ResourceStore._check_type(self, obj)  # type: ignore[arg-type]  # reads only self.rdef
        return (await self.converter.convert([obj], self.inner.rdef.api_version))[0]

    async def get(self, namespace: str, name: str, subresource: str = "") -> Obj:
        return await self._out(await self.inner.get(namespace, name, subresource))

    async def list(self, namespace: str, opts: ListOptions) -> Obj:
        lst = await self.inner.list(namespace, opts)
        items = [{**i, "apiVersion": self.inner.rdef.api_version, "kind": self.rdef.kind} for i in lst["items"]]
        converted = await self.converter.convert(items, self.rdef.api_version)
        for i in converted:
            i.pop("apiVersion", None)
            i.pop("kind", None)
        return {**lst, "apiVersion": self.rdef.api_version, "items": converted}

    async def create(self, namespace: str, obj: Obj, opts: WriteOptions, subresource: str = "") -> Obj:
        return await self._out(await self.inner.create(namespace, await self._in(obj), opts, subresource))

    async def update(self, namespace: str, name: str, obj: Obj, opts: WriteOptions,
                     subresource: str = "") -> tuple[Obj, bool]:
        body = obj if subresource == "scale" else await self._in(obj)
        out, created = await self.inner.update(namespace, name, body, opts, subresource)
        return await self._out(out), created

    async def patch(self, namespace: str, name: str, patch_type: str, patch: bytes, opts: WriteOptions,
                    subresource: str = "") -> tuple[Obj, bool]:
        if subresource == "scale":
            return await self.inner.patch(namespace, name, patch_type, patch, opts, subresource)
        mt = patch_media_type(patch_type)
        if mt not in CUSTOM_PATCH_TYPES:
            raise errors.unsupported_media_type(mt, CUSTOM_PATCH_TYPES)
        try:
            current = await self.get(namespace, name)
        except errors.StatusError as e:
            if e.code == 404 and mt == APPLY_PATCH and not subresource:
                created = apply_patch_body(None, patch_type, patch, self.rdef.schema, allow_strategic=False)
                meta.meta(created)["name"] = name
                return await self.create(namespace, created, opts), True
            raise
        patched = apply_patch_body(current, patch_type, patch, self.rdef.schema, allow_strategic=False)
        meta.meta(patched).setdefault("resourceVersion", meta.meta(current).get("resourceVersion"))
        return await self.update(namespace, name, patched, opts, subresource)

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        out, deleted = await self.inner.delete(namespace, name, opts)
        return await self._out(out), deleted

    async def delete_collection(self, namespace: str, list_opts: ListOptions, opts: DeleteOptions) -> Obj:
        return await self.inner.delete_collection(namespace, list_opts, opts)  # type: ignore[no-any-return]

    async def watch(self, namespace: str, opts: ListOptions, sink: Callable[[str, Obj], None]) -> Any:
        chain: list[Deferred[Any]] = [succeed(None)]

        async def deliver(event_type: str, obj: Obj) -> None:
            if event_type in ("ADDED", "MODIFIED", "DELETED"):
                try:
                    obj = await self._out(obj)
                except errors.StatusError as e:
                    sink("ERROR", e.status())
                    return
            sink(event_type, obj)

        def ordered(event_type: str, obj: Obj) -> None:
            chain[0] = chain[0].addCallback(lambda _: Deferred.fromCoroutine(deliver(event_type, obj)))
            chain[0].addErrback(lambda _f: None)

        handle = await self.inner.watch(namespace, opts, ordered)
        stream = getattr(sink, "__self__", None)
        if stream is not None and self.controller is not None:
            self.controller.track_watch(self.rdef.crd_uid, stream)
        return handle
