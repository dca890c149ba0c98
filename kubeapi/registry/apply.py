"""Server-side apply.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from kubeapi.errors import bad_request
from kubeapi.registry.patch_strategic import _dedupe, _strip
from kubeapi.registry.schemacheck import items_schema, property_schema, resolve

Schema = dict[str, Any]


# --- server-side apply (first version) -------------------------------------------------------


def _apply_merge(live: Any, applied: Any, schema: Schema | None) -> Any:
    """Merge the applied configuration into the live object: maps recursively, lists by
    their list type (``map`` by ``x-kubernetes-list-map-keys`` or the patch merge key,
    ``set`` as a union, anything else replaced)."""
    schema = resolve(schema)
    if isinstance(applied, dict) and isinstance(live, dict):
        out = dict(live)
        for k, v in applied.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _apply_merge(live.get(k), v, property_schema(schema, k))
        return out
    if isinstance(applied, list) and isinstance(live, list) and schema:
        list_type = schema.get("x-kubernetes-list-type", "")
        keys = list(schema.get("x-kubernetes-list-map-keys") or [])
        if not keys and schema.get("x-kubernetes-patch-merge-key"):
            keys = [schema["x-kubernetes-patch-merge-key"]]
            list_type = list_type or ("map" if "merge" in str(schema.get("x-kubernetes-patch-strategy"))
                                      else "")
        if list_type == "set" or (not list_type and "merge" in str(schema.get("x-kubernetes-patch-strategy"))
                                  and not keys):
            return _dedupe(live + applied)
        if list_type == "map" and keys:
            sub = items_schema(schema)
            out_list = list(live)
            for item in applied:
                if not isinstance(item, dict):
                    return copy.deepcopy(applied)
                ident = [item.get(k) for k in keys]
                for i, cur in enumerate(out_list):
                    if isinstance(cur, dict) and [cur.get(k) for k in keys] == ident:
                        out_list[i] = _apply_merge(cur, item, sub)
                        break
                else:
                    out_list.append(_strip(item))
            return out_list
    return _strip(copy.deepcopy(applied))


def apply_server_side(doc: dict[str, Any] | None, applied: Any, schema: Schema | None) -> dict[str, Any]:
    """A first server-side apply: the applied configuration merged into the live object.
    Not done yet: managedFields ownership, removal of fields a manager stopped applying,
    and conflict detection (``force``)."""
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

