"""Extension groups in discovery, as upstream's aggregator shows them.

Legacy: ``/apis`` lists each service-backed group (its versions in ``versionPriority``
order, the first one preferred) at its ``groupPriorityMinimum`` place among ours;
``/apis/<group>`` of such a group is built from its APIServices.  Aggregated: each
service-backed group-version's entry comes from the extension's own aggregated ``/apis``
when it serves one, else from its ``/apis/<group>/<version>`` list; fetched in the
background (on APIService changes and every minute), ``Stale`` with no resources when the
fetch fails.  A request never waits for an extension.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from twisted.internet.task import LoopingCall

from kubeapi.aggregator.apiservices import name_of, sorted_by_group_and_version, spec
from kubeapi.aggregator.fetch import FetchError, fetch
from kubeapi.aggregator.keyed import KeyedRunner
from kubeapi.api.apiregistration import PRIORITIES

log = logging.getLogger(__name__)

Obj = dict[str, Any]
REFRESH_SECONDS = 60.0
AGGREGATED_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
REGISTRATION_GROUP = "apiregistration.k8s.io"
CRD_GROUP_PRIORITY = 1000


def local_group_key(group: str, versions: list[str]) -> tuple[int, str]:
    """Where a built-in or CRD group sorts (upstream's keys: -groupPriorityMinimum, APIService name)."""
    if group == REGISTRATION_GROUP:
        return (-20000, "")
    prio = max((PRIORITIES[(group, v)][0] for v in versions if (group, v) in PRIORITIES), default=CRD_GROUP_PRIORITY)
    return (-prio, f"{versions[0]}.{group}" if versions else group)


def remote_group_key(members: list[Obj]) -> tuple[int, str]:
    best = min(members, key=lambda s: (-int(spec(s).get("groupPriorityMinimum") or 0), name_of(s)))
    return (-int(spec(best).get("groupPriorityMinimum") or 0), name_of(best))


def insert_ordered(local: list[tuple[tuple[int, str], Obj]], remote: list[tuple[tuple[int, str], Obj]]) -> list[Obj]:
    """Our entries in their order, each remote one placed before the first local one that sorts after it."""
    out = [e for _, e in local]
    keys = [k for k, _ in local]
    for key, entry in sorted(remote, key=lambda kv: kv[0]):
        at = next((i for i, k in enumerate(keys) if k > key), len(keys))
        keys.insert(at, key)
        out.insert(at, entry)
    return out


def legacy_group(members: list[Obj]) -> Obj:
    group = str(spec(members[0]).get("group", ""))
    versions = [{"groupVersion": f"{group}/{spec(s).get('version')}", "version": spec(s).get("version")}
                for s in members]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def convert_resource_list(doc: Obj) -> list[Obj]:
    """A legacy APIResourceList as aggregated resources (upstream's ConvertGroupVersionIntoToDiscovery)."""
    parents: dict[str, Obj] = {}
    out: list[Obj] = []
    for r in doc.get("resources") or []:
        name = str(r.get("name", ""))
        kind = {"group": r.get("group", ""), "version": r.get("version", ""), "kind": r.get("kind", "")}
        if "/" in name:
            parent, _, sub = name.partition("/")
            entry = parents.get(parent)
            if entry is None:
                entry = {"resource": parent, "scope": "Namespaced" if r.get("namespaced") else "Cluster"}
                parents[parent] = entry
                out.append(entry)
            entry.setdefault("subresources", []).append(
                {"subresource": sub, "responseKind": kind, "verbs": list(r.get("verbs") or [])})
            continue
        entry = parents.get(name) or {}
        entry.update({"resource": name, "responseKind": kind,
                      "scope": "Namespaced" if r.get("namespaced") else "Cluster",
                      "singularResource": r.get("singularName", ""), "verbs": list(r.get("verbs") or [])})
        for key in ("shortNames", "categories"):
            if r.get(key):
                entry[key] = list(r[key])
        if name not in parents:
            parents[name] = entry
            out.append(entry)
    return out


def _is_aggregated(content_type: str) -> bool:
    ct = content_type.replace(" ", "").lower()
    return "g=apidiscovery.k8s.io" in ct and "as=apigroupdiscoverylist" in ct


class DiscoveryMerger:
    """See the module docstring.  ``entries`` maps APIService name -> APIVersionDiscovery."""

    def __init__(self, aggregator: Any) -> None:
        self.aggregator = aggregator
        self.entries: dict[str, Obj] = {}
        self._loop: LoopingCall | None = None
        self._runs = KeyedRunner(self._refresh_named, "discovery of APIService")

    def start(self) -> None:
        self._loop = LoopingCall(self.refresh_all)
        self._loop.clock = self.aggregator.reactor
        self._loop.start(REFRESH_SECONDS, now=True).addErrback(
            lambda f: log.error("aggregated discovery refresh died: %s", f.getErrorMessage()))

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def refresh_all(self) -> None:
        for svc in self.aggregator.registry.remote_services():
            self.refresh(name_of(svc))

    def forget(self, name: str) -> None:
        self.entries.pop(name, None)

    def refresh(self, name: str) -> None:
        self._runs.enqueue(name)

    async def _refresh_named(self, name: str) -> None:
        svc = self.aggregator.registry.by_name.get(name)
        if svc is None or "service" not in spec(svc):
            self.entries.pop(name, None)
        else:
            self.entries[name] = await self._fetch_entry(svc)

    async def _fetch_entry(self, svc: Obj) -> Obj:
        group, version = str(spec(svc).get("group", "")), str(spec(svc).get("version", ""))
        try:
            found = await self._fetch_aggregated(svc, group, version)
            if found is None:
                found = await self._fetch_legacy(svc, group, version)
        except (FetchError, ValueError) as e:
            log.info("discovery of %s is stale: %s", name_of(svc), e)
            return {"version": version, "freshness": "Stale"}
        return {"version": version, **found, "freshness": "Current"}

    async def _fetch_aggregated(self, svc: Obj, group: str, version: str) -> Obj | None:
        code, headers, body = await fetch(self.aggregator, svc, "/apis", AGGREGATED_ACCEPT)
        ctype = (headers.getRawHeaders(b"content-type") or [b""])[0].decode("latin-1")
        if code == 503:
            raise FetchError(f"service returned non-success response code: {code}")
        if code != 200 or not _is_aggregated(ctype):
            return None
        doc = orjson.loads(body)
        for g in doc.get("items") or []:
            if (g.get("metadata") or {}).get("name") == group:
                for v in g.get("versions") or []:
                    if v.get("version") == version:
                        return {"resources": v.get("resources") or []}
        return {"resources": []}

    async def _fetch_legacy(self, svc: Obj, group: str, version: str) -> Obj:
        code, _, body = await fetch(self.aggregator, svc, f"/apis/{group}/{version}", "application/json")
        if code != 200:
            raise FetchError(f"failed to download legacy discovery for /apis/{group}/{version}: {code}")
        return {"resources": convert_resource_list(orjson.loads(body))}

    # -- merging into our documents -------------------------------------------------------

    def _remote_groups(self, local_groups: set[str]) -> list[list[Obj]]:
        services = [s for s in self.aggregator.registry.remote_services()
                    if str(spec(s).get("group", "")) and str(spec(s).get("group", "")) not in local_groups]
        return sorted_by_group_and_version(services)

    def merge_group_list(self, doc: Obj, catalog_groups: dict[str, list[str]]) -> Obj:
        """The legacy APIGroupList with the extension groups in their places."""
        local = [(local_group_key(g["name"], catalog_groups.get(g["name"], [])), g) for g in doc.get("groups") or []]
        remote = [(remote_group_key(m), legacy_group(m)) for m in self._remote_groups(set(catalog_groups))]
        return {**doc, "groups": insert_ordered(local, remote)}

    def group(self, group: str) -> Obj | None:
        """``/apis/<group>`` of a group only extensions serve."""
        members = [s for s in self.aggregator.registry.remote_services() if spec(s).get("group") == group]
        if not members:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **legacy_group(sorted_by_group_and_version(members)[0])}

    def merge_aggregated(self, doc: Obj, catalog_groups: dict[str, list[str]]) -> Obj:
        """The aggregated APIGroupDiscoveryList for /apis with the extension groups added."""
        local = [(local_group_key((i.get("metadata") or {}).get("name", ""),
                                  catalog_groups.get((i.get("metadata") or {}).get("name", ""), [])), i)
                 for i in doc.get("items") or []]
        remote = []
        for members in self._remote_groups(set(catalog_groups)):
            group = str(spec(members[0]).get("group"))
            versions = [self.entries.get(name_of(s)) or {"version": spec(s).get("version"), "freshness": "Stale"}
                        for s in members]
            remote.append((remote_group_key(members),
                           {"metadata": {"name": group, "creationTimestamp": None}, "versions": versions}))
        return {**doc, "items": insert_ordered(local, remote)}
