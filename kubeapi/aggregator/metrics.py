"""Upstream's aggregator availability gauge on the server's own registry:
``aggregator_unavailable_apiservice{name}``, 1 while the APIService is not Available.

(Upstream's ``aggregator_unavailable_apiservice_total`` counter is left out: the Python
client cannot expose a counter whose family name is already the gauge's.)"""

from __future__ import annotations

from typing import Any

from prometheus_client import Gauge


class AvailabilityMetrics:
    def __init__(self, registry: Any) -> None:
        self.gauge = Gauge("aggregator_unavailable_apiservice",
                           "Gauge of APIServices which are marked as unavailable broken down by APIService name.",
                           ("name",), registry=registry)

    def observe(self, name: str, status: str) -> None:
        self.gauge.labels(name).set(0 if status == "True" else 1)

    def forget(self, name: str) -> None:
        try:
            self.gauge.remove(name)
        except KeyError:
            pass
