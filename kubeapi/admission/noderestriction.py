"""NodeRestriction: a kubelet (user system:node:<name> in group system:nodes) may change only
its own Node (without self-assigning restricted labels) and only pods bound to it: mirror pods
it creates or deletes, and their status."""

from __future__ import annotations

from typing import Any

from kubeapi import errors
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import display_name, is_core

MIRROR = "kubernetes.io/config.mirror"
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type", "kubernetes.io/os",
    "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch"})
KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
RESTRICTED_NAMESPACE = "node-restriction.kubernetes.io"


def _ns(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _under(ns: str, domain: str) -> bool:
    return ns == domain or ns.endswith("." + domain)


def forbidden_labels(new: dict[str, str], old: dict[str, str]) -> list[str]:
    out = []
    for k, v in new.items():
        if k in old and old[k] == v:
            continue
        ns = _ns(k)
        if _under(ns, RESTRICTED_NAMESPACE):
            out.append(k)
        elif (_under(ns, "kubernetes.io") or _under(ns, "k8s.io")) and k not in KUBELET_LABELS and \
                not any(_under(ns, a) for a in KUBELET_NAMESPACES):
            out.append(k)
    return sorted(out)


class NodeRestriction:
    name = "NodeRestriction"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    def _refuse(self, attrs: Attributes, why: str) -> errors.StatusError:
        return errors.forbidden(attrs.resource.plural, attrs.resource.group, display_name(attrs), why)

    async def admit(self, attrs: Attributes) -> None:
        user = attrs.user
        if user is None or "system:nodes" not in user.groups:
            return
        node = user.name[len("system:node:"):] if user.name.startswith("system:node:") else ""
        pods, nodes = is_core(attrs, "pods"), is_core(attrs, "nodes")
        if not (pods or nodes):
            return
        if not node:
            raise self._refuse(attrs, f'could not determine node from user "{user.name}"')
        if nodes:
            await self._node(node, attrs)
        elif attrs.subresource == "":
            await self._pod(node, attrs)
        elif attrs.subresource == "status":
            old = attrs.old_object or {}
            if (old.get("spec") or {}).get("nodeName") != node:
                raise self._refuse(attrs, f'node "{node}" can only update pod status for pods with spec.nodeName '
                                          "set to itself")
            new_labels = ((attrs.object or {}).get("metadata") or {}).get("labels") or {}
            if new_labels != ((old.get("metadata") or {}).get("labels") or {}):
                raise self._refuse(attrs, f'node "{node}" cannot update labels through pod status')
        elif attrs.subresource == "eviction":
            cur = await self._ctx.get("pods", attrs.namespace, attrs.name)
            if cur is None or (cur.get("spec") or {}).get("nodeName") != node:
                raise self._refuse(attrs, f"node {node} can only evict pods with spec.nodeName set to itself")
        else:
            raise self._refuse(attrs, f"unexpected pod subresource \"{attrs.subresource}\", only 'status' and "
                                      "'eviction' are allowed")

    async def _node(self, node: str, attrs: Attributes) -> None:
        if attrs.name != node:
            raise self._refuse(attrs, f'node "{node}" is not allowed to modify node "{attrs.name}"')
        if attrs.operation not in ("CREATE", "UPDATE") or not isinstance(attrs.object, dict):
            return
        new = (attrs.object.get("metadata") or {}).get("labels") or {}
        old = ((attrs.old_object or {}).get("metadata") or {}).get("labels") or {} if attrs.operation == "UPDATE" else {}
        bad = forbidden_labels(new, old)
        if bad:
            raise self._refuse(attrs, f'node "{node}" is not allowed to set the following labels: {", ".join(bad)}')

    async def _pod(self, node: str, attrs: Attributes) -> None:
        if attrs.operation == "DELETE":
            cur: Any = await self._ctx.get("pods", attrs.namespace, attrs.name)
            if cur is not None and (cur.get("spec") or {}).get("nodeName") != node:
                raise self._refuse(attrs, f'node "{node}" can only delete pods with spec.nodeName set to itself')
            return
        if attrs.operation != "CREATE":
            raise self._refuse(attrs, f'unexpected operation "{attrs.operation}", node "{node}" can only create '
                                      "and delete mirror pods")
        pod = attrs.object or {}
        meta = pod.get("metadata") or {}
        if MIRROR not in (meta.get("annotations") or {}):
            raise self._refuse(attrs, f'pod does not have "{MIRROR}" annotation, node "{node}" can only create '
                                      "mirror pods")
        if (pod.get("spec") or {}).get("nodeName") != node:
            raise self._refuse(attrs, f'node "{node}" can only create pods with spec.nodeName set to itself')
        owners = meta.get("ownerReferences") or []
        if len(owners) > 1:
            raise self._refuse(attrs, f'node "{node}" can only create pods with a single owner reference set to '
                                      "itself")
        if owners:
            o = owners[0]
            if o.get("apiVersion") != "v1" or o.get("kind") != "Node" or o.get("name") != node:
                raise self._refuse(attrs, f'node "{node}" can only create pods with an owner reference set to itself')
            if not o.get("controller"):
                raise self._refuse(attrs, f'node "{node}" can only create pods with a controller owner reference '
                                          "set to itself")
            if o.get("blockOwnerDeletion"):
                raise self._refuse(attrs, f'node "{node}" must not set blockOwnerDeletion on an owner reference')

    async def validate(self, attrs: Attributes) -> None:
        return None
