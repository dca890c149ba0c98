"""The Node authorizer (``--authorization-mode=Node``): what a kubelet may touch.

A kubelet is ``system:node:<name>`` in group ``system:nodes``.  It may read the secrets,
configmaps, PVCs, service accounts (and create their tokens) and resource claims that pods
bound to its node reference, the PVs bound to those PVCs (and the secrets those PVs name), the
volume attachments for its node; write its own Lease in ``kube-node-lease`` and CSINode; read
its own Node, list/watch pods with ``spec.nodeName=<name>``; everything else falls back to the
``system:node`` ClusterRole rules.  The graph is kept from watches on pods, PVs and volume
attachments, never read per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeapi.auth.authorizer import AUTHORIZER_FACTORIES, Attributes, Decision
from kubeapi.auth.informer import Informer
from kubeapi.auth.rbac import bootstrap_data
from kubeapi.auth.rbac.rules import rules_allow
from kubeapi.auth.user import UserInfo
from kubeapi.storage.interface import Storage

Obj = dict[str, Any]
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
Ref = tuple[str, str, str]  # (type, namespace, name)


def node_identity(user: UserInfo) -> tuple[str, bool]:
    """(node name, is a node) — upstream's default NodeIdentifier."""
    if not user.name.startswith(NODE_PREFIX) or NODES_GROUP not in user.groups:
        return "", False
    return user.name[len(NODE_PREFIX):], True


def _node_rules() -> list[Obj]:
    for role in bootstrap_data.CLUSTER_ROLES:
        if role["metadata"]["name"] == "system:node":
            return list(role["rules"])
    return []


def pod_references(pod: Obj) -> Iterator[Ref]:
    """Everything a pod gives its node access to."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ns, pod_name = meta.get("namespace", ""), meta.get("name", "")
    if spec.get("serviceAccountName"):
        yield ("serviceaccount", ns, spec["serviceAccountName"])
    for s in spec.get("imagePullSecrets") or []:
        if s.get("name"):
            yield ("secret", ns, s["name"])
    containers = (list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
                  + list(spec.get("ephemeralContainers") or []))
    for c in containers:
        for env_from in c.get("envFrom") or []:
            if (env_from.get("secretRef") or {}).get("name"):
                yield ("secret", ns, env_from["secretRef"]["name"])
            if (env_from.get("configMapRef") or {}).get("name"):
                yield ("configmap", ns, env_from["configMapRef"]["name"])
        for env in c.get("env") or []:
            vf = env.get("valueFrom") or {}
            if (vf.get("secretKeyRef") or {}).get("name"):
                yield ("secret", ns, vf["secretKeyRef"]["name"])
            if (vf.get("configMapKeyRef") or {}).get("name"):
                yield ("configmap", ns, vf["configMapKeyRef"]["name"])
    for v in spec.get("volumes") or []:
        yield from _volume_refs(v, ns, pod_name)
    statuses = {s.get("name"): s.get("resourceClaimName")
                for s in (pod.get("status") or {}).get("resourceClaimStatuses") or []}
    for claim in spec.get("resourceClaims") or []:
        name = claim.get("resourceClaimName") or statuses.get(claim.get("name"))
        if name:
            yield ("resourceclaim", ns, name)
    ext = ((pod.get("status") or {}).get("extendedResourceClaimStatus") or {}).get("resourceClaimName")
    if ext:
        yield ("resourceclaim", ns, ext)


def _secret_ref(obj: Obj | None, key: str = "secretRef") -> str:
    return str(((obj or {}).get(key) or {}).get("name") or "")


def _volume_refs(v: Obj, ns: str, pod_name: str) -> Iterator[Ref]:
    if (v.get("secret") or {}).get("secretName"):
        yield ("secret", ns, v["secret"]["secretName"])
    if (v.get("configMap") or {}).get("name"):
        yield ("configmap", ns, v["configMap"]["name"])
    for src in (v.get("projected") or {}).get("sources") or []:
        if (src.get("secret") or {}).get("name"):
            yield ("secret", ns, src["secret"]["name"])
        if (src.get("configMap") or {}).get("name"):
            yield ("configmap", ns, src["configMap"]["name"])
    if (v.get("persistentVolumeClaim") or {}).get("claimName"):
        yield ("pvc", ns, v["persistentVolumeClaim"]["claimName"])
    if v.get("ephemeral") is not None:
        yield ("pvc", ns, f"{pod_name}-{v.get('name', '')}")
    for kind in ("azureFile",):
        if (v.get(kind) or {}).get("secretName"):
            yield ("secret", ns, v[kind]["secretName"])
    for kind in ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "storageos", "iscsi"):
        name = _secret_ref(v.get(kind))
        if name:
            yield ("secret", ns, name)
    name = _secret_ref(v.get("csi"), "nodePublishSecretRef")
    if name:
        yield ("secret", ns, name)


def pv_secrets(pv: Obj) -> Iterator[tuple[str, str]]:
    """(namespace, name) of secrets a PV names that the kubelet uses."""
    spec = pv.get("spec") or {}
    claim_ns = (spec.get("claimRef") or {}).get("namespace", "")
    csi = spec.get("csi") or {}
    for key in ("nodePublishSecretRef", "nodeStageSecretRef", "nodeExpandSecretRef"):
        ref = csi.get(key) or {}
        if ref.get("name"):
            yield ref.get("namespace", ""), ref["name"]
    for kind in ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "storageos", "iscsi", "azureFile"):
        src = spec.get(kind) or {}
        ref = src.get("secretRef") or {}
        if ref.get("name"):
            yield ref.get("namespace") or claim_ns, ref["name"]
        if kind == "azureFile" and src.get("secretName"):
            yield src.get("secretNamespace") or claim_ns, src["secretName"]


class NodeGraph:
    """Which nodes may reach which objects, from watches on pods, PVs and volume attachments."""

    def __init__(self, storage: Storage, prefix: str, reactor: Any) -> None:
        p = prefix.rstrip("/")
        self.pods: dict[tuple[str, str], tuple[str, list[Ref]]] = {}  # (ns, name) -> (node, refs)
        self.refs: dict[Ref, dict[str, int]] = {}  # object -> {node: number of its pods using it}
        self.pvs: dict[str, tuple[tuple[str, str] | None, list[tuple[str, str]]]] = {}
        self.pv_secret_index: dict[tuple[str, str], set[str]] = {}  # secret -> pv names
        self.attachments: dict[str, str] = {}  # volumeattachment name -> node
        self.informers = [
            Informer(storage, f"{p}/pods/", self._put_pod, self._del_pod, reactor),
            Informer(storage, f"{p}/persistentvolumes/", self._put_pv, self._del_pv, reactor),
            Informer(storage, f"{p}/volumeattachments/", self._put_va, self._del_va, reactor),
        ]

    async def start(self) -> None:
        for i in self.informers:
            await i.start()

    def stop(self) -> None:
        for i in self.informers:
            i.stop()

    # -- updates -------------------------------------------------------------------------------

    def _put_pod(self, key: str, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        pk = (meta.get("namespace", ""), meta.get("name", ""))
        self._drop_pod(pk)
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            return
        refs: list[Ref] = []
        if MIRROR_ANNOTATION not in (meta.get("annotations") or {}):
            refs = list(dict.fromkeys(pod_references(pod)))
        self.pods[pk] = (node, refs)
        for r in refs:
            counts = self.refs.setdefault(r, {})
            counts[node] = counts.get(node, 0) + 1

    def _del_pod(self, key: str, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        self._drop_pod((meta.get("namespace", ""), meta.get("name", "")))

    def _drop_pod(self, pk: tuple[str, str]) -> None:
        old = self.pods.pop(pk, None)
        if old is None:
            return
        node, refs = old
        for r in refs:
            counts = self.refs.get(r)
            if counts is None:
                continue
            counts[node] = counts.get(node, 0) - 1
            if counts[node] <= 0:
                del counts[node]
            if not counts:
                del self.refs[r]

    def _put_pv(self, key: str, pv: Obj) -> None:
        name = (pv.get("metadata") or {}).get("name", "")
        self._del_pv(key, pv)
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        claim = (ref.get("namespace", ""), ref["name"]) if ref.get("name") else None
        secrets = list(pv_secrets(pv)) if claim else []
        self.pvs[name] = (claim, secrets)
        for s in secrets:
            self.pv_secret_index.setdefault(s, set()).add(name)

    def _del_pv(self, key: str, pv: Obj) -> None:
        name = (pv.get("metadata") or {}).get("name", "")
        old = self.pvs.pop(name, None)
        if old is not None:
            for s in old[1]:
                names = self.pv_secret_index.get(s)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del self.pv_secret_index[s]

    def _put_va(self, key: str, va: Obj) -> None:
        self.attachments[(va.get("metadata") or {}).get("name", "")] = \
            str((va.get("spec") or {}).get("nodeName") or "")

    def _del_va(self, key: str, va: Obj) -> None:
        self.attachments.pop((va.get("metadata") or {}).get("name", ""), None)

    # -- queries -------------------------------------------------------------------------------

    def has_path(self, node: str, kind: str, namespace: str, name: str) -> bool:
        if kind == "pod":
            entry = self.pods.get((namespace, name))
            return entry is not None and entry[0] == node
        if kind == "pv":
            pv = self.pvs.get(name)
            claim = pv[0] if pv else None
            return claim is not None and self.has_path(node, "pvc", claim[0], claim[1])
        if kind == "volumeattachment":
            return self.attachments.get(name) == node
        if node in self.refs.get((kind, namespace, name), {}):
            return True
        if kind == "secret":
            return any(self.has_path(node, "pv", "", pv)
                       for pv in self.pv_secret_index.get((namespace, name), ()))
        return False


def _field_equals(selector: str, field: str, value: str) -> bool:
    for term in selector.split(","):
        for op in ("==", "="):
            if op in term and "!=" not in term:
                k, _, v = term.partition(op)
                if k.strip() == field and v.strip() == value:
                    return True
                break
    return False


NO_OPINION = Decision.NO_OPINION


class NodeAuthorizer:
    def __init__(self, graph: NodeGraph) -> None:
        self.graph = graph
        self.node_rules = _node_rules()

    async def authorize(self, a: Attributes) -> tuple[Decision, str]:
        return self.decide(a)

    def decide(self, a: Attributes) -> tuple[Decision, str]:
        node, is_node = node_identity(a.user)
        if not is_node:
            return NO_OPINION, ""
        if not node:
            return NO_OPINION, f'unknown node for user "{a.user.name}"'
        if a.is_resource_request:
            res = (a.api_group, a.resource)
            if res == ("", "secrets"):
                return self._read_namespaced(node, "secret", a)
            if res == ("", "configmaps"):
                return self._read_namespaced(node, "configmap", a)
            if res == ("", "persistentvolumeclaims"):
                if a.subresource == "status":
                    if a.verb not in ("update", "patch"):
                        return NO_OPINION, "can only get/update/patch this type"
                    return self._related(node, "pvc", a)
                return self._get(node, "pvc", a)
            if res == ("", "persistentvolumes"):
                return self._get(node, "pv", a)
            if res == ("resource.k8s.io", "resourceclaims"):
                return self._get(node, "resourceclaim", a)
            if res == ("storage.k8s.io", "volumeattachments"):
                return self._get(node, "volumeattachment", a)
            if res == ("", "serviceaccounts"):
                return self._service_account(node, a)
            if res == ("coordination.k8s.io", "leases"):
                return self._lease(node, a)
            if res == ("storage.k8s.io", "csinodes"):
                return self._csinode(node, a)
            if res == ("", "nodes"):
                return self._node(node, a)
            if res == ("", "pods"):
                return self._pod(node, a)
        if rules_allow(a, self.node_rules):
            return Decision.ALLOW, ""
        return NO_OPINION, ""

    def rules_unsupported(self, user: UserInfo) -> str:
        """Rules reviews: a node's permissions cannot be listed (upstream says so as an error)."""
        return "node authorizer does not support user rule resolution" if node_identity(user)[1] else ""

    def _related(self, node: str, kind: str, a: Attributes) -> tuple[Decision, str]:
        if not a.name:
            return NO_OPINION, "No Object name found"
        if self.graph.has_path(node, kind, a.namespace, a.name):
            return Decision.ALLOW, ""
        return NO_OPINION, f"no relationship found between node '{node}' and this object"

    def _get(self, node: str, kind: str, a: Attributes) -> tuple[Decision, str]:
        if a.verb != "get":
            return NO_OPINION, "can only get individual resources of this type"
        if a.subresource:
            return NO_OPINION, "cannot get subresource"
        return self._related(node, kind, a)

    def _read_namespaced(self, node: str, kind: str, a: Attributes) -> tuple[Decision, str]:
        if a.verb not in ("get", "list", "watch"):
            return NO_OPINION, "can only read resources of this type"
        if a.subresource:
            return NO_OPINION, "cannot read subresource"
        if not a.namespace:
            return NO_OPINION, "can only read namespaced object of this type"
        return self._related(node, kind, a)

    def _service_account(self, node: str, a: Attributes) -> tuple[Decision, str]:
        if a.verb == "get" and not a.subresource:
            return self._read_namespaced(node, "serviceaccount", a)
        if a.verb != "create" or not a.name:
            return NO_OPINION, "can only create tokens for individual service accounts"
        if a.subresource != "token":
            return NO_OPINION, "can only create token subresource of serviceaccount"
        return self._related(node, "serviceaccount", a)

    def _lease(self, node: str, a: Attributes) -> tuple[Decision, str]:
        if a.verb not in ("get", "create", "update", "patch", "delete"):
            return NO_OPINION, "can only get, create, update, patch, or delete a node lease"
        if a.namespace != "kube-node-lease":
            return NO_OPINION, 'can only access leases in the "kube-node-lease" system namespace'
        if a.verb != "create" and a.name != node:
            return NO_OPINION, "can only access node lease with the same name as the requesting node"
        return Decision.ALLOW, ""

    def _csinode(self, node: str, a: Attributes) -> tuple[Decision, str]:
        if a.verb not in ("get", "create", "update", "patch", "delete"):
            return NO_OPINION, "can only get, create, update, patch, or delete a CSINode"
        if a.subresource:
            return NO_OPINION, "cannot authorize CSINode subresources"
        if a.verb != "create" and a.name != node:
            return NO_OPINION, "can only access CSINode with the same name as the requesting node"
        return Decision.ALLOW, ""

    def _node(self, node: str, a: Attributes) -> tuple[Decision, str]:
        if not a.subresource:
            if a.verb in ("create", "update", "patch"):
                return Decision.ALLOW, ""
            if a.verb in ("get", "list", "watch"):
                if a.name == node:
                    return Decision.ALLOW, ""
                if not a.name:
                    return NO_OPINION, f"node '{node}' cannot read all nodes, only its own Node object"
                return NO_OPINION, f"node '{node}' cannot read '{a.name}', only its own Node object"
        elif a.subresource == "status" and a.verb in ("update", "patch"):
            return Decision.ALLOW, ""
        return NO_OPINION, ""

    def _pod(self, node: str, a: Attributes) -> tuple[Decision, str]:
        if not a.subresource:
            if a.verb == "get":
                return self._get(node, "pod", a)
            if a.verb in ("list", "watch"):
                if _field_equals(a.field_selector, "spec.nodeName", node):
                    return Decision.ALLOW, ""
                if a.name:
                    return self._related(node, "pod", a)
                return NO_OPINION, "can only list/watch pods with spec.nodeName field selector"
            if a.verb in ("create", "delete"):
                return Decision.ALLOW, ""
        elif a.subresource == "status" and a.verb in ("update", "patch"):
            return Decision.ALLOW, ""
        elif a.subresource == "eviction" and a.verb == "create":
            return Decision.ALLOW, ""
        return NO_OPINION, ""


def _node_factory(server: Any) -> NodeAuthorizer:
    graph = NodeGraph(server.storage, server.prefix, server.clock)
    server.add_lifecycle("node-authorizer", graph.start, graph.stop)
    return NodeAuthorizer(graph)


AUTHORIZER_FACTORIES["Node"] = _node_factory

