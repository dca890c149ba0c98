"""Kubernetes' CEL libraries as policies and CRD rules use them: regex, URLs, quantities."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kubeapi.cel import EvalError, compile_expression
from kubeapi.cel.engine import to_python


def run(expression: str, **bindings: Any) -> Any:
    import celpy

    value = compile_expression(expression).evaluate_bindings({k: celpy.json_to_cel(v) for k, v in bindings.items()})
    if hasattr(value, "items"):
        return {str(k): [str(x) for x in v] for k, v in value.items()}
    if isinstance(value, list):
        return [str(x) for x in value]
    from celpy import celtypes

    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.IntType):
        return int(value)
    return to_python(value)


class LibraryTests(unittest.TestCase):
    def test_regex(self) -> None:
        self.assertEqual(run("s.find('[0-9]+')", s="abc123def456"), "123")
        self.assertEqual(run("s.find('z')", s="abc"), "")
        self.assertEqual(run("s.findAll('[0-9]+')", s="abc123def456"), ["123", "456"])
        self.assertEqual(run("s.findAll('[0-9]', 1)", s="a1b2"), ["1"])

    def test_urls(self) -> None:
        u = "https://user@example.com:8443/a%20b?x=1&x=2&y="
        self.assertEqual(run("url(u).getScheme()", u=u), "https")
        self.assertEqual(run("url(u).getHost()", u=u), "example.com:8443")
        self.assertEqual(run("url(u).getHostname()", u=u), "example.com")
        self.assertEqual(run("url(u).getPort()", u=u), "8443")
        self.assertEqual(run("url(u).getEscapedPath()", u=u), "/a%20b")
        self.assertEqual(run("url(u).getQuery()", u=u), {"x": ["1", "2"], "y": [""]})
        self.assertEqual(run("url('https://[::1]:80/').getHostname()"), "::1")
        self.assertEqual(run("url('/only/a/path').getHost()"), "")
        self.assertEqual((run("isURL('https://e.com')"), run("isURL('not a url')")), (True, False))
        with self.assertRaises(EvalError) as e:
            run("url('relative/path')")
        self.assertIn("URL parse error", str(e.exception))

    def test_quantities(self) -> None:
        self.assertTrue(run("quantity('1Gi').isGreaterThan(quantity('1000Mi'))"))
        self.assertTrue(run("quantity('999m').isLessThan(quantity('1'))"))
        self.assertEqual(run("quantity('500m').add(quantity('500m')).asInteger()"), 1)
        self.assertEqual(run("quantity('1').add(2).sub(quantity('500m')).asApproximateFloat()"), 2.5)
        self.assertEqual(run("quantity('2').compareTo(quantity('2000m'))"), 0)
        self.assertEqual(run("quantity('-3').sign()"), -1)
        self.assertEqual((run("quantity('1.5').isInteger()"), run("quantity('2k').isInteger()")), (False, True))
        self.assertEqual((run("isQuantity('1Gi')"), run("isQuantity('1Gb')")), (True, False))
        with self.assertRaises(EvalError) as e:
            run("quantity('1.5').asInteger()")
        self.assertIn("cannot convert value to integer", str(e.exception))
        with self.assertRaises(EvalError):
            run("quantity('lots')")

    def test_used_from_a_policy_view_of_an_object(self) -> None:
        pod = {"spec": {"containers": [{"resources": {"limits": {"memory": "512Mi"}}}, {"image": "a/b:1"}]}}
        self.assertTrue(run("object.spec.containers.all(c, !has(c.resources) || "
                            "quantity(c.resources.limits.memory).isLessThan(quantity('1Gi')))", object=pod))
