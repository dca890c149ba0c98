"""Field sets for managedFields and server-side apply.

A path is a tuple of elements in fieldsV1's own spelling: ``f:<field>``, ``k:<json of the
key fields>`` (items of ``x-kubernetes-list-type: map`` lists), ``v:<json value>`` (items of
sets) and ``i:<index>``.  A set of paths serialises to the fieldsV1 tree, where ``.`` marks
a node that is itself a member.  Which nodes a value contributes, and how lists and maps are
identified, follows structured-merge-diff's rules, read from the kind's OpenAPI schema
(``x-kubernetes-list-type``/``-list-map-keys``/``-map-type``, falling back to the patch
strategy markers as upstream's schema conversion does).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kubeapi.registry.schemacheck import items_schema, property_schema, resolve

Schema = dict[str, Any]
Path = tuple[str, ...]
FieldSet = set[Path]

# What upstream never tracks: identity and server-owned metadata (stripmeta).
STRIPPED: frozenset[Path] = frozenset({
    ("f:apiVersion",), ("f:kind",), ("f:metadata",),
    *(("f:metadata", f"f:{n}") for n in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                         "clusterName", "generation", "managedFields", "resourceVersion")),
})


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def list_kind(schema: Schema | None) -> tuple[str, list[str]]:
    """('map', keys) | ('set', []) | ('atomic', []) for a list's schema."""
    schema = resolve(schema) or {}
    lt = schema.get("x-kubernetes-list-type")
    keys = [str(k) for k in schema.get("x-kubernetes-list-map-keys") or []]
    if lt == "map":
        return ("map", keys or [str(schema.get("x-kubernetes-patch-merge-key") or "")])
    if lt in ("set", "atomic"):
        return (str(lt), [])
    strategy = str(schema.get("x-kubernetes-patch-strategy") or "")
    if "merge" in strategy.split(","):
        key = schema.get("x-kubernetes-patch-merge-key")
        return ("map", [str(key)]) if key else ("set", [])
    return ("atomic", [])


def is_atomic_map(schema: Schema | None) -> bool:
    schema = resolve(schema) or {}
    return schema.get("x-kubernetes-map-type") == "atomic"


def _declared(schema: Schema | None, key: str) -> bool:
    schema = resolve(schema) or {}
    props = schema.get("properties")
    return isinstance(props, dict) and key in props


def item_element(item: Any, index: int, kind: str, keys: list[str], item_schema: Schema | None = None) -> str:
    """The path element naming one list item (a key field the item omits takes the
    schema's default, as upstream; one without a default is left out)."""
    if kind == "map" and isinstance(item, dict) and keys:
        ident: dict[str, Any] = {}
        for k in keys:
            if k in item:
                ident[k] = item[k]
            else:
                sch = property_schema(item_schema, k) or {}
                if "default" in sch:
                    ident[k] = sch["default"]
        if ident:
            return "k:" + _json(ident)
    if kind == "set" and not isinstance(item, (dict, list)):
        return "v:" + _json(item)
    return f"i:{index}"


def to_field_set(value: Any, schema: Schema | None) -> FieldSet:
    """The fields an applied configuration sets (structured-merge-diff's ToFieldSet)."""
    out: FieldSet = set()
    _walk(value, schema, (), out, every_node=False)
    return out - STRIPPED


def all_nodes(value: Any, schema: Schema | None, at: Path = ()) -> FieldSet:
    """Every node under ``at`` (used for what an update added or removed)."""
    out: FieldSet = set()
    _walk(value, schema, at, out, every_node=True)
    return out


def _walk(value: Any, schema: Schema | None, path: Path, out: FieldSet, every_node: bool) -> None:
    schema = resolve(schema)
    if isinstance(value, dict):
        if is_atomic_map(schema):
            out.add(path)
            return
        for k, v in value.items():
            child = path + (f"f:{k}",)
            sub = property_schema(schema, k)
            _walk(v, sub, child, out, every_node)
            if every_node or v is None or (isinstance(v, dict) and not v) or not _declared(schema, k):
                out.add(child)
        return
    if isinstance(value, list):
        kind, keys = list_kind(schema)
        if kind == "atomic":
            out.add(path)
            return
        sub = items_schema(schema)
        seen: set[str] = set()
        for i, item in enumerate(value):
            pe = item_element(item, i, kind, keys, sub)
            child = path + (pe,)
            if pe in seen:
                out.add(child)
                continue
            seen.add(pe)
            _walk(item, sub, child, out, every_node)
            out.add(child)
        return
    if path:
        out.add(path)


def get_node(value: Any, schema: Schema | None, path: Path) -> tuple[bool, Any, Schema | None]:
    """(found, value, schema) at ``path``."""
    cur, sch = value, resolve(schema)
    for pe in path:
        if pe.startswith("f:"):
            if not isinstance(cur, dict) or pe[2:] not in cur:
                return False, None, None
            sch = property_schema(sch, pe[2:])
            cur = cur[pe[2:]]
        else:
            if not isinstance(cur, list):
                return False, None, None
            kind, keys = list_kind(sch)
            for i, item in enumerate(cur):
                if item_element(item, i, kind, keys, items_schema(sch)) == pe:
                    cur = item
                    break
            else:
                return False, None, None
            sch = items_schema(sch)
    return True, cur, sch


def compare(old: Any, new: Any, schema: Schema | None) -> tuple[FieldSet, FieldSet, FieldSet]:
    """(added, modified, removed) between two objects: nodes only in ``new`` (with all they
    contain), leaves and atomic values whose value changed, nodes only in ``old``."""
    added: FieldSet = set()
    modified: FieldSet = set()
    removed: FieldSet = set()
    _compare(old, new, resolve(schema), (), added, modified, removed)
    return added - STRIPPED, modified - STRIPPED, removed - STRIPPED


def _compare(old: Any, new: Any, schema: Schema | None, path: Path, added: FieldSet, modified: FieldSet,
             removed: FieldSet) -> None:
    if isinstance(old, dict) and isinstance(new, dict) and not is_atomic_map(schema):
        for k in new.keys() | old.keys():
            child = path + (f"f:{k}",)
            sub = property_schema(schema, k)
            if k not in old:
                added.add(child)
                added.update(all_nodes(new[k], sub, child))
            elif k not in new:
                removed.add(child)
                removed.update(all_nodes(old[k], sub, child))
            elif old[k] is None and isinstance(new[k], (dict, list)):
                # Go's zero value (a nil map, slice or pointer) is no node of its own.
                _compare(type(new[k])(), new[k], resolve(sub), child, added, modified, removed)
            else:
                _compare(old[k], new[k], resolve(sub), child, added, modified, removed)
        return
    if isinstance(old, list) and isinstance(new, list):
        kind, keys = list_kind(schema)
        if kind != "atomic":
            sub = items_schema(schema)
            olds = {item_element(x, i, kind, keys, sub): x for i, x in enumerate(old)}
            news = {item_element(x, i, kind, keys, sub): x for i, x in enumerate(new)}
            for pe in news.keys() | olds.keys():
                child = path + (pe,)
                if pe not in olds:
                    added.add(child)
                    added.update(all_nodes(news[pe], sub, child))
                elif pe not in news:
                    removed.add(child)
                    removed.update(all_nodes(olds[pe], sub, child))
                else:
                    _compare(olds[pe], news[pe], resolve(sub), child, added, modified, removed)
            return
    if old != new or type(old) is not type(new):
        if path:
            modified.add(path)


def remove_paths(obj: Any, schema: Schema | None, paths: Iterable[Path]) -> None:
    """Delete the nodes at ``paths`` from ``obj`` in place (deepest first)."""
    for path in sorted(paths, key=len, reverse=True):
        if not path:
            continue
        found, parent, psch = get_node(obj, schema, path[:-1])
        if not found:
            continue
        last = path[-1]
        if last.startswith("f:") and isinstance(parent, dict):
            parent.pop(last[2:], None)
        elif isinstance(parent, list):
            kind, keys = list_kind(psch)
            for i, item in enumerate(parent):
                if item_element(item, i, kind, keys, items_schema(psch)) == last:
                    del parent[i]
                    break


# --- fieldsV1 --------------------------------------------------------------------------------


def _order(pe: str) -> tuple[int, str]:
    return ("fkvi".index(pe[0]) if pe[:1] in "fkvi" else 4, pe)


def to_fields_v1(paths: FieldSet) -> dict[str, Any]:
    """The fieldsV1 tree of a set of paths."""
    root: dict[str, Any] = {}
    members: set[Path] = set(paths)
    for path in paths:
        node = root
        for pe in path:
            node = node.setdefault(pe, {})

    def emit(node: dict[str, Any], at: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and at in members:
            out["."] = {}
        for pe in sorted(node, key=_order):
            out[pe] = emit(node[pe], at + (pe,))
        return out

    return emit(root, ())


def from_fields_v1(tree: Any, at: Path = ()) -> FieldSet:
    out: FieldSet = set()
    if not isinstance(tree, dict):
        return out
    if at and (not tree or "." in tree):
        out.add(at)
    for pe, sub in tree.items():
        if pe != ".":
            out.update(from_fields_v1(sub, at + (pe,)))
    return out


def path_string(path: Path) -> str:
    """A path as upstream prints it in conflicts: ``.spec.containers[name="nginx"].image``."""
    parts = []
    for pe in path:
        kind, rest = pe[:2], pe[2:]
        if kind == "f:":
            parts.append("." + rest)
        elif kind == "k:":
            try:
                keys = json.loads(rest)
            except ValueError:
                keys = {}
            parts.append("[" + ",".join(f"{k}={_json(v)}" for k, v in sorted(keys.items())) + "]")
        elif kind == "v:":
            parts.append(f"[={rest}]")
        else:
            parts.append(f"[{rest}]")
    return "".join(parts)


def sort_key(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple(_order(pe) for pe in path)
