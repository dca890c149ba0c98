"""Histograms (and the per-request counters and gauges) observed from the reactor thread only.

prometheus_client's Histogram takes a lock for every bucket it counts, so that threads may
share it; a write observes some fifty of them (each admission plugin's time, the request's,
the storage call's), and the locks were a tenth of a create's time.  Everything that
observes these runs on the reactor thread, as does the scrape that reads them, so the counts
here are plain lists.  The exposition is prometheus_client's own, through
HistogramMetricFamily: the same series, names and bucket labels as its Histogram.  The
counter and gauge every request touches (apiserver_request_total, the in-flight gauge) are
kept the same way, as plain numbers behind Counter/GaugeMetricFamily."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString


class _Child:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value


class ReactorHistogram:
    """The part of prometheus_client.Histogram's interface the server uses: labels().observe()."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], *,
                 buckets: Sequence[float], registry: Any) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(b) for b in buckets if b != float("inf"))
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        self._children: dict[tuple[str, ...], _Child] = {}
        registry.register(self)

    def labels(self, *values: Any) -> _Child:
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            if len(key) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected {len(self.labelnames)} label values")
            child = self._children[key] = _Child(self.bounds)
        return child

    def describe(self) -> list[HistogramMetricFamily]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, child in list(self._children.items()):
            running, buckets = 0, []
            for le, n in zip(self._les, child.counts, strict=True):
                running += n
                buckets.append((le, float(running)))
            family.add_metric(list(key), buckets, child.total)
        yield family


class _Number:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = float(value)


class _ReactorNumbers:
    family: Any = None

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], *, registry: Any) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], _Number] = {}
        registry.register(self)

    def labels(self, *values: Any) -> _Number:
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            if len(key) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected {len(self.labelnames)} label values")
            child = self._children[key] = _Number()
        return child

    def describe(self) -> list[Any]:
        return [self.family(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Any]:
        family = self.family(self.name, self.documentation, labels=self.labelnames)
        for key, child in list(self._children.items()):
            family.add_metric(list(key), child.value)
        yield family


class ReactorCounter(_ReactorNumbers):
    """prometheus_client.Counter's labels().inc(), exposed as it exposes it."""

    family = CounterMetricFamily


class ReactorGauge(_ReactorNumbers):
    """prometheus_client.Gauge's labels().inc()/dec()/set(), exposed as it exposes it."""

    family = GaugeMetricFamily
