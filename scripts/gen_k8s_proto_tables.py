#!/usr/bin/env python3
"""Generate kubeapi/protobuf/tables/*.py from Kubernetes .proto files and Go struct tags.

Usage: gen_k8s_proto_tables.py SRC_ROOT [OUT_DIR]

SRC_ROOT is a directory laid out like Go import paths: SRC_ROOT/k8s.io/api,
SRC_ROOT/k8s.io/apimachinery, SRC_ROOT/k8s.io/apiextensions-apiserver,
SRC_ROOT/k8s.io/kube-aggregator (e.g. `git archive`
of the v0.34.x tags, or the Go module cache dirs k8s.io/api@v0.34.4 ... symlinked). The .proto files give the wire facts (field numbers and types); the
Go struct tags in the same package give the JSON facts (json name, omitempty, inline,
pointer, field order) because the proto comments do not carry them reliably. Only facts are
emitted: names, numbers, types and flags.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

# Proto packages (as directories under SRC_ROOT/k8s.io) that we emit tables for.
PACKAGES = [
    "apimachinery/pkg/apis/meta/v1",
    "apimachinery/pkg/runtime",
    "apimachinery/pkg/runtime/schema",
    "apimachinery/pkg/util/intstr",
    "apimachinery/pkg/api/resource",
    "api/core/v1",
    "api/apps/v1",
    "api/batch/v1",
    "api/autoscaling/v1",
    "api/autoscaling/v2",
    "api/coordination/v1",
    "api/discovery/v1",
    "api/events/v1",
    "api/policy/v1",
    "api/rbac/v1",
    "api/authentication/v1",
    "api/authorization/v1",
    "api/networking/v1",
    "api/storage/v1",
    "api/scheduling/v1",
    "api/certificates/v1",
    "api/admissionregistration/v1",
    "api/node/v1",
    "api/flowcontrol/v1",
    "api/resource/v1",
    "apiextensions-apiserver/pkg/apis/apiextensions/v1",
    "kube-aggregator/pkg/apis/apiregistration/v1",
]

SCALARS = {"string", "bool", "bytes", "double", "float", "int32", "int64", "uint32", "uint64",
           "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"}

# Flag bits, mirrored in kubeapi/protobuf/schema.py.
REPEATED, MAP, POINTER, OMITEMPTY, INLINE, OMITZERO = 1, 2, 4, 8, 16, 32

RUNTIME_OBJECT = "+k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object"


@dataclass
class ProtoField:
    label: str
    type: str
    name: str
    number: int
    map_value: bool = False


@dataclass
class ProtoMessage:
    name: str
    fields: list[ProtoField] = field(default_factory=list)


@dataclass
class GoField:
    name: str
    gotype: str
    json: str
    omitempty: bool
    omitzero: bool
    inline: bool
    number: int | None


@dataclass
class GoStruct:
    name: str
    fields: list[GoField]
    is_object: bool


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def parse_proto(text: str) -> tuple[str, list[ProtoMessage]]:
    """A small parser for the proto2 subset go-to-protobuf emits (flat messages)."""
    body = strip_comments(text)
    pkg_m = re.search(r"\bpackage\s+([\w.]+)\s*;", body)
    if not pkg_m:
        raise SystemExit("no package statement")
    pkg = pkg_m.group(1)
    messages: list[ProtoMessage] = []
    for m in re.finditer(r"\bmessage\s+(\w+)\s*\{(.*?)\}", body, flags=re.S):
        msg = ProtoMessage(m.group(1))
        for stmt in m.group(2).split(";"):
            stmt = " ".join(stmt.split())
            if not stmt or re.match(r"(option|reserved)\b", stmt):
                continue
            mm = re.fullmatch(r"map\s*<\s*(\w+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)", stmt)
            if mm:
                if mm.group(1) != "string":
                    raise SystemExit(f"{msg.name}: unsupported map key {mm.group(1)}")
                msg.fields.append(ProtoField("map", qualify(pkg, mm.group(2)), mm.group(3),
                                             int(mm.group(4)), True))
                continue
            fm = re.fullmatch(r"(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)(\s*\[.*\])?", stmt)
            if not fm:
                raise SystemExit(f"{msg.name}: cannot parse {stmt!r}")
            msg.fields.append(ProtoField(fm.group(1), qualify(pkg, fm.group(2)), fm.group(3), int(fm.group(4))))
        messages.append(msg)
    return pkg, messages


def qualify(pkg: str, typ: str) -> str:
    typ = typ.lstrip(".")
    if typ in SCALARS or "." in typ:
        return typ
    return f"{pkg}.{typ}"


_STRUCT_RE = re.compile(r"^type\s+(\w+)\s+struct\s*\{\s*$")
_SLICE_RE = re.compile(r"^type\s+(\w+)\s+\[\]\w+\s*$")
_FIELD_RE = re.compile(r"^\s*(?:(\w+)\s+)?([^\s`]+)\s*`([^`]*)`")


def parse_go_package(path: str) -> tuple[dict[str, GoStruct], set[str], str | None]:
    """Struct tags, slice-typed names and GroupName from the Go files of one package."""
    structs: dict[str, GoStruct] = {}
    slices: set[str] = set()
    group: str | None = None
    for fn in sorted(os.listdir(path)):
        if not fn.endswith(".go") or fn.endswith("_test.go") or fn.startswith("zz_generated") \
                or fn in ("generated.pb.go", "types_swagger_doc_generated.go"):
            continue
        with open(os.path.join(path, fn), encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        comments: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            gm = re.search(r'\bGroupName\s*=\s*"([^"]*)"', line)
            if gm and group is None:
                group = gm.group(1)
            if line.startswith("//"):
                comments.append(line)
                i += 1
                continue
            sm = _STRUCT_RE.match(line)
            if sm:
                name = sm.group(1)
                is_object = any(RUNTIME_OBJECT in c for c in comments)
                fields: list[GoField] = []
                i += 1
                while i < len(lines) and lines[i] != "}":
                    f = parse_go_field(lines[i])
                    if f is not None:
                        fields.append(f)
                    i += 1
                structs[name] = GoStruct(name, fields, is_object)
            else:
                sl = _SLICE_RE.match(line)
                if sl:
                    slices.add(sl.group(1))
            if line.strip():
                comments = []
            i += 1
    return structs, slices, group


def parse_go_field(line: str) -> GoField | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("//"):
        return None
    m = _FIELD_RE.match(line)
    if not m:
        return None
    name, gotype, tags = m.group(1), m.group(2), m.group(3)
    if name is None:  # embedded field: its name is the type's last component
        name = gotype.lstrip("*").split(".")[-1]
    tag = dict(re.findall(r'(\w+):"([^"]*)"', tags))
    jparts = tag.get("json", "").split(",")
    pb = tag.get("protobuf", "")
    number = None
    if pb and pb != "-":
        number = int(pb.split(",")[1])
    json_name = jparts[0] or ""
    opts = set(jparts[1:])
    return GoField(name, gotype, json_name, "omitempty" in opts, "omitzero" in opts,
                   "inline" in opts, number)


def build_fields(pkg: str, msg: ProtoMessage, go: GoStruct | None) -> list[tuple[int, str, str, int]]:
    by_number = {f.number: f for f in msg.fields}
    out: list[tuple[int, str, str, int]] = []
    seen: set[int] = set()
    go_fields = [g for g in (go.fields if go else []) if g.number is not None]
    for g in go_fields:
        pf = by_number.get(g.number)  # type: ignore[arg-type]
        if pf is None:
            continue
        seen.add(pf.number)
        flags = 0
        if pf.label == "repeated":
            flags |= REPEATED
        if pf.map_value:
            flags |= MAP
        if g.gotype.startswith("*"):
            flags |= POINTER
        if g.omitempty:
            flags |= OMITEMPTY
        if g.omitzero:
            flags |= OMITZERO
        if g.inline:
            flags |= INLINE
        out.append((pf.number, g.json or pf.name, pf.type, flags))
    for pf in msg.fields:
        if pf.number in seen:
            continue
        if go is not None and go_fields:
            print(f"warning: {pkg}.{msg.name}.{pf.name} has no Go struct tag", file=sys.stderr)
        flags = OMITEMPTY
        if pf.label == "repeated":
            flags |= REPEATED
        if pf.map_value:
            flags |= MAP
        out.append((pf.number, pf.name, pf.type, flags))
    return out


def module_name(pkg: str) -> str:
    parts = [p for p in pkg.split(".") if p not in ("k8s", "io", "pkg", "apis")]
    return "_".join(parts)


def render_module(rel: str, pkg: str, group: str | None, version: str, messages: list[ProtoMessage],
                  structs: dict[str, GoStruct], slices: set[str]) -> str:
    out = [
        f'"""Protobuf/JSON field facts for {pkg} (Kubernetes v1.34).',
        "",
        "Generated by scripts/gen_k8s_proto_tables.py; do not edit by hand.",
        "Field tuple: (number, json name, type, flags); tuples are in Go struct (JSON) order.",
        '"""',
        "",
        f"PACKAGE = {pkg!r}",
        f"GROUP = {group!r}",
        f"VERSION = {version!r}",
        "",
        "MESSAGES: dict[str, tuple[tuple[int, str, str, int], ...]] = {",
    ]
    kinds: list[str] = []
    wrappers: list[str] = []
    for msg in sorted(messages, key=lambda m: m.name):
        go = structs.get(msg.name)
        fields = build_fields(pkg, msg, go)
        if go is not None and go.is_object:
            kinds.append(msg.name)
        if msg.name in slices and [f.number for f in msg.fields] == [1]:
            wrappers.append(msg.name)
        out.append(f"    {msg.name!r}: (")
        for f in fields:
            typ = f[2]
            if typ.startswith(pkg + "."):
                typ = "." + typ[len(pkg) + 1:]  # same-package reference
            out.append(f"        ({f[0]}, {f[1]!r}, {typ!r}, {f[3]}),")
        out.append("    ),")
    out.append("}")
    out.append("")
    out.append(f"KINDS: tuple[str, ...] = {tuple(kinds)!r}")
    out.append(f"SLICE_WRAPPERS: tuple[str, ...] = {tuple(wrappers)!r}")
    out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.join(argv[1], "k8s.io")
    out_dir = argv[2] if len(argv) > 2 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kubeapi", "protobuf", "tables")
    os.makedirs(out_dir, exist_ok=True)
    names: list[str] = []
    for rel in PACKAGES:
        pdir = os.path.join(root, rel)
        with open(os.path.join(pdir, "generated.proto"), encoding="utf-8") as fh:
            pkg, messages = parse_proto(fh.read())
        structs, slices, group = parse_go_package(pdir)
        version = rel.rsplit("/", 1)[-1]
        if not re.fullmatch(r"v\d+\w*", version):
            version = ""
        mod = module_name(pkg)
        with open(os.path.join(out_dir, mod + ".py"), "w", encoding="utf-8") as fh:
            fh.write(render_module(rel, pkg, group, version, messages, structs, slices))
        names.append(mod)
    with open(os.path.join(out_dir, "__init__.py"), "w", encoding="utf-8") as fh:
        fh.write('"""Generated message tables, one module per proto package (see scripts/gen_k8s_proto_tables.py)."""\n\n')
        fh.write(f"MODULES: tuple[str, ...] = {tuple(names)!r}\n")
    print(f"wrote {len(names)} modules to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
