"""The error server-side apply gives for a configuration naming fields the schema lacks.

Upstream converts the applied configuration to a typed object before anything else, and that
conversion refuses undeclared fields whatever ``fieldValidation`` says.  Its message names each
field in structured-merge-diff's path notation: ``.spec.ports[containerPort=80,protocol="TCP"].x``
for an item of a keyed list, ``[0]`` for others.  Upstream answers 500 here; a client's mistake is
a 400 BadRequest in kubeapi, with the same message.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from kubeapi import errors
from kubeapi.registry.schemacheck import OBJECT_META, items_schema, property_schema, resolve

Schema = dict[str, Any]
_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def _split(dotted: str) -> list[str | int]:
    return [int(i) if i else name for i, name in _TOKEN.findall(dotted)]


def _key_text(item: Any, keys: list[str]) -> str:
    parts = []
    for k in keys:
        if isinstance(item, dict) and k in item:
            parts.append(f"{k}={orjson.dumps(item[k]).decode()}")
    return ",".join(parts)


def smd_path(obj: Any, schema: Schema | None, dotted: str) -> str:
    """``dotted`` (``spec.ports[0].x``) in structured-merge-diff's notation for ``obj``."""
    out = ""
    node, s = obj, resolve(schema)
    object_root = True  # where "metadata" is an ObjectMeta whatever a CRD's schema says
    for step in _split(dotted):
        if isinstance(step, int):
            keys = (s or {}).get("x-kubernetes-list-map-keys")
            item = node[step] if isinstance(node, list) and step < len(node) else None
            keyed = _key_text(item, keys) if isinstance(keys, list) and keys else ""
            out += f"[{keyed}]" if keyed else f"[{step}]"
            node, s = item, items_schema(s) if s else None
        else:
            out += "." + step
            node = node.get(step) if isinstance(node, dict) else None
            s = resolve(OBJECT_META) if step == "metadata" and object_root else \
                property_schema(s, step) if s else None
        object_root = bool(s and s.get("x-kubernetes-embedded-resource"))
    return out


def undeclared_fields_error(config: Any, schema: Schema | None, paths: list[str], namespace: str,
                            name: str, group: str, version: str, kind: str) -> errors.StatusError:
    lines = sorted(f"{smd_path(config, schema, p)}: field not declared in schema" for p in paths)
    listed = lines[0] if len(lines) == 1 else "errors:\n  " + "\n  ".join(lines)
    return errors.bad_request(f"failed to create typed patch object ({namespace}/{name}; {group}/{version}, "
                              f"Kind={kind}): {listed}")
