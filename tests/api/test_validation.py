"""Shared rules: upstream's exact detail strings for names, labels and keys."""

from __future__ import annotations

from twisted.trial import unittest

from kubeapi.api import validation as v


class NameRules(unittest.TestCase):
    def test_subdomain(self) -> None:
        self.assertEqual(v.dns1123_subdomain("a.b-c"), [])
        self.assertEqual(v.dns1123_subdomain("A"), [
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
            "regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"])
        self.assertIn("must be no more than 253 characters", v.dns1123_subdomain("a" * 254))

    def test_labels(self) -> None:
        self.assertEqual(v.dns1123_label("my-name"), [])
        self.assertIn("'my-name',  or '123-abc'", v.dns1123_label("a.b")[0])
        self.assertEqual(v.dns1035_label("1abc")[0][:34], "a DNS-1035 label must consist of l")
        self.assertEqual(v.qualified_name("example.com/MyName"), [])
        self.assertEqual(v.qualified_name("a/b/c")[0][:29], "a qualified name must consist")
        self.assertEqual(v.qualified_name("Bad_Prefix/x")[0][:12], "prefix part ")
        self.assertEqual(v.label_value(""), [])
        self.assertEqual(v.label_value("a" * 64), ["must be no more than 63 characters"])

    def test_object_meta(self) -> None:
        errs = v.validate_object_meta({"metadata": {"labels": {"ok": "x y"}}})
        self.assertEqual([(e.field, e.type) for e in errs],
                         [("metadata.name", "FieldValueRequired"), ("metadata.labels", "FieldValueInvalid")])
        self.assertEqual(errs[0].message(), "metadata.name: Required value: name or generateName is required")
        big = {"metadata": {"name": "x", "annotations": {"a": "x" * (256 * 1024)}}}
        self.assertEqual([e.type for e in v.validate_object_meta(big)], ["FieldValueTooLong"])
        refs = {"metadata": {"name": "x", "ownerReferences": [
            {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
            {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": True}]}}
        self.assertEqual([e.field for e in v.validate_object_meta(refs)], ["metadata.ownerReferences"])

    def test_selector_matching(self) -> None:
        sel = {"matchLabels": {"app": "web"},
               "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                    {"key": "x", "operator": "DoesNotExist"}]}
        self.assertTrue(v.selector_matches(sel, {"app": "web", "tier": "a"}))
        self.assertFalse(v.selector_matches(sel, {"app": "web", "tier": "c"}))
        self.assertFalse(v.selector_matches(sel, {"app": "web", "tier": "a", "x": "1"}))
        self.assertEqual(v.check_selector({}, "spec.selector"),
                         [v.invalid("spec.selector", {}, "empty selector is invalid for deployment")])

    def test_quantities(self) -> None:
        for good in ("1", "500m", "1.5Gi", "2e3", 3):
            self.assertTrue(v.is_quantity(good), good)
        for bad in ("lots", "1 Gi", True):
            self.assertFalse(v.is_quantity(bad), bad)
        self.assertEqual(v.quantity_value("128Mi"), 128 * 2**20)
