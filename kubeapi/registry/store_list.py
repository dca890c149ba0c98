"""LIST and WATCH of the generic store: selectors, resourceVersion semantics, paging with
continue tokens, and the watch translator.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable

from kubeapi import errors
from kubeapi.registry import continuetoken, selectors
from kubeapi.registry.decodememo import DecodeMemo
from kubeapi.registry.objectcache import DecodedObjects, EncodedItems, ListItems, ListMemo
from kubeapi.registry.options import ListOptions
from kubeapi.registry.store_base import (
    CONTINUE_EXPIRED,
    LIST_PAGE,
    LIST_TOO_OLD,
    ExpiredContinue,
    Obj,
    StoreBase,
    WatchHandle,
    WatchSink,
    _int_rv,
)
from kubeapi.registry.watch import INITIAL_EVENTS_END, EventTranslator
from kubeapi.storage.interface import (
    CompactedError,
    FutureRevisionError,
    KeyValue,
    ListResult,
    StorageError,
)


class ListWatchStore(StoreBase):
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
        if want == 0:  # "any state": nothing to compare, no round trip to etcd for it
            return 0, bool(match)
        current = await self._current_revision()
        if want > current:
            raise errors.timeout(f"Too large resource version: {want}, current: {current}", 1)
        return 0, True

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
        cache = self._list_cache(opts)
        want_json = cache is not None and opts.encoded_json
        items: list[Obj] = []
        encoded: EncodedItems | None = EncodedItems() if want_json else None
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
            memo_key = None
            if cache is not None and not limit and start_after is None:  # the whole prefix, read at once
                memo_key = (prefix, opts.label_selector or "", opts.field_selector or "", want_json)
                known = self._list_memo().lookup(memo_key, res.items)
                if known is not None:
                    items, encoded = list(known[0]), known[1]
                    break
            full = False
            for i, kv in enumerate(res.items):
                last_key = kv.key
                # Upstream's typed lists carry kind/apiVersion only on the list, not the items.
                if cache is None:
                    obj = self._decode(kv)
                    if not matches(obj):
                        continue
                    obj = dict(obj)
                    del obj["kind"], obj["apiVersion"]
                else:  # shared, with its JSON when the reply is JSON
                    entry = cache.entry(kv)
                    if not matches(entry[2]):
                        continue
                    obj, data = cache.list_item(entry, want_json)
                    if encoded is not None:
                        if data is None:
                            encoded = None
                        else:
                            encoded.append(data)
                items.append(obj)
                if limit and len(items) >= limit:
                    full = True
                    if i < len(res.items) - 1:
                        more = True
                        remaining += len(res.items) - 1 - i
                    break
            if memo_key is not None:
                self._list_memo().remember(memo_key, res.items, items[:], encoded)
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
                "items": items if encoded is None else ListItems(items, encoded)}

    async def get_shared(self, namespace: str, name: str) -> tuple[Obj, bool]:
        """``get`` for a caller that only reads the object (the HTTP GET handler encodes it):
        served from the decoded objects LIST keeps, when this store reads the plain way.
        Also says whether the object is that shared one (else it is the caller's own)."""
        cls = type(self)
        if cls.get is not StoreBase.get or cls._decode is not StoreBase._decode:
            return await self.get(namespace, name), False
        key = self._key(namespace, name)
        try:  # `_get_kv` inline: a coroutine less on every GET
            kv = await self.storage.get(key)
        except StorageError as e:
            raise self._storage_error(e, key.rsplit("/", 1)[-1]) from None
        if kv is None:
            raise self._not_found(name)
        return self._objects().get(kv), True

    def _list_cache(self, opts: ListOptions) -> DecodedObjects | None:
        """The store's cache of decoded objects, when the caller only reads the list and the
        kind decodes by the stored bytes alone (a custom resource's defaults follow its CRD)."""
        if not opts.read_only or type(self)._decode is not StoreBase._decode:
            return None
        return self._objects()

    def _list_memo(self) -> ListMemo:
        memo: ListMemo | None = getattr(self, "_list_memos", None)
        if memo is None:
            memo = self._list_memos = ListMemo()
        return memo

    def _objects(self) -> DecodedObjects:
        cache: DecodedObjects | None = getattr(self, "_list_objects", None)
        if cache is None:
            cache = self._list_objects = DecodedObjects(self._decode)
        return cache

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

    def _watch_decoder(self, sink: WatchSink) -> Callable[[KeyValue, int], Obj]:
        """The store's shared decode memo for a sink that only reads what it is given (a
        watch stream: ``shares_objects``), else a fresh decode per event for this watcher."""
        if getattr(getattr(sink, "__self__", None), "shares_objects", False):
            memo: DecodeMemo | None = getattr(self, "_decode_memo", None)
            if memo is None:
                memo = self._decode_memo = DecodeMemo(self._decode)
            return memo
        return self._decode

    async def watch(self, namespace: str, opts: ListOptions, sink: WatchSink) -> WatchHandle:
        matches, everything = self._matcher(opts)
        prefix = self._prefix(namespace)
        rv = opts.resource_version
        decode = self._watch_decoder(sink)
        if opts.send_initial_events is not None:
            initial = opts.send_initial_events
        else:
            initial = rv in ("", "0")
        requested = _int_rv(rv) if rv else 0
        translator = EventTranslator(
            decode=decode, matches=matches, sink=sink,
            kind=self.rdef.kind, api_version=self.rdef.api_version, start_revision=requested,
            clock=self.clock, bookmark_interval=self.bookmark_interval if opts.allow_watch_bookmarks else 0,
            everything=everything)
        try:
            if initial:
                kvs, at = await self._list_all(prefix, 0)
                translator.last_revision = at
                for kv in kvs:
                    translator.emit_initial(decode(kv, kv.mod_revision))
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
