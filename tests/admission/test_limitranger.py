"""LimitRanger through the real stores: defaults with the annotation, min/max/ratio refusals."""

from __future__ import annotations

from kubeapi.errors import StatusError
from tests.admission.helpers import AdmissionCase, W, async_test, pod

LR = {"metadata": {"name": "lr"}, "spec": {"limits": [
    {"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"},
     "defaultRequest": {"cpu": "250m", "memory": "64Mi"},
     "max": {"cpu": "1"}, "min": {"cpu": "100m"}, "maxLimitRequestRatio": {"cpu": "4"}},
    {"type": "Pod", "max": {"memory": "1Gi"}},
]}}


def res_pod(name: str, **res: dict[str, str]) -> dict:
    return pod(name, containers=[{"name": "c", "image": "nginx", "resources": res}])


class LimitRangerTests(AdmissionCase):
    plugins = ("LimitRanger",)

    @async_test
    async def test_defaults_and_annotation(self) -> None:
        s = self.stores()
        await s["limitranges"].create("default", LR, W)
        out = await s["pods"].create("default", pod("p"), W)
        self.assertEqual(out["spec"]["containers"][0]["resources"], {
            "limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}})
        self.assertEqual(out["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
                         "LimitRanger plugin set: cpu, memory request for container c; "
                         "cpu, memory limit for container c")

    @async_test
    async def test_min_max_ratio(self) -> None:
        s = self.stores()
        await s["limitranges"].create("default", LR, W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", res_pod("big", limits={"cpu": "2"}, requests={"cpu": "1"}), W)
        self.assertEqual((cm.exception.code, cm.exception.message),
                         (403, 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'))
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", res_pod("small", requests={"cpu": "50m"}, limits={"cpu": "100m"}), W)
        self.assertEqual(cm.exception.message,
                         'pods "small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m')
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", res_pod("ratio", requests={"cpu": "100m"}, limits={"cpu": "1"}), W)
        self.assertEqual(cm.exception.message, 'pods "ratio" is forbidden: cpu max limit to request ratio per '
                                               'Container is 4, but provided ratio is 10.000000')
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", res_pod("mem", requests={"memory": "2Gi"}, limits={"memory": "2Gi"}), W)
        self.assertEqual(cm.exception.message, 'pods "mem" is forbidden: maximum memory usage per Pod is 1Gi, '
                                               'but limit is 2Gi')
