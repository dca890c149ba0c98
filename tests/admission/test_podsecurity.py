"""PodSecurity through the real stores: namespace labels choose the level; refusals and warnings
carry upstream's texts."""

from __future__ import annotations

from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
from tests.admission.helpers import AdmissionCase, W, async_test, pod

GOOD = {"name": "c", "image": "nginx", "securityContext": {
    "allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"}}}


class PodSecurityTests(AdmissionCase):
    plugins = ("PodSecurity",)

    async def ns(self, s: dict, name: str, **labels: str) -> None:
        await s["namespaces"].create("", {"metadata": {"name": name, "labels": {
            f"pod-security.kubernetes.io/{k}": v for k, v in labels.items()}}}, W)

    @async_test
    async def test_restricted_enforced(self) -> None:
        s = self.stores()
        await self.ns(s, "r", enforce="restricted")
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("r", pod("p", "r"), W)
        self.assertEqual((cm.exception.code, cm.exception.message), (403, (
            'pods "p" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
            '(container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
            '(container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
            'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must '
            'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')))
        await s["pods"].create("r", pod("ok", "r", containers=[GOOD]), W)

    @async_test
    async def test_baseline_and_warn(self) -> None:
        s = self.stores()
        await self.ns(s, "b", enforce="baseline", warn="restricted", **{"warn-version": "v1.34"})
        bad = pod("p", "b", hostNetwork=True, containers=[{"name": "c", "image": "x",
                                                      "securityContext": {"privileged": True}}])
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("b", bad, W)
        self.assertEqual(cm.exception.message, 'pods "p" is forbidden: violates PodSecurity "baseline:latest": '
                                               'host namespaces (hostNetwork=true), privileged (container "c" must '
                                               'not set securityContext.privileged=true)')
        opts = WriteOptions()
        await s["pods"].create("b", pod("w", "b", containers=[{**GOOD, "securityContext": {"runAsNonRoot": True,
                                                          "allowPrivilegeEscalation": False,
                                                          "seccompProfile": {"type": "RuntimeDefault"}}}]), opts)
        self.assertEqual(opts.warnings, ['would violate PodSecurity "restricted:v1.34": unrestricted capabilities '
                                         '(container "c" must set securityContext.capabilities.drop=["ALL"])'])

    @async_test
    async def test_unlabelled_namespace_is_privileged(self) -> None:
        s = self.stores()
        await self.ns(s, "free")
        await s["pods"].create("free", pod("p", "free", hostPID=True), W)
