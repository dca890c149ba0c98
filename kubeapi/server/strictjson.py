"""The parts of Go's JSON decoding that orjson does not do for us.

orjson is fast but forgiving where Go is not: it keeps the last of duplicate keys without a
word, turns integers beyond 64 bits into floats, and nests as deep as its own stack allows.
kube-apiserver reports duplicate fields (an error under ``fieldValidation=Strict``, a warning
under ``Warn``), refuses numbers no Go integer can hold, and stops at a maximum depth.  This
module adds those checks without slowing the common body: each has a cheap byte-level
pre-test, and only a body that fails it is parsed a second time, by the standard library,
which keeps integers exact and shows every key.

All walks here are iterative, so no depth of input raises RecursionError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubeapi.errors import StatusError, bad_request

# Deepest nesting a body may have.  Go stops at 10000; we stop lower because every layer of
# the server (copies, patches, the JSON encoder, whose own limit is 254) must handle the
# deepest accepted object, wrapped in a list or a watch event, without running out of stack.
MAX_DEPTH = 200

INT64_MIN = -(2 ** 63)
UINT64_MAX = 2 ** 64 - 1

_LONG_NUMBER = re.compile(rb"\d{19,}")
_KEY_END = re.compile(rb'"\s*:')


def depth_exceeded() -> StatusError:
    return bad_request(f"couldn't get version/kind; json parse error: exceeded max depth of {MAX_DEPTH}")


def nesting_ok(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the bracket nesting of a JSON text (outside strings) stays within ``limit``."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return True
    depth = 0
    in_str = False
    esc = False
    for b in body:
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:
                esc = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif b in (0x5D, 0x7D):
            depth -= 1
    return True


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a decoded value (a scalar is 0), counting no further than limit + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            children: Any = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        d += 1
        if d > deepest:
            deepest = d
            if deepest > limit:
                return deepest
        stack.extend((c, d) for c in children)
    return deepest


def _count_keys(value: Any) -> int:
    n = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            n += len(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return n


def may_have_duplicates(body: bytes, parsed: Any) -> bool:
    """False when the body surely has no duplicate key: every key of the text ends in ``":``,
    so if the text has no more such endings than the parsed value has keys, none was lost."""
    return len(_KEY_END.findall(body)) > _count_keys(parsed)


def may_have_long_numbers(body: bytes) -> bool:
    """A run of 19+ digits may be an integer orjson could not keep exactly."""
    return _LONG_NUMBER.search(body) is not None


class _Dups:
    """Collects, per decoded object, the keys it saw twice (keyed by the object's id)."""

    def __init__(self) -> None:
        self.by_object: dict[int, list[str]] = {}
        self.keep: list[dict[str, Any]] = []

    def hook(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        dups: list[str] = []
        for k, v in pairs:
            if k in out and k not in dups:
                dups.append(k)
            out[k] = v
        if dups:
            self.by_object[id(out)] = dups
            self.keep.append(out)  # ids stay valid while the walk runs
        return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[:1]}' looking for beginning of value")


def exact_parse(body: bytes) -> tuple[Any, list[str]]:
    """Parse again with exact integers; returns the value and its duplicate-field paths
    (Go's notation: ``spec.template.spec.containers[0].name``), in document order."""
    dups = _Dups()
    try:
        value = json.loads(body, object_pairs_hook=dups.hook, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise bad_request(f"couldn't get version/kind; json parse error: {e}") from None
    paths: list[str] = []
    if dups.by_object:
        stack: list[tuple[Any, str]] = [(value, "")]
        while stack:
            v, path = stack.pop()
            if isinstance(v, dict):
                for k in dups.by_object.get(id(v), ()):
                    paths.append(f"{path}.{k}" if path else k)
                stack.extend((c, f"{path}.{k}" if path else k) for k, c in reversed(list(v.items())))
            elif isinstance(v, list):
                stack.extend((c, f"{path}[{i}]") for i, c in reversed(list(enumerate(v))))
    return value, paths


def check_integers(value: Any) -> None:
    """400 for an integer no Go integer type holds (beyond 64 bits), naming where it is."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        v, path = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            if v < INT64_MIN or v > UINT64_MAX:
                where = f" for field {path}" if path else ""
                raise bad_request(f"json: cannot unmarshal number {v} into Go value of type int64{where}")
        elif isinstance(v, dict):
            stack.extend((c, f"{path}.{k}" if path else str(k)) for k, c in v.items())
        elif isinstance(v, list):
            stack.extend((c, f"{path}[{i}]") for i, c in enumerate(v))


def duplicate_field_texts(paths: list[str]) -> list[str]:
    return [f'duplicate field "{p}"' for p in paths]


def _clean(text: str) -> str:
    if not _has_surrogate(text):
        return text
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def replace_surrogates(value: Any) -> Any:
    """Lone UTF-16 surrogates (YAML's ``"\\ud800"`` escapes) become U+FFFD, as Go's decoders
    make them; Python would keep them and no JSON encoder could write the object."""
    if isinstance(value, str):
        return _clean(value)
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k in list(v):
                item = v[k]
                if isinstance(item, str):
                    item = _clean(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
                if isinstance(k, str) and _has_surrogate(k):
                    del v[k]
                    v[_clean(k)] = item
                else:
                    v[k] = item
        elif isinstance(v, list):
            for i, item in enumerate(v):
                if isinstance(item, str):
                    v[i] = _clean(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
    return value
