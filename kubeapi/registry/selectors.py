"""Label and field selectors, parsed and validated as kube-apiserver does.

Parse errors become 400 BadRequest with upstream's text, because kubectl shows the
server's message (``unable to parse requirement: ...``) as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeapi.errors import StatusError, bad_request

# --- validation of keys and values (IsQualifiedName / IsValidLabelValue) ---------------------

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS1123_SUB_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_NAME_FMT = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
             "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_VALUE_FMT = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
              "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
              "'my_value',  or '12345', regex used for validation is "
              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
_DNS1123_FMT = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                "regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def qualified_name_errors(value: str) -> list[str]:
    """Upstream's IsQualifiedName: ``[prefix/]name``."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part must be no more than 253 characters")
            if not _DNS1123_SUB_RE.match(prefix):
                errs.append("prefix part " + _DNS1123_FMT)
    else:
        return ["a qualified name " + _NAME_FMT
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _NAME_RE.match(name):
        errs.append("name part " + _NAME_FMT)
    return errs


def label_value_errors(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _VALUE_RE.match(value):
        errs.append(_VALUE_FMT)
    return errs


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _invalid(path: str, value: Any, detail: str) -> str:
    if isinstance(value, str):
        shown = _go_quote(value)
    else:
        shown = "[]string{" + ", ".join(_go_quote(v) for v in value) + "}"
    return f"{path}: Invalid value: {shown}: {detail}"


# --- label selectors -------------------------------------------------------------------------

OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "in" | "notin" | "=" | "==" | "!=" | "exists" | "!" | "gt" | "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in ("in", "=", "=="):
            return self.key in labels and labels[self.key] in self.values
        if op in ("notin", "!="):
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        if op in ("gt", "lt"):
            if self.key not in labels or len(self.values) != 1:
                return False
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if op == "gt" else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        if op in ("in", "notin"):
            return f"{self.key} {op} ({','.join(self.values)})"
        sym = {"gt": ">", "lt": "<"}.get(op, op)
        return f"{self.key}{sym}{self.values[0] if self.values else ''}"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False  # a nil metav1.LabelSelector selects nothing

    @property
    def empty(self) -> bool:
        """True when it selects everything."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        ls = labels or {}
        return all(r.matches(ls) for r in self.requirements)

    def __str__(self) -> str:
        return selector_to_string(self)


def new_requirement(key: str, op: str, values: Iterable[str], path: str = "") -> Requirement:
    """Validate as upstream's NewRequirement; errors joined as its aggregate error."""
    vals = list(values)
    errs: list[str] = []
    key_errs = qualified_name_errors(key)
    if key_errs:
        errs.append(_invalid(f"{path}.key" if path else "key", key, "; ".join(key_errs)))
    vpath = f"{path}.values" if path else "values"
    if op in ("in", "notin"):
        if not vals:
            errs.append(_invalid(vpath, vals, "for 'in', 'notin' operators, values set can't be empty"))
    elif op in ("=", "==", "!="):
        if len(vals) != 1:
            errs.append(_invalid(vpath, vals, "exact-match compatibility requires one single value"))
    elif op in ("exists", "!"):
        if vals:
            errs.append(_invalid(vpath, vals, "values set must be empty for exists and does not exist"))
    elif op in ("gt", "lt"):
        if len(vals) != 1:
            errs.append(_invalid(vpath, vals, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if not re.fullmatch(r"[+-]?[0-9]+", v):
                errs.append(_invalid(f"{vpath}[{i}]", v,
                                     "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        errs.append(f'{path + "." if path else ""}operator: Unsupported value: "{op}"')
    for i, v in enumerate(vals):
        v_errs = label_value_errors(v)
        if v_errs:
            errs.append(_invalid(f"{vpath}[{i}][{key}]", v, "; ".join(v_errs)))
    if errs:
        raise _SelectorError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    if op in ("in", "notin"):
        vals = sorted(set(vals))
    return Requirement(key, op, tuple(vals))


class _SelectorError(Exception):
    pass


# Lexer tokens.
_IDENT, _END, _COMMA, _OPEN, _CLOSE, _NOT, _EQ, _DEQ, _NEQ, _GT, _LT, _IN, _NOTIN, _ERR = range(14)
_SYMBOLS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "<": _LT,
            "!=": _NEQ, "(": _OPEN}
_KEYWORDS = {"in": _IN, "notin": _NOTIN}
_SPECIAL = set("=!(),><")


def _lex(s: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in " \t\r\n":
            i += 1
        if i >= n:
            out.append((_END, ""))
            return out
        ch = s[i]
        if ch in _SPECIAL:
            buf = ""
            last: tuple[int, str] | None = None
            while i < n and s[i] in _SPECIAL:
                buf += s[i]
                if buf in _SYMBOLS:
                    last = (_SYMBOLS[buf], buf)
                    i += 1
                elif last is not None:
                    break
                else:
                    i += 1
            if last is None:
                out.append((_ERR, f"error expected: keyword found '{buf}'"))
            else:
                out.append(last)
        else:
            j = i
            while j < n and s[j] not in _SPECIAL and s[j] not in " \t\r\n":
                j += 1
            word = s[i:j]
            i = j
            out.append((_KEYWORDS.get(word, _IDENT), word))


class _Parser:
    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def look(self, values: bool) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_IN, _NOTIN):
            tok = _IDENT
        return tok, lit

    def take(self, values: bool) -> tuple[int, str]:
        tok, lit = self.look(values)
        if self.pos < len(self.items) - 1:
            self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.look(True)
            if tok in (_IDENT, _NOT):
                try:
                    reqs.append(self.requirement())
                except _SelectorError as e:
                    raise _SelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self.take(True)
                if t == _END:
                    return reqs
                if t == _COMMA:
                    t2, l2 = self.look(True)
                    if t2 not in (_IDENT, _NOT):
                        raise _SelectorError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise _SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _END:
                return reqs
            else:
                raise _SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        op = ""
        tok, lit = self.take(True)
        if tok == _NOT:
            op = "!"
            tok, lit = self.take(True)
        if tok != _IDENT:
            raise _SelectorError(f"found '{lit}', expected: identifier")
        key_errs = qualified_name_errors(lit)
        if key_errs:
            raise _SelectorError(_invalid("<nil>", lit, "; ".join(key_errs)))
        key = lit
        t, _ = self.look(True)
        if op == "!" or t in (_END, _COMMA):
            return new_requirement(key, op or "exists", [])
        tok, lit = self.take(False)
        ops = {_IN: "in", _NOTIN: "notin", _EQ: "=", _DEQ: "==", _NEQ: "!=", _GT: "gt", _LT: "lt"}
        if tok not in ops:
            raise _SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        op = ops[tok]
        values = self.values_list() if op in ("in", "notin") else self.exact_value()
        return new_requirement(key, op, values)

    def values_list(self) -> list[str]:
        tok, lit = self.take(True)
        if tok != _OPEN:
            raise _SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.look(True)
        if tok in (_IDENT, _COMMA):
            vals = self.identifiers()
            t, _ = self.take(True)
            if t != _CLOSE:
                raise _SelectorError(f"found '{lit}', expected: ')'")
            return sorted(vals)
        if tok == _CLOSE:
            self.take(True)
            return [""]
        raise _SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        vals: set[str] = set()
        while True:
            tok, lit = self.take(True)
            if tok == _IDENT:
                vals.add(lit)
                t2, l2 = self.look(True)
                if t2 == _COMMA:
                    continue
                if t2 == _CLOSE:
                    return vals
                raise _SelectorError(f"found '{l2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not vals:
                    vals.add("")
                t2, _ = self.look(True)
                if t2 == _CLOSE:
                    vals.add("")
                    return vals
                if t2 == _COMMA:
                    self.take(True)
                    vals.add("")
                continue
            raise _SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        tok, _ = self.look(True)
        if tok in (_END, _COMMA):
            return [""]
        tok, lit = self.take(True)
        if tok == _IDENT:
            return [lit]
        raise _SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(s: str) -> LabelSelector:
    """Parse ``labelSelector``; 400 BadRequest with upstream's message when it cannot."""
    try:
        reqs = _Parser(s).parse()
    except _SelectorError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelector → selector.  ``None`` selects nothing, ``{}`` everything.
    Invalid content raises a plain ``ValueError`` (callers turn it into a field error)."""
    if sel is None:
        return LabelSelector(nothing=True)
    reqs: list[Requirement] = []
    try:
        for k, v in (sel.get("matchLabels") or {}).items():
            reqs.append(new_requirement(k, "=", [v if isinstance(v, str) else str(v)]))
        ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
        for expr in sel.get("matchExpressions") or []:
            op = expr.get("operator", "")
            if op not in ops:
                raise ValueError(f'"{op}" is not a valid label selector operator')
            reqs.append(new_requirement(expr.get("key", ""), ops[op], list(expr.get("values") or [])))
    except _SelectorError as e:
        raise ValueError(str(e)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def selector_to_string(sel: LabelSelector) -> str:
    return ",".join(str(r) for r in sel.requirements)


# --- field selectors -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" | "!="  ("==" is read as "=")
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have == self.value if self.operator == "=" else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def fields(self) -> list[str]:
        return [r.field for r in self.requirements]

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_field_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(s: str) -> str:
    if not any(c in s for c in "\\,="):
        return s
    out: list[str] = []
    in_slash = False
    for c in s:
        if in_slash:
            if c in "\\,=":
                out.append(c)
            else:
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{c}")
            in_slash = False
            continue
        if c == "\\":
            in_slash = True
        elif c in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(s: str) -> list[str]:
    terms: list[str] = []
    start = 0
    escaped = False
    for i, c in enumerate(s):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def parse_field_selector(s: str) -> FieldSelector:
    """Parse ``fieldSelector`` (``=``, ``==``, ``!=``; ``\\,`` ``\\=`` ``\\\\`` escapes)."""
    if not s:
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    for part in sorted(_split_terms(s)):
        if part == "":
            continue
        for i in range(len(part)):
            rest = part[i:]
            op = next((o for o in ("!=", "==", "=") if rest.startswith(o)), "")
            if op:
                lhs, rhs = part[:i], part[i + len(op):]
                break
        else:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
        reqs.append(FieldRequirement(lhs, "!=" if op == "!=" else "=", _unescape_field_value(rhs)))
    return FieldSelector(tuple(reqs))


def check_supported(sel: FieldSelector, supported_fields: Iterable[str], resource: str = "") -> None:
    """400 ``field label not supported: <f>`` for the first field the kind does not index.
    ``resource`` is accepted for callers' symmetry; upstream's message does not name it."""
    allowed = set(supported_fields)
    for r in sel.requirements:
        if r.field not in allowed:
            raise bad_request(f"field label not supported: {r.field}")


def object_fields(obj: Mapping[str, Any], extra: Mapping[str, Any] | None = None,
                  namespaced: bool = True) -> dict[str, str]:
    """The field set every kind supports (metadata.name, metadata.namespace) plus the kind's
    own ``ResourceDef.field_selectors`` computed from ``obj``."""
    meta = obj.get("metadata") or {}
    out = {"metadata.name": str(meta.get("name", ""))}
    if namespaced:
        out["metadata.namespace"] = str(meta.get("namespace", ""))
    for name, fn in (extra or {}).items():
        try:
            v = fn(obj)
        except (KeyError, TypeError, AttributeError):
            v = ""
        out[name] = "" if v is None else str(v)
    return out


__all__ = [
    "FieldRequirement", "FieldSelector", "LabelSelector", "Requirement", "StatusError",
    "check_supported", "label_selector_from_object", "new_requirement", "object_fields",
    "parse_field_selector", "parse_label_selector", "selector_to_string",
]
