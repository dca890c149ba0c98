"""Upstream's admission plugin names mapped to our implementations, and the chain built from the
enabled names in upstream's order (mutating phases of all, then validating phases of all)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi.admission.context import PluginContext

__all__ = ["FACTORIES", "PluginContext", "build"]

Factory = Callable[[PluginContext], Any]


def _namespace_lifecycle(ctx: PluginContext) -> Any:
    from kubeapi.admission.namespace_lifecycle import NamespaceLifecycle
    return NamespaceLifecycle(ctx.storage, ctx.prefix)


def _always_admit(ctx: PluginContext) -> Any:
    from kubeapi.admission.always import AlwaysAdmit
    return AlwaysAdmit()


def _always_deny(ctx: PluginContext) -> Any:
    from kubeapi.admission.always import AlwaysDeny
    return AlwaysDeny()


def _always_pull(ctx: PluginContext) -> Any:
    from kubeapi.admission.alwayspullimages import AlwaysPullImages
    return AlwaysPullImages()


def _toleration_seconds(ctx: PluginContext) -> Any:
    from kubeapi.admission.defaulttolerationseconds import DefaultTolerationSeconds
    conf = ctx.config.get("DefaultTolerationSeconds") or {}
    return DefaultTolerationSeconds(int(conf.get("defaultNotReadyTolerationSeconds", 300)),
                                    int(conf.get("defaultUnreachableTolerationSeconds", 300)))


def _taint_nodes(ctx: PluginContext) -> Any:
    from kubeapi.admission.taintnodesbycondition import TaintNodesByCondition
    return TaintNodesByCondition()


def _priority(ctx: PluginContext) -> Any:
    from kubeapi.admission.priority import Priority
    return Priority(ctx)


def _storage_protection(ctx: PluginContext) -> Any:
    from kubeapi.admission.storageobjectinuseprotection import StorageObjectInUseProtection
    return StorageObjectInUseProtection()


def _default_sc(ctx: PluginContext) -> Any:
    from kubeapi.admission.defaultclass import DefaultStorageClass
    return DefaultStorageClass(ctx)


def _default_ic(ctx: PluginContext) -> Any:
    from kubeapi.admission.defaultclass import DefaultIngressClass
    return DefaultIngressClass(ctx)


def _service_account(ctx: PluginContext) -> Any:
    from kubeapi.admission.serviceaccount import ServiceAccount
    return ServiceAccount(ctx)


def _limit_ranger(ctx: PluginContext) -> Any:
    from kubeapi.admission.limitranger import LimitRanger
    return LimitRanger(ctx)


def _mutating_webhook(ctx: PluginContext) -> Any:
    from kubeapi.admission.webhook import WebhookPlugin
    return WebhookPlugin(ctx, mutating=True)


def _validating_webhook(ctx: PluginContext) -> Any:
    from kubeapi.admission.webhook import WebhookPlugin
    return WebhookPlugin(ctx, mutating=False)


def _runtime_class(ctx: PluginContext) -> Any:
    from kubeapi.admission.runtimeclass import RuntimeClass
    return RuntimeClass(ctx)


def _pvc_resize(ctx: PluginContext) -> Any:
    from kubeapi.admission.pvcresize import PersistentVolumeClaimResize
    return PersistentVolumeClaimResize(ctx)


def _node_restriction(ctx: PluginContext) -> Any:
    from kubeapi.admission.noderestriction import NodeRestriction
    return NodeRestriction(ctx)


def _pod_security(ctx: PluginContext) -> Any:
    from kubeapi.admission.podsecurity import PodSecurity
    return PodSecurity(ctx)


def _cert_approval(ctx: PluginContext) -> Any:
    from kubeapi.admission.certificates import CertificateApproval
    return CertificateApproval()


def _cert_signing(ctx: PluginContext) -> Any:
    from kubeapi.admission.certificates import CertificateSigning
    return CertificateSigning()


def _cert_subject(ctx: PluginContext) -> Any:
    from kubeapi.admission.certificates import CertificateSubjectRestriction
    return CertificateSubjectRestriction()


def _validating_policy(ctx: PluginContext) -> Any:
    from kubeapi.admission.policy import ValidatingAdmissionPolicy
    return ValidatingAdmissionPolicy(ctx)


def _resource_quota(ctx: PluginContext) -> Any:
    from kubeapi.admission.resourcequota import ResourceQuota
    return ResourceQuota(ctx.storage, ctx.prefix, ctx.media_type, clock=ctx.clock, config=ctx.config.get("ResourceQuota"))


FACTORIES: dict[str, Factory] = {
    "AlwaysAdmit": _always_admit,
    "NamespaceLifecycle": _namespace_lifecycle,
    "LimitRanger": _limit_ranger,
    "ServiceAccount": _service_account,
    "NodeRestriction": _node_restriction,
    "TaintNodesByCondition": _taint_nodes,
    "AlwaysPullImages": _always_pull,
    "PodSecurity": _pod_security,
    "Priority": _priority,
    "DefaultTolerationSeconds": _toleration_seconds,
    "DefaultStorageClass": _default_sc,
    "StorageObjectInUseProtection": _storage_protection,
    "PersistentVolumeClaimResize": _pvc_resize,
    "RuntimeClass": _runtime_class,
    "CertificateApproval": _cert_approval,
    "CertificateSigning": _cert_signing,
    "CertificateSubjectRestriction": _cert_subject,
    "DefaultIngressClass": _default_ic,
    "MutatingAdmissionWebhook": _mutating_webhook,
    "ValidatingAdmissionPolicy": _validating_policy,
    "ValidatingAdmissionWebhook": _validating_webhook,
    "ResourceQuota": _resource_quota,
    "AlwaysDeny": _always_deny,
}


def build(names: list[str], ctx: PluginContext) -> tuple[list[Any], list[str]]:
    """(plugins we implement, in the given order; the enabled names we do not)."""
    plugins, skipped = [], []
    for name in names:
        factory = FACTORIES.get(name)
        if factory is None:
            skipped.append(name)
            continue
        plugins.append(factory(ctx))
    return plugins, skipped
