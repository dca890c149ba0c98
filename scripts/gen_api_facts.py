#!/usr/bin/env python3
"""Generate kubeapi/api/generated/ from upstream's served OpenAPI v3 and discovery documents.

Usage: gen_api_facts.py [KUBERNETES_ROOT] [OUT_DIR]

KUBERNETES_ROOT is a checkout (or the Go module cache dir) of kubernetes/kubernetes at the API
level's tag, default /root/go/pkg/mod/k8s.io/kubernetes@v1.34.4.  Two inputs are read:

- ``api/openapi-spec/v3/*.json``: the structure of every kind (types, formats, required,
  int-or-string / quantity refs, x-kubernetes-* patch and list markers, GVK);
- ``api/discovery/*.json``: resource, singular, kind, short names, categories, verbs, scope,
  subresources and storage version hashes, and the order groups are listed in.

Only the group-versions kube-apiserver serves with default flags are kept (the documents were
generated with every alpha and beta on).  Only facts are written: every ``description`` is
dropped.  (The v1.34 documents carry no enum lists; ``+enum`` markers live only in the Go
sources and are not read here.)
"""

from __future__ import annotations

import json
import os
import pprint
import sys
from typing import Any

DEFAULT_ROOT = "/root/go/pkg/mod/k8s.io/kubernetes@v1.34.4"
TAG = "v1.34.4"

# pkg/controlplane/instance.go: stableAPIGroupVersionsEnabledByDefault, plus the groups of the
# aggregator and apiextensions servers (both GA-only).  Every beta there is off by default.
DEFAULT_GROUP_VERSIONS = {
    "v1", "admissionregistration.k8s.io/v1", "apps/v1", "authentication.k8s.io/v1",
    "authorization.k8s.io/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1",
    "certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
    "networking.k8s.io/v1", "node.k8s.io/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
    "resource.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1",
}

REF_PREFIX = "#/components/schemas/"


def gv_file(gv: str) -> str:
    return "api__v1" if gv == "v1" else "apis__" + gv.replace("/", "__")


def facts(node: Any) -> Any:
    """``node`` without descriptions."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k == "description":
                continue
            if k == "properties" and isinstance(v, dict):
                out[k] = {pk: facts(pv) for pk, pv in v.items()}
            elif k in ("default", "example", "enum"):
                out[k] = v
            else:
                out[k] = facts(v)
        return out
    if isinstance(node, list):
        return [facts(v) for v in node]
    return node


def module_for(definition: str) -> str:
    """``io.k8s.api.core.v1.Pod`` -> ``api_core_v1``; ``io.k8s.apimachinery.pkg.apis.meta.v1.Time``
    -> ``apimachinery_meta_v1``: the package part of the name, shortened."""
    pkg = definition.rsplit(".", 1)[0]
    parts = [p for p in pkg.split(".") if p not in ("io", "k8s", "pkg", "apis")]
    return "_".join(p.replace("-", "_") for p in parts)


def discovery_facts(root: str) -> tuple[list[tuple[str, list[str]]], dict[str, list[dict[str, Any]]]]:
    ddir = os.path.join(root, "api", "discovery")
    with open(os.path.join(ddir, "apis.json"), encoding="utf-8") as fh:
        groups = json.load(fh)["groups"]
    order: list[tuple[str, list[str]]] = [("", ["v1"])]
    for g in groups:
        versions = [v["version"] for v in g["versions"] if f"{g['name']}/{v['version']}" in DEFAULT_GROUP_VERSIONS]
        if versions:
            order.append((g["name"], versions))
    resources: dict[str, list[dict[str, Any]]] = {}
    for group, versions in order:
        for v in versions:
            gv = f"{group}/{v}" if group else v
            with open(os.path.join(ddir, gv_file(gv) + ".json"), encoding="utf-8") as fh:
                doc = json.load(fh)
            entries: list[dict[str, Any]] = []
            by_name: dict[str, dict[str, Any]] = {}
            for r in doc["resources"]:
                name = r["name"]
                if "/" in name:
                    parent, sub = name.split("/", 1)
                    se: dict[str, Any] = {"name": sub, "kind": r["kind"], "verbs": list(r["verbs"])}
                    if r.get("group") is not None:
                        se["group"] = r["group"]
                        se["version"] = r.get("version", "")
                    by_name[parent]["subresources"].append(se)
                    continue
                entry = {
                    "name": name, "singularName": r.get("singularName", ""), "kind": r["kind"],
                    "namespaced": bool(r["namespaced"]), "verbs": list(r["verbs"]),
                    "shortNames": list(r.get("shortNames") or ()),
                    "categories": list(r.get("categories") or ()),
                    "storageVersionHash": r.get("storageVersionHash", ""),
                    "subresources": [],
                }
                by_name[name] = entry
                entries.append(entry)
            resources[gv] = entries
    return order, resources


def definitions(root: str, gvs: list[str]) -> dict[str, Any]:
    sdir = os.path.join(root, "api", "openapi-spec", "v3")
    out: dict[str, Any] = {}
    for gv in gvs:
        with open(os.path.join(sdir, gv_file(gv) + "_openapi.json"), encoding="utf-8") as fh:
            doc = json.load(fh)
        for name, schema in doc["components"]["schemas"].items():
            out.setdefault(name, facts(schema))
    return out


HEADER = '''"""{what} (Kubernetes {tag}).

Generated by scripts/gen_api_facts.py from upstream's OpenAPI v3 / discovery documents; do not
edit by hand.  Facts only: descriptions are left out.
"""

from typing import Any

'''


def render(value: Any) -> str:
    return pprint.pformat(value, indent=1, width=110, sort_dicts=True)


def main(argv: list[str]) -> int:
    root = argv[1] if len(argv) > 1 else DEFAULT_ROOT
    out_dir = argv[2] if len(argv) > 2 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kubeapi", "api", "generated")
    os.makedirs(out_dir, exist_ok=True)
    order, resources = discovery_facts(root)
    gvs = [f"{g}/{v}" if g else v for g, vs in order for v in vs]
    defs = definitions(root, gvs)
    modules: dict[str, dict[str, Any]] = {}
    for name, schema in defs.items():
        modules.setdefault(module_for(name), {})[name] = schema
    for mod, entries in sorted(modules.items()):
        with open(os.path.join(out_dir, f"defs_{mod}.py"), "w", encoding="utf-8") as fh:
            fh.write(HEADER.format(what=f"OpenAPI v3 schemas of {mod.replace('_', '.')}", tag=TAG))
            fh.write(f"DEFINITIONS: dict[str, Any] = {render(entries)}\n")
    with open(os.path.join(out_dir, "discovery.py"), "w", encoding="utf-8") as fh:
        fh.write(HEADER.format(what="Discovery facts of every group-version served by default", tag=TAG))
        fh.write("# (group, versions) in the order /apis lists them, preferred version first.\n")
        fh.write(f"GROUPS: list[tuple[str, list[str]]] = {render(order)}\n\n")
        fh.write("# group-version -> resources as discovery lists them (subresources folded in).\n")
        fh.write(f"RESOURCES: dict[str, list[dict[str, Any]]] = {render(resources)}\n")
    with open(os.path.join(out_dir, "index.py"), "w", encoding="utf-8") as fh:
        fh.write(HEADER.format(what="Which defs_* module holds each definition package", tag=TAG))
        fh.write(f"API_LEVEL = {TAG!r}\n\n")
        fh.write(f"MODULES: tuple[str, ...] = {render(tuple(sorted(modules)))}\n")
    print(f"wrote {len(modules)} definition modules ({len(defs)} schemas) and discovery facts "
          f"for {len(gvs)} group-versions to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
