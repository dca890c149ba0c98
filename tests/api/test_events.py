"""Events in both groups: conversion, validation, printing, field selectors."""

from __future__ import annotations

import copy

from twisted.trial import unittest

from kubeapi.api.events import from_storage, to_storage
from tests.api.helpers import cells, errors, fields, rdef

CORE = rdef("", "events")
NEW = rdef("events.k8s.io", "events")

NEW_EVENT = {
    "apiVersion": "events.k8s.io/v1", "kind": "Event",
    "metadata": {"name": "web.17a", "namespace": "default"},
    "eventTime": "2024-01-01T00:00:00.000000Z",
    "series": {"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"},
    "reportingController": "kubelet", "reportingInstance": "node-1",
    "action": "Pulling", "reason": "Pulling", "type": "Normal",
    "regarding": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1",
                  "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
    "related": {"kind": "Node", "name": "node-1"},
    "note": "Pulling image nginx",
    "deprecatedSource": {"component": "kubelet", "host": "node-1"},
    "deprecatedFirstTimestamp": "2024-01-01T00:00:00Z",
    "deprecatedLastTimestamp": "2024-01-01T00:01:00Z",
    "deprecatedCount": 2,
}


class Conversion(unittest.TestCase):
    def test_to_core(self) -> None:
        core = to_storage(NEW_EVENT)
        self.assertEqual(core["apiVersion"], "v1")
        self.assertEqual(core["message"], "Pulling image nginx")
        self.assertEqual(core["involvedObject"]["name"], "web")
        self.assertEqual(core["reportingComponent"], "kubelet")
        self.assertEqual(core["source"], {"component": "kubelet", "host": "node-1"})
        self.assertEqual((core["firstTimestamp"], core["lastTimestamp"], core["count"]),
                         ("2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", 2))
        self.assertEqual(core["related"], {"kind": "Node", "name": "node-1"})
        for key in ("note", "regarding", "reportingController", "deprecatedCount"):
            self.assertNotIn(key, core)

    def test_round_trip(self) -> None:
        self.assertEqual(from_storage(to_storage(NEW_EVENT)), NEW_EVENT)
        core = to_storage(NEW_EVENT)
        self.assertEqual(to_storage(from_storage(core)), core)

    def test_old_style_core_event_reads_as_new(self) -> None:
        old = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "d"},
               "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"},
               "reason": "Started", "message": "hi", "source": {}, "count": 0, "type": "Normal"}
        new = from_storage(old)
        self.assertEqual(new["note"], "hi")
        self.assertNotIn("deprecatedSource", new)
        self.assertNotIn("deprecatedCount", new)


class Validation(unittest.TestCase):
    def test_new_event(self) -> None:
        good = copy.deepcopy(NEW_EVENT)
        for k in ("deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
                  "deprecatedCount"):
            good.pop(k)
        self.assertEqual(errors(NEW, good), [])
        bad = {"metadata": {"name": "e", "namespace": "default"}, "type": "Info",
               "regarding": {"namespace": "default"}}
        self.assertEqual(fields(errors(NEW, bad)), [
            ("eventTime", "FieldValueRequired"), ("type", "FieldValueInvalid"),
            ("reportingController", "FieldValueRequired"), ("reportingInstance", "FieldValueRequired"),
            ("action", "FieldValueRequired"), ("reason", "FieldValueRequired")])
        self.assertEqual(fields(errors(NEW, dict(good, deprecatedCount=3))),
                         [("deprecatedCount", "FieldValueInvalid")])

    def test_core_event_namespace_must_match(self) -> None:
        ev = {"metadata": {"name": "e", "namespace": "a"},
              "involvedObject": {"kind": "Pod", "namespace": "b", "name": "p"}}
        self.assertEqual(fields(errors(CORE, ev)), [("involvedObject.namespace", "FieldValueInvalid")])
        ev["involvedObject"]["namespace"] = "a"
        self.assertEqual(errors(CORE, ev), [])


class PrintingAndSelectors(unittest.TestCase):
    def test_columns_either_form(self) -> None:
        self.assertEqual([c.name for c in CORE.columns],
                         ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                          "First Seen", "Count", "Name"])
        for ev in (NEW_EVENT, to_storage(NEW_EVENT)):
            c = cells(CORE, ev)
            self.assertEqual((c["Type"], c["Reason"], c["Object"], c["Source"], c["Message"], c["Count"]),
                             ("Normal", "Pulling", "pod/web", "kubelet, node-1", "Pulling image nginx", 2))
            self.assertEqual(c["Last Seen"], "2024-01-01T00:01:00.000000Z")

    def test_count_defaults_to_one(self) -> None:
        ev = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Node"},
              "firstTimestamp": "2024-01-01T00:00:00Z"}
        c = cells(CORE, ev)
        self.assertEqual((c["Count"], c["Object"], c["Last Seen"]), (1, "node", "2024-01-01T00:00:00Z"))

    def test_field_selectors(self) -> None:
        core = to_storage(NEW_EVENT)
        got = {k: f(core) for k, f in CORE.field_selectors.items()}
        self.assertEqual(got["involvedObject.kind"], "Pod")
        self.assertEqual(got["involvedObject.name"], "web")
        self.assertEqual(got["involvedObject.uid"], "u1")
        self.assertEqual(got["involvedObject.fieldPath"], "spec.containers{app}")
        self.assertEqual((got["reason"], got["type"], got["source"], got["reportingComponent"]),
                         ("Pulling", "Normal", "kubelet", "kubelet"))
        new = {k: f(NEW_EVENT) for k, f in NEW.field_selectors.items()}
        self.assertEqual((new["regarding.name"], new["reportingController"]), ("web", "kubelet"))
        self.assertEqual({k: f(core) for k, f in NEW.field_selectors.items()}, new)
        no_source = dict(core, source={})
        self.assertEqual(CORE.field_selectors["source"](no_source), "kubelet")
