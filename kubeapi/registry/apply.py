"""Server-side apply: merging an applied configuration into the live object.

The merge follows structured-merge-diff: maps merge key by key unless the schema marks
them atomic; lists merge by their list type (``map`` items by their key fields, ``set``
as a union, atomic lists are replaced).  Ownership, pruning and conflicts are
managedfields' business; this module only computes the merged value.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from kubeapi.errors import bad_request
from kubeapi.registry import fieldpaths as fp
from kubeapi.registry.patch_strategic import _dedupe, _strip
from kubeapi.registry.schemacheck import items_schema, property_schema, resolve

Schema = dict[str, Any]


def _apply_merge(live: Any, applied: Any, schema: Schema | None) -> Any:
    schema = resolve(schema)
    if isinstance(applied, dict) and isinstance(live, dict) and not fp.is_atomic_map(schema):
        out = dict(live)
        for k, v in applied.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _apply_merge(live.get(k), v, property_schema(schema, k))
        return out
    if isinstance(applied, list) and isinstance(live, list):
        kind, keys = fp.list_kind(schema)
        if kind == "set":
            return _dedupe(live + applied)
        if kind == "map":
            sub = items_schema(schema)
            out_list = list(live)
            index = {fp.item_element(x, i, kind, keys, sub): i for i, x in enumerate(out_list)}
            for j, item in enumerate(applied):
                pe = fp.item_element(item, j, kind, keys, sub)
                if not pe.startswith("k:"):
                    return _strip(copy.deepcopy(applied))
                if pe in index:
                    out_list[index[pe]] = _apply_merge(out_list[index[pe]], item, sub)
                else:
                    index[pe] = len(out_list)
                    out_list.append(_strip(item))
            return out_list
    return _strip(copy.deepcopy(applied))


def apply_server_side(doc: dict[str, Any] | None, applied: Any, schema: Schema | None) -> dict[str, Any]:
    """The applied configuration merged into the live object (no ownership rules)."""
    if not isinstance(applied, dict):
        raise bad_request("error decoding YAML: the applied configuration is not an object")
    result = _apply_merge(copy.deepcopy(doc or {}), applied, schema)
    assert isinstance(result, dict)
    return result


def decode_apply_yaml(body: bytes) -> Any:
    try:
        return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise bad_request(f"error decoding YAML: {e}") from None
