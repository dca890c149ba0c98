"""NodeRestriction through the real stores with kubelet identities."""

from __future__ import annotations

from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
from tests.admission.helpers import AdmissionCase, W, async_test, pod

N1 = WriteOptions(user=UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated")))


class NodeRestrictionTests(AdmissionCase):
    plugins = ("NodeRestriction",)

    @async_test
    async def test_own_node_and_labels(self) -> None:
        s = self.stores()
        await s["nodes"].create("", {"metadata": {"name": "n1", "labels": {
            "kubernetes.io/hostname": "n1", "node.kubernetes.io/pool": "a", "example.com/x": "y"}}}, N1)
        with self.assertRaises(StatusError) as cm:
            await s["nodes"].create("", {"metadata": {"name": "n2"}}, N1)
        self.assertEqual((cm.exception.code, cm.exception.message),
                         (403, 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'))
        cur = await s["nodes"].get("", "n1")
        cur["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
        cur["metadata"]["labels"]["node-restriction.kubernetes.io/trusted"] = "yes"
        with self.assertRaises(StatusError) as cm:
            await s["nodes"].update("", "n1", cur, N1)
        self.assertEqual(cm.exception.message, 'nodes "n1" is forbidden: node "n1" is not allowed to set the '
                                               'following labels: node-restriction.kubernetes.io/trusted, '
                                               'node-role.kubernetes.io/control-plane')
        await s["nodes"].update("", "n1", cur, W)  # an admin may

    @async_test
    async def test_mirror_pods_only(self) -> None:
        s = self.stores()
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("p", nodeName="n1"), N1)
        self.assertEqual(cm.exception.message, 'pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" '
                                               'annotation, node "n1" can only create mirror pods')
        mirror = pod("m", nodeName="n2")
        mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", mirror, N1)
        self.assertEqual(cm.exception.message, 'pods "m" is forbidden: node "n1" can only create pods with '
                                               'spec.nodeName set to itself')
        mirror["spec"]["nodeName"] = "n1"
        await s["pods"].create("default", mirror, N1)
        # Other kinds are the Node authorizer's business, not this plugin's.
        await s["configmaps"].create("default", {"metadata": {"name": "c"}}, N1)
        await s["pods"].create("default", pod("other", nodeName="n2"), W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("x"), WriteOptions(user=UserInfo("kubelet", groups=("system:nodes",))))
        self.assertEqual(cm.exception.message, 'pods "x" is forbidden: could not determine node from user "kubelet"')
