"""Updates and patches start from the watch cache's copy (upstream's cachedExistingObject)
and fall back to storage whenever that copy may have been stale: a lost compare-and-swap,
a precondition it fails, a no-op, an error, a dry run.

The cache here is made stale on purpose: `LaggingCache` answers `get_from_cache` with the
copy it was told to hold, whatever storage holds now, as a watch cache does between a write
and its event arriving.
"""

from __future__ import annotations

from typing import Any

from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
from kubeapi.registry.store import ResourceStore
from kubeapi.storage.interface import KeyValue
from tests.registry.test_store_fixtures import WIDGETS, StoreCase, W, async_test, widget

MERGE = "application/merge-patch+json"


class LaggingCache:
    """The store's storage, with a watch cache that holds old copies until told otherwise."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self.copies: dict[str, KeyValue] = {}
        self.asked = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    def get_from_cache(self, key: str) -> KeyValue | None:
        self.asked += 1
        return self.copies.get(key)


class UpdateFromCacheTests(StoreCase):
    async def lagging(self) -> tuple[ResourceStore, LaggingCache, str]:
        cache = LaggingCache(self.storage)
        st = ResourceStore(WIDGETS, cache, self.ctx, admission=[], clock=self.clock)
        await st.create("default", widget("w1", color="red"), W)
        key = st._key("default", "w1")
        kv = await self.storage.get(key)
        assert kv is not None
        cache.copies[key] = kv
        return st, cache, key

    @async_test
    async def test_a_current_copy_saves_the_read(self) -> None:
        st, cache, key = await self.lagging()
        reads = []
        real_get = self.storage.get

        async def counting_get(k: str) -> Any:
            reads.append(k)
            return await real_get(k)
        self.storage.get = counting_get  # type: ignore[method-assign]
        out, _ = await st.patch("default", "w1", MERGE, b'{"spec":{"color":"blue"}}', W)
        self.assertEqual(out["spec"]["color"], "blue")
        self.assertEqual((cache.asked, reads), (1, []))

    @async_test
    async def test_stale_copy_updates_from_storage(self) -> None:
        st, cache, key = await self.lagging()
        await st.patch("default", "w1", MERGE, b'{"spec":{"replicas":5}}', W)  # the cache keeps the old copy
        out, _ = await st.patch("default", "w1", MERGE, b'{"spec":{"color":"blue"}}', W)
        self.assertEqual((out["spec"]["color"], out["spec"]["replicas"]), ("blue", 5))  # nothing lost

    @async_test
    async def test_precondition_is_checked_against_storage(self) -> None:
        st, cache, key = await self.lagging()
        newer, _ = await st.patch("default", "w1", MERGE, b'{"spec":{"replicas":5}}', W)
        body = dict(newer, spec={"color": "green", "replicas": 5})  # the client's own newest resourceVersion
        out, _ = await st.update("default", "w1", body, W)
        self.assertEqual(out["spec"]["color"], "green")
        stale_body = widget("w1", color="pink")
        stale_body["metadata"]["resourceVersion"] = str(cache.copies[key].mod_revision)  # really old
        with self.assertRaises(StatusError) as cm:
            await st.update("default", "w1", stale_body, W)
        self.assertEqual(cm.exception.code, 409)

    @async_test
    async def test_no_op_and_dry_run_answer_from_storage(self) -> None:
        st, cache, key = await self.lagging()
        newer, _ = await st.patch("default", "w1", MERGE, b'{"spec":{"color":"blue"}}', W)
        # "red" is what the stale copy holds: against it this is a no-op, against storage a change
        out, _ = await st.patch("default", "w1", MERGE, b'{"spec":{"color":"red"}}', W)
        self.assertEqual(out["spec"]["color"], "red")
        self.assertNotEqual(out["metadata"]["resourceVersion"], newer["metadata"]["resourceVersion"])
        self.assertEqual((await st.get("default", "w1"))["spec"]["color"], "red")
        await st.patch("default", "w1", MERGE, b'{"spec":{"color":"blue"}}', W)
        dry, _ = await st.patch("default", "w1", MERGE, b'{"spec":{"replicas":9}}',
                                WriteOptions(dry_run=True, field_manager="m"))
        self.assertEqual(dry["spec"]["color"], "blue")  # storage's, not the cache's red
