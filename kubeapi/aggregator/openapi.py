"""Extension servers' OpenAPI in ours, as upstream's OpenAPI aggregation controllers do.

v2: each service-backed APIService's ``/openapi/v2`` is fetched in the background (on
changes and every minute) and its paths and definitions merged into our document (ours win
a name clash).  v3: the extension's ``/openapi/v3`` index is read and the documents of the
APIService's ``apis/<group>/<version>`` fetched and kept; our index lists them with our
hash and ``/openapi/v3/apis/<group>/<version>`` serves the kept copy.  Requests only read
what is cached.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import orjson
from twisted.internet import defer
from twisted.internet.task import LoopingCall

from kubeapi.aggregator.apiservices import name_of, spec
from kubeapi.aggregator.fetch import FetchError, fetch
from kubeapi.openapi import doc_hash, encode_v2

log = logging.getLogger(__name__)

Obj = dict[str, Any]
REFRESH_SECONDS = 60.0


class OpenAPIMerger:
    """See the module docstring."""

    def __init__(self, aggregator: Any) -> None:
        self.aggregator = aggregator
        self.v2_specs: dict[str, Obj] = {}  # APIService name -> its server's v2 document
        self.v3_docs: dict[str, tuple[bytes, str]] = {}  # "apis/g/v" -> (body, hash)
        self._v3_owner: dict[str, str] = {}  # "apis/g/v" -> APIService name
        self._stamp = 0
        self._merged: tuple[tuple[str, int], bytes, str] | None = None
        self._merged_pb: tuple[tuple[str, int], bytes] | None = None
        self._loop: LoopingCall | None = None
        self._busy: set[str] = set()

    def start(self) -> None:
        self._loop = LoopingCall(self.refresh_all)
        self._loop.clock = self.aggregator.reactor
        self._loop.start(REFRESH_SECONDS, now=True).addErrback(
            lambda f: log.error("OpenAPI aggregation refresh died: %s", f.getErrorMessage()))

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def refresh_all(self) -> None:
        for svc in self.aggregator.registry.remote_services():
            self.refresh(name_of(svc))

    def forget(self, name: str) -> None:
        changed = self.v2_specs.pop(name, None) is not None
        for path in [p for p, owner in self._v3_owner.items() if owner == name]:
            self._v3_owner.pop(path, None)
            self.v3_docs.pop(path, None)
            changed = True
        if changed:
            self._stamp += 1

    def refresh(self, name: str) -> None:
        if name in self._busy:
            return
        self._busy.add(name)
        d = defer.ensureDeferred(self._run(name))
        d.addErrback(lambda f: log.warning("OpenAPI of APIService %s failed: %s", name, f.getErrorMessage()))
        d.addBoth(lambda _: self._busy.discard(name))

    async def _run(self, name: str) -> None:
        svc = self.aggregator.registry.by_name.get(name)
        if svc is None or "service" not in spec(svc):
            self.forget(name)
            return
        try:
            await self._fetch_v2(name, svc)
            await self._fetch_v3(name, svc)
        except (FetchError, ValueError) as e:
            log.info("OpenAPI of %s not refreshed: %s", name, e)  # the last good copy stays

    async def _fetch_v2(self, name: str, svc: Obj) -> None:
        code, _, body = await fetch(self.aggregator, svc, "/openapi/v2", "application/json")
        if code != 200:
            raise FetchError(f"/openapi/v2 answered {code}")
        doc = orjson.loads(body)
        if self.v2_specs.get(name) != doc:
            self.v2_specs[name] = doc
            self._stamp += 1

    async def _fetch_v3(self, name: str, svc: Obj) -> None:
        key = f"apis/{spec(svc).get('group')}/{spec(svc).get('version')}"
        code, _, body = await fetch(self.aggregator, svc, "/openapi/v3", "application/json")
        if code != 200:
            return  # an extension without v3 is left out of our v3 index
        entry = (orjson.loads(body).get("paths") or {}).get(key)
        if not isinstance(entry, dict) or not entry.get("serverRelativeURL"):
            return
        url = urlsplit(str(entry["serverRelativeURL"]))
        path = url.path + (f"?{url.query}" if url.query else "")
        code, _, doc = await fetch(self.aggregator, svc, path, "application/json")
        if code != 200:
            raise FetchError(f"{path} answered {code}")
        orjson.loads(doc)  # must be JSON
        self.v3_docs[key] = (doc, doc_hash(doc))
        self._v3_owner[key] = name

    # -- serving --------------------------------------------------------------------------

    def v2(self, docs: Any) -> tuple[bytes, str]:
        """(merged JSON, etag) of /openapi/v2."""
        local = docs.v2()
        if not self.v2_specs:
            return local, docs.v2_etag()
        key = (docs.v2_etag(), self._stamp)
        if self._merged is None or self._merged[0] != key:
            merged = orjson.loads(local)
            for _, ext in sorted(self.v2_specs.items()):
                for path, item in (ext.get("paths") or {}).items():
                    merged["paths"].setdefault(path, item)
                for dname, schema in (ext.get("definitions") or {}).items():
                    merged.setdefault("definitions", {}).setdefault(dname, schema)
            body = orjson.dumps(merged)
            self._merged = (key, body, doc_hash(body))
        return self._merged[1], self._merged[2]

    def v2_protobuf(self, docs: Any) -> bytes:
        if not self.v2_specs:
            return docs.v2_protobuf()  # type: ignore[no-any-return]
        body, etag = self.v2(docs)
        key = (etag, self._stamp)
        if self._merged_pb is None or self._merged_pb[0] != key:
            self._merged_pb = (key, encode_v2(orjson.loads(body)))
        return self._merged_pb[1]

    def v3_index(self, local_index: bytes) -> bytes:
        if not self.v3_docs:
            return local_index
        index = orjson.loads(local_index)
        paths = index.setdefault("paths", {})
        for key, (_, digest) in self.v3_docs.items():
            paths.setdefault(key, {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"})
        index["paths"] = dict(sorted(paths.items()))
        return orjson.dumps(index)

    def v3(self, path: str) -> tuple[bytes, str] | None:
        return self.v3_docs.get(path.strip("/"))
