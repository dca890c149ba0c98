"""The message registry built from the generated tables: fields per message, and kind -> message."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import NamedTuple

from kubeapi.protobuf.tables import MODULES

# Flag bits (kept in step with scripts/gen_k8s_proto_tables.py).
REPEATED, MAP, POINTER, OMITEMPTY, INLINE, OMITZERO = 1, 2, 4, 8, 16, 32

META = "k8s.io.apimachinery.pkg.apis.meta.v1"
RUNTIME = "k8s.io.apimachinery.pkg.runtime"


class UnsupportedKind(Exception):
    """No protobuf schema for this group/version/kind (the server answers 415 or 406)."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"no protobuf serialization for kind {kind!r} in {api_version!r}")
        self.api_version = api_version
        self.kind = kind


class Field(NamedTuple):
    number: int
    json: str
    type: str  # scalar name or fully qualified message name
    flags: int


class Message(NamedTuple):
    name: str
    fields: tuple[Field, ...]  # Go struct (JSON) order
    by_number: dict[int, Field]
    wire_order: tuple[Field, ...]  # ascending field number, as gogo writes them


_messages: dict[str, Message] = {}
_kinds: dict[tuple[str, str, str], str] = {}
_meta_kinds: dict[str, str] = {}
_slice_wrappers: set[str] = set()


def _load() -> None:
    for modname in MODULES:
        mod = importlib.import_module(f"kubeapi.protobuf.tables.{modname}")
        pkg: str = mod.PACKAGE
        for short, raw_fields in mod.MESSAGES.items():
            fields = tuple(Field(n, j, pkg + t if t.startswith(".") else t, fl) for n, j, t, fl in raw_fields)
            full = f"{pkg}.{short}"
            _messages[full] = Message(full, fields, {f.number: f for f in fields},
                                      tuple(sorted(fields, key=lambda f: f.number)))
        for short in mod.SLICE_WRAPPERS:
            _slice_wrappers.add(f"{pkg}.{short}")
        if mod.GROUP is None:
            continue
        for kind in mod.KINDS:
            if pkg == META:
                _meta_kinds[kind] = f"{pkg}.{kind}"
            else:
                _kinds[(mod.GROUP, mod.VERSION, kind)] = f"{pkg}.{kind}"


_load()


def message(name: str) -> Message:
    try:
        return _messages[name]
    except KeyError:
        raise UnsupportedKind("", name) from None


def is_slice_wrapper(name: str) -> bool:
    return name in _slice_wrappers


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@lru_cache(maxsize=512)
def message_for_kind(api_version: str, kind: str) -> str:
    """The message name for apiVersion/kind; meta/v1 kinds (Status, DeleteOptions, ...) in any group."""
    group, version = split_api_version(api_version)
    name = _kinds.get((group, version, kind))
    if name is None:
        name = _meta_kinds.get(kind)
    if name is None or not version:
        raise UnsupportedKind(api_version, kind)
    return name


def supports(api_version: str, kind: str) -> bool:
    """Whether encode()/decode() can handle this kind (lets the server pick 406/415 up front)."""
    try:
        message_for_kind(api_version, kind)
    except UnsupportedKind:
        return False
    return True


def known_kinds() -> list[tuple[str, str, str]]:
    """(group, version, kind) triples with a schema, not counting the meta/v1 kinds."""
    return sorted(_kinds)
