"""Label and field selectors: what matches, and the 400s users see for bad ones."""

from __future__ import annotations

from twisted.trial import unittest

from kubeapi.errors import StatusError
from kubeapi.registry.selectors import (
    check_supported,
    label_selector_from_object,
    object_fields,
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
)

WEB = {"app": "web", "tier": "frontend", "version": "3"}


class LabelSelectorTests(unittest.TestCase):
    def match(self, s: str, labels: dict[str, str] = WEB) -> bool:
        return parse_label_selector(s).matches(labels)

    def test_operators(self) -> None:
        self.assertTrue(self.match("app=web"))
        self.assertTrue(self.match("app==web"))
        self.assertFalse(self.match("app!=web"))
        self.assertTrue(self.match("missing!=x"))
        self.assertTrue(self.match("tier in (backend, frontend)"))
        self.assertFalse(self.match("tier notin (frontend)"))
        self.assertTrue(self.match("missing notin (a)"))
        self.assertTrue(self.match("app"))
        self.assertFalse(self.match("!app"))
        self.assertTrue(self.match("!missing"))
        self.assertTrue(self.match("version>2,version<4"))
        self.assertFalse(self.match("app>2"))
        self.assertTrue(self.match("app=web,tier=frontend"))
        self.assertFalse(self.match("app=web,tier=backend"))
        self.assertTrue(self.match("app=web", {"app": "web"}))
        self.assertFalse(self.match("app=web", {}))

    def test_empty_selects_everything(self) -> None:
        sel = parse_label_selector("")
        self.assertTrue(sel.empty)
        self.assertTrue(sel.matches({}))
        self.assertTrue(parse_label_selector("  ").empty)

    def test_string_form_is_sorted_and_canonical(self) -> None:
        sel = parse_label_selector("tier in (b, a),app=web,!gone,  x ")
        self.assertEqual(selector_to_string(sel), "app=web,!gone,tier in (a,b),x")
        self.assertEqual(str(parse_label_selector("k8s.io/app==1")), "k8s.io/app==1")

    def _error(self, s: str) -> str:
        err = self.assertRaises(StatusError, parse_label_selector, s)
        self.assertEqual((err.code, err.reason), (400, "BadRequest"))
        return err.message

    def test_parse_errors(self) -> None:
        self.assertEqual(self._error("app web"),
                         "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt")
        self.assertEqual(self._error("app=web tier"), "found 'tier', expected: ',' or 'end of string'")
        self.assertEqual(self._error("app in web"), "unable to parse requirement: found 'web' expected: '('")
        self.assertEqual(self._error("app=web,"), "found '', expected: identifier after ','")
        self.assertEqual(self._error(",app"), "found ',', expected: !, identifier, or 'end of string'")

    def test_validation_errors(self) -> None:
        msg = self._error("-bad=1")
        self.assertTrue(msg.startswith('unable to parse requirement: <nil>: Invalid value: "-bad": name part '
                                       "must consist of alphanumeric characters"), msg)
        msg = self._error("app=" + "v" * 64)
        self.assertIn("values[0][app]: Invalid value:", msg)
        self.assertIn("must be no more than 63 characters", msg)
        self.assertIn("for 'Gt', 'Lt' operators, the value must be an integer", self._error("a>b"))

    def test_from_object(self) -> None:
        sel = label_selector_from_object({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend", "edge"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]})
        self.assertEqual(str(sel), "app=web,!gone,tier in (edge,frontend)")
        self.assertTrue(sel.matches(WEB))
        self.assertFalse(sel.matches({"app": "web", "tier": "db"}))
        self.assertTrue(label_selector_from_object({}).matches({}))
        nothing = label_selector_from_object(None)
        self.assertFalse(nothing.matches(WEB))
        self.assertFalse(nothing.empty)
        e = self.assertRaises(ValueError, label_selector_from_object,
                              {"matchExpressions": [{"key": "a", "operator": "Gt"}]})
        self.assertEqual(str(e), '"Gt" is not a valid label selector operator')
        self.assertRaises(ValueError, label_selector_from_object,
                          {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


class FieldSelectorTests(unittest.TestCase):
    def test_match(self) -> None:
        fields = {"metadata.name": "a,b", "spec.nodeName": "n1", "status.phase": "Running"}
        self.assertTrue(parse_field_selector("spec.nodeName=n1").matches(fields))
        self.assertTrue(parse_field_selector("spec.nodeName==n1,status.phase!=Failed").matches(fields))
        self.assertFalse(parse_field_selector("spec.nodeName!=n1").matches(fields))
        self.assertTrue(parse_field_selector(r"metadata.name=a\,b").matches(fields))
        self.assertTrue(parse_field_selector("spec.nodeName=").matches({"spec.nodeName": ""}))
        self.assertTrue(parse_field_selector("").empty)

    def test_string_form(self) -> None:
        sel = parse_field_selector(r"spec.nodeName=n1,metadata.name=x\=y")
        self.assertEqual(str(sel), r"metadata.name=x\=y,spec.nodeName=n1")
        self.assertEqual([r.field for r in sel.requirements], ["metadata.name", "spec.nodeName"])

    def _error(self, s: str) -> str:
        err = self.assertRaises(StatusError, parse_field_selector, s)
        self.assertEqual(err.code, 400)
        return err.message

    def test_errors(self) -> None:
        self.assertEqual(self._error("spec.nodeName"),
                         "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'")
        self.assertEqual(self._error(r"a=b\x"), r"invalid field selector: invalid escape sequence: \x")
        self.assertEqual(self._error("a=b=c"), "invalid field selector: unescaped character in value: 61")

    def test_check_supported(self) -> None:
        sel = parse_field_selector("metadata.name=a,spec.foo=b")
        err = self.assertRaises(StatusError, check_supported, sel, ["metadata.name"], "pods")
        self.assertEqual((err.code, err.message), (400, "field label not supported: spec.foo"))
        check_supported(sel, ["metadata.name", "spec.foo"], "pods")

    def test_object_fields(self) -> None:
        obj = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n"}}
        got = object_fields(obj, {"spec.nodeName": lambda o: o["spec"]["nodeName"],
                                  "status.phase": lambda o: o["status"]["phase"]})
        self.assertEqual(got, {"metadata.name": "p", "metadata.namespace": "ns", "spec.nodeName": "n",
                               "status.phase": ""})
