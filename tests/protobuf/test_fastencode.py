"""The encoder's fast path writes the very bytes the careful encoder writes, and for objects
it cannot take, the careful encoder's answer (its bytes or its exact error) is what comes out."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from kubeapi.protobuf import fastencode
from kubeapi.protobuf.encode import encode_message as careful
from kubeapi.protobuf.schema import known_kinds, message_for_kind
from tests.protobuf.test_roundtrip import OBJECTS

FIXTURES = Path(__file__).with_name("fixtures")
ODD_VALUES: list[Any] = [None, "", "x", 0, 1, -1, 2 ** 31, 2 ** 63, -(2 ** 63) - 1, 2 ** 64, 1.0, 1.5, True, False,
                         [], [None], ["a", 1], {}, {"a": None}, {"b": 1, "a": "z"}, "2024-05-06T07:08:09Z",
                         "not a time", "5s", "100Mi", "aGVsbG8=", "é"]


def _objects() -> list[dict[str, Any]]:
    out = [copy.deepcopy(o) for o in OBJECTS]
    for path in sorted(FIXTURES.glob("*.json")):
        out.append(json.loads(path.read_text()))
    return out


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def _outcome(encode: Any, name: str, obj: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "bytes", encode(name, obj)
    except Exception as e:
        return type(e).__name__, str(e)


class FastPath(unittest.TestCase):
    def _same(self, obj: dict[str, Any]) -> None:
        name = message_for_kind(obj["apiVersion"], obj["kind"])
        self.assertEqual(_outcome(fastencode.encode_message, name, copy.deepcopy(obj)),
                         _outcome(careful, name, copy.deepcopy(obj)), obj)

    def test_representative_objects(self) -> None:
        objects = _objects()
        self.assertGreater(len(objects), 20)
        for obj in objects:
            name = message_for_kind(obj["apiVersion"], obj["kind"])
            plan = fastencode._plan(name)
            self.assertEqual(fastencode._message(plan, obj), careful(name, obj))  # no fallback taken

    def test_every_kind(self) -> None:
        for group, version, kind in known_kinds():
            api_version = f"{group}/{version}" if group else version
            self._same({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "labels": {"a": "b"}}})
            self._same({"apiVersion": api_version, "kind": kind, "spec": {}, "status": {}})

    def test_odd_values_anywhere(self) -> None:
        rng = random.Random(16)
        for obj in _objects():
            paths = [p for p in _paths(obj) if p[0] not in ("apiVersion", "kind")]
            for path in rng.sample(paths, min(len(paths), 40)):
                odd = copy.deepcopy(obj)
                _set(odd, path, copy.deepcopy(rng.choice(ODD_VALUES)))
                self._same(odd)

    def test_missing_and_empty(self) -> None:
        for obj in _objects():
            for key in list(obj):
                if key in ("apiVersion", "kind"):
                    continue
                less = {k: v for k, v in obj.items() if k != key}
                self._same(less)
                self._same({**obj, key: {}})
