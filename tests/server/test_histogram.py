"""The reactor-thread histogram exposes exactly what prometheus_client's Histogram does."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from twisted.trial import unittest

from kubeapi.server import metrics  # noqa: F401  (disables *_created series, as the server does)
from kubeapi.server.histogram import ReactorHistogram


class SameExposition(unittest.TestCase):
    def test_series_buckets_and_sums_match(self) -> None:
        theirs, ours = CollectorRegistry(), CollectorRegistry()
        a = Histogram("x_seconds", "help", ("verb", "code"), buckets=(0.005, 0.1, 1, 2.5), registry=theirs)
        b = ReactorHistogram("x_seconds", "help", ("verb", "code"), buckets=(0.005, 0.1, 1, 2.5), registry=ours)
        for labels, v in [(("GET", 200), 0.001), (("GET", 200), 0.005), (("GET", 200), 0.1000001),
                          (("GET", 200), 7), (("LIST", "404"), 1.0), (("LIST", "404"), 0)]:
            a.labels(*labels).observe(v)
            b.labels(*labels).observe(v)
        self.assertEqual(generate_latest(ours).decode(), generate_latest(theirs).decode())

    def test_label_count_checked(self) -> None:
        h = ReactorHistogram("y", "help", ("a",), buckets=(1,), registry=CollectorRegistry())
        self.assertRaises(ValueError, h.labels, "x", "y")
