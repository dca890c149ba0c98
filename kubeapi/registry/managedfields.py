"""metadata.managedFields: who set which field, by Update or by Apply.

Every write records its manager's fields (``fieldsV1``) the way upstream's field manager
does: an Update takes the fields it added or changed away from every other manager and adds
them to its own entry; an Apply owns exactly the fields of its configuration, may not change
a field another manager owns unless forced (409 naming the managers and fields), and drops
fields it stopped applying when nobody else owns them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubeapi import errors
from kubeapi.registry import fieldpaths as fp
from kubeapi.registry import meta

Obj = dict[str, Any]
Schema = dict[str, Any]

APPLY = "Apply"
UPDATE = "Update"
MAX_MANAGER_LENGTH = 128
MAX_UPDATE_MANAGERS = 10
ANCIENT = "ancient-changes"


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: fp.FieldSet = field(default_factory=set)

    @property
    def ident(self) -> tuple[str, str, str, str]:
        return (self.manager, self.operation, self.api_version if self.operation == UPDATE else "",
                self.subresource)

    def describe(self) -> str:
        """The manager as upstream names it in conflict messages."""
        out = f'"{self.manager}"'
        if self.subresource:
            out += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
            if self.time:
                out += f" at {self.time}"
        return out

    def encode(self) -> Obj:
        out: Obj = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fp.to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


Managers = dict[tuple[str, str, str, str], Entry]


def manager_from_user_agent(user_agent: str) -> str:
    """Upstream's default fieldManager: the User-Agent up to its first '/'."""
    name = user_agent.split("/", 1)[0]
    name = "".join(c for c in name if c.isprintable())
    return name[:MAX_MANAGER_LENGTH]


def decode(entries: Any) -> Managers:
    out: Managers = {}
    if not isinstance(entries, list):
        return out
    for e in entries:
        if not isinstance(e, dict) or e.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        entry = Entry(manager=str(e.get("manager") or ""), operation=str(e.get("operation") or UPDATE),
                      api_version=str(e.get("apiVersion") or ""), subresource=str(e.get("subresource") or ""),
                      time=e.get("time"), fields=fp.from_fields_v1(e.get("fieldsV1") or {}))
        prev = out.get(entry.ident)
        if prev is not None:
            entry.fields |= prev.fields
        out[entry.ident] = entry
    return out


def encode(managers: Managers) -> list[Obj]:
    def order(e: Entry) -> tuple[str, float, str, str, str]:
        secs = meta.parse_rfc3339(e.time).timestamp() if e.time else 0.0
        return (e.operation, secs, e.manager, e.api_version, e.subresource)

    return [e.encode() for e in sorted((e for e in managers.values() if e.fields), key=order)]


def _is_reset(entries: Any) -> bool:
    return entries == [] or entries == [{}]


def _ignored(paths: fp.FieldSet, subresource: str, has_status: bool) -> fp.FieldSet:
    """Fields a write cannot change (the strategy resets them), so nobody gains them."""
    if subresource == "status":
        return {p for p in paths if p[:1] != ("f:spec",)}
    if has_status and not subresource:
        return {p for p in paths if p[:1] != ("f:status",)}
    return paths


def _stripped(obj: Obj | None) -> Obj:
    if not obj:
        return {}
    out = dict(obj)
    m = dict(out.get("metadata") or {})
    m.pop("managedFields", None)
    out["metadata"] = m
    return out


def track_update(old: Obj | None, new: Obj, manager: str, api_version: str, schema: Schema | None, *,
                 subresource: str = "", has_status: bool = False, empty: Obj | None = None) -> None:
    """Record an Update (create, PUT, non-apply PATCH, scale) in ``new``'s managedFields.
    ``empty`` is the kind's zero object, what a create compares against."""
    nm = meta.meta(new)
    sent = nm.get("managedFields")
    if subresource or sent is None:
        managers = decode((old or {}).get("metadata", {}).get("managedFields"))
    elif _is_reset(sent):
        managers = {}
    else:
        managers = decode(sent) or decode((old or {}).get("metadata", {}).get("managedFields"))
    before = _stripped(old) if old is not None else _stripped(empty)
    added, modified, removed = fp.compare(before, _stripped(new), schema)
    added = _ignored(added, subresource, has_status)
    modified = _ignored(modified, subresource, has_status)
    removed = _ignored(removed, subresource, has_status)
    changed = added | modified
    for e in managers.values():
        e.fields -= changed
        e.fields -= removed
    if changed:
        me = Entry(manager, UPDATE, api_version, subresource)
        prev = managers.get(me.ident)
        if prev is not None:
            me.fields = prev.fields
        me.fields |= changed
        me.time = meta.now_rfc3339()
        managers[me.ident] = me
    cap_update_managers(managers)
    out = encode(managers)
    if out:
        nm["managedFields"] = out
    else:
        nm.pop("managedFields", None)


def _time_of(e: Entry) -> float:
    return meta.parse_rfc3339(e.time).timestamp() if e.time else 0.0


def cap_update_managers(managers: Managers) -> None:
    """More than ten Update managers: the oldest merge, per apiVersion, into one
    ``ancient-changes`` entry (upstream's capManagers)."""
    updaters = sorted((e for e in managers.values() if e.operation == UPDATE), key=_time_of)
    length = len(updaters)
    first_of: dict[str, Entry] = {}
    for e in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        first = first_of.get(e.api_version)
        if first is None:
            first_of[e.api_version] = e
            continue
        bucket_ident = (ANCIENT, UPDATE, e.api_version, "")
        bucket = managers.get(bucket_ident)
        if bucket is None:
            managers.pop(first.ident, None)
            bucket = Entry(ANCIENT, UPDATE, e.api_version, "", first.time, set(first.fields))
            managers[bucket_ident] = bucket
        bucket.fields |= e.fields
        bucket.time = e.time
        managers.pop(e.ident, None)
        length -= 1


def conflict_error(conflicts: list[tuple[Entry, fp.Path]]) -> errors.StatusError:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {e.describe()}",
               "field": fp.path_string(p)} for e, p in conflicts]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {e.describe()}: {fp.path_string(p)}"
    else:
        lines: list[str] = []
        by: dict[str, list[str]] = {}
        for e, p in conflicts:
            by.setdefault(e.describe(), []).append(fp.path_string(p))
        for who in sorted(by):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {p}" for p in by[who])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.StatusError(409, "Conflict", message, {"causes": causes})


def apply(live: Obj | None, config: Obj, merged: Obj, manager: str, api_version: str, schema: Schema | None,
          *, force: bool, subresource: str = "", has_status: bool = False, empty: Obj | None = None) -> Obj:
    """Server-side apply of ``config`` whose plain merge into ``live`` is ``merged``: prune what
    the manager stopped applying, check conflicts, and return the object to store with its
    managedFields.  Raises 409 on conflicts unless ``force``."""
    base = _stripped(live) if live is not None else _stripped(empty)
    managers = decode((live or {}).get("metadata", {}).get("managedFields"))
    me = Entry(manager, APPLY, api_version, subresource)
    last = managers.get(me.ident)
    applied = _ignored(fp.to_field_set(_stripped(config), schema), subresource, has_status)
    me.fields = applied
    me.time = last.time if last is not None else None
    managers[me.ident] = me
    others = [e for e in managers.values() if e.ident != me.ident]
    result = copy.deepcopy(merged)
    if last is not None:
        gone = last.fields - applied
        owned_elsewhere: fp.FieldSet = set()
        for e in others:
            owned_elsewhere |= e.fields
        keep_prefixes = {q[:n] for q in owned_elsewhere for n in range(1, len(q) + 1)}
        fp.remove_paths(result, schema, [p for p in gone if p not in keep_prefixes])
    added, modified, removed = fp.compare(base, _stripped(result), schema)
    changed = _ignored(added | modified, subresource, has_status)
    removed = _ignored(removed, subresource, has_status)
    conflicts: list[tuple[Entry, fp.Path]] = []
    for e in sorted(others, key=lambda x: x.ident):
        for p in sorted(e.fields & changed, key=fp.sort_key):
            conflicts.append((e, p))
    if conflicts and not force:
        raise conflict_error(conflicts)
    for e in others:
        e.fields -= changed
        e.fields -= removed
    unchanged = live is not None and _stripped(result) == base
    if not unchanged or me.time is None:
        me.time = meta.now_rfc3339()
    rm = meta.meta(result)
    out = encode(managers)
    if out:
        rm["managedFields"] = out
    else:
        rm.pop("managedFields", None)
    return result
