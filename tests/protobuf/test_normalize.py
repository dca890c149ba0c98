"""The direct canonicaliser gives what the protobuf round trip gives, for every kind.

Random objects are drawn from each message's own fields with values of the right type, of
the wrong type and out of range; wherever the direct walk answers, its answer must equal
the round trip's, key order included; wherever the round trip refuses, so must the walk.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import orjson
from hypothesis import HealthCheck, given, settings
from twisted.trial import unittest

from kubeapi.protobuf import canonical, normalize
from kubeapi.protobuf.codec import DURATION, INTORSTRING, MICROTIME, QUANTITY, RAWEXTENSION, TIME
from kubeapi.protobuf.schema import MAP, REPEATED, is_slice_wrapper, known_kinds, message, message_for_kind

KINDS = [(f"{g}/{v}" if g else v, k) for g, v, k in known_kinds()]

_json = st.recursive(st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2),
                     max_leaves=4)
_odd = st.sampled_from([None, True, 1.5, 2 ** 70, -1, "x", "", [], {}, [None], {"a": 1}, "\ud800", "aGk",
                        2 ** 40, "bad", "yesterday", 3.0])
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=4),
    "bool": st.booleans(),
    "int32": st.integers(-(2 ** 31), 2 ** 31 - 1),
    "int64": st.integers(-(2 ** 63), 2 ** 63 - 1),
    "double": st.integers(-5, 5),
    "bytes": st.sampled_from(["aGk=", "", "AAEC"]),
}
_SPECIAL: dict[str, st.SearchStrategy[Any]] = {
    TIME: st.sampled_from(["2026-12-03T12:00:00Z", "2026-12-03T12:00:00.123456789+02:00", "0001-01-01T00:00:00Z",
                           ""]),
    MICROTIME: st.sampled_from(["2026-12-03T12:00:00.123456789Z", "2026-12-03T12:00:00Z", ""]),
    DURATION: st.sampled_from(["1m30s", "0s", "1.5h"]),
    QUANTITY: st.sampled_from(["1Gi", "500m", ""]),
    INTORSTRING: st.sampled_from([80, "http", ""]),
    RAWEXTENSION: _json,
}


def _value(typ: str, depth: int, odd: bool) -> st.SearchStrategy[Any]:
    if typ in _SPECIAL:
        one = _SPECIAL[typ]
    elif "." not in typ:
        one = _SCALARS.get(typ, st.integers(0, 9))
    elif is_slice_wrapper(typ):
        one = st.lists(st.text(max_size=3), max_size=2)
    elif depth > 2:
        one = st.sampled_from([None, {}])
    else:
        one = _object(typ, depth + 1, odd)
    return one | _odd if odd else one


def _field(f: Any, depth: int, odd: bool) -> st.SearchStrategy[Any]:
    one = _value(f.type, depth, odd)
    if f.flags & MAP:
        many: st.SearchStrategy[Any] = st.dictionaries(st.text(max_size=3), one, max_size=2)
    elif f.flags & REPEATED:
        many = st.lists(one, max_size=2)
    else:
        return one
    return many | _odd if odd else many


def _object(typ: str, depth: int = 0, odd: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """An object with some of the message's fields: `odd` mixes in wrong types and ranges."""
    fields = message(typ).fields
    return st.lists(st.sampled_from(fields), max_size=6, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({f.json: _field(f, depth, odd) for f in chosen}))


def _same(test: unittest.TestCase, name: str, obj: dict[str, Any]) -> bool:
    """True when the walk answered (and agreed); False when it handed over to the round trip."""
    try:
        expected: Any = canonical.round_trip(name, obj)
    except Exception as e:  # the walk must not answer where the round trip refuses
        expected = type(e)
    try:
        got: Any = normalize.message_dict(name, obj)
    except normalize.NotHere:
        return False
    except Exception as e:
        got = type(e)
    if isinstance(got, dict) and isinstance(expected, dict):  # the same JSON, byte for byte
        test.assertEqual(orjson.dumps(got), orjson.dumps(expected), obj)
    else:
        test.assertEqual(got, expected, obj)
    return True


def _cases(odd: bool) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return st.sampled_from(KINDS).flatmap(
        lambda k: st.tuples(st.just(message_for_kind(*k)), _object(message_for_kind(*k), odd=odd)))


class DirectEqualsRoundTrip(unittest.TestCase):
    def test_zero_object_of_every_kind(self) -> None:
        for api_version, kind in KINDS:
            name = message_for_kind(api_version, kind)
            self.assertEqual(normalize.message_dict(name, {}), canonical.round_trip(name, {}), kind)

    @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(_cases(odd=True))
    def test_objects_with_odd_values(self, case: tuple[str, dict[str, Any]]) -> None:
        _same(self, *case)

    @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(_cases(odd=False))
    def test_well_typed_objects_take_the_fast_path(self, case: tuple[str, dict[str, Any]]) -> None:
        self.assertTrue(_same(self, *case), case)  # hand-overs are for odd values only

    def test_special_types(self) -> None:
        for api_version, kind, obj in [
            ("coordination.k8s.io/v1", "Lease", {"spec": {"renewTime": "2026-12-03T12:00:00.123456789Z",
                                                          "acquireTime": "2026-12-03T12:00:00+01:00",
                                                          "leaseDurationSeconds": 15}}),
            ("v1", "Secret", {"data": {"a": "aGk=", "b": "", "c": None}, "type": "Opaque"}),
            ("v1", "ConfigMap", {"binaryData": {"x": "AAEC"}, "data": {"k": "é"}}),
            ("certificates.k8s.io/v1", "CertificateSigningRequest", {"spec": {"request": "", "usages": []}}),
            ("certificates.k8s.io/v1", "CertificateSigningRequest", {"spec": {"request": "aGk=",
                                                                            "expirationSeconds": 600}}),
            ("v1", "Service", {"spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81}]}}),
            ("batch/v1", "Job", {"spec": {"template": {"spec": {"containers": []}}}}),
            ("v1", "Event", {"eventTime": "2026-12-03T12:00:00.5Z", "firstTimestamp": None}),
            ("v1", "Pod", {"metadata": {"labels": {"z": "1", "a": "2", "m": "3"}},
                           "spec": {"overhead": {"memory": "", "cpu": "1"}, "containers": [
                               {"name": "c", "resources": {"requests": {"cpu": ""}}}]}}),
        ]:
            name = message_for_kind(api_version, kind)
            self.assertTrue(_same(self, name, obj), kind)
