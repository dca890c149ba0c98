"""CertificateApproval, CertificateSigning and CertificateSubjectRestriction: approving or
signing a CSR needs the ``approve``/``sign`` verb on its signer (``signers`` in
certificates.k8s.io, by name or ``<domain>/*``), and no one may request a
kube-apiserver-client certificate for the system:masters group."""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from kubeapi import errors
from kubeapi.admission.interface import Attributes
from kubeapi.auth.authorizer import Attributes as AuthzAttributes
from kubeapi.auth.authorizer import Decision

GROUP = "certificates.k8s.io"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"


def _is_csr(attrs: Attributes) -> bool:
    return attrs.resource.group == GROUP and attrs.resource.plural == "certificatesigningrequests"


def _signer(obj: Any) -> str:
    return str(((obj or {}).get("spec") or {}).get("signerName") or "")


class _SignerCheck:
    """Shared by approval and signing: asks the server's authorizer about the signer."""

    verb = ""
    subresource = ""
    name = ""

    def __init__(self) -> None:
        self._server: Any = None

    def bind_server(self, server: Any) -> None:
        self._server = server

    async def _allowed(self, attrs: Attributes, signer: str) -> bool:
        if self._server is None or attrs.user is None:
            return True  # no authorizer wired (unit stores): nothing to ask
        names = [signer]
        if "/" in signer:
            names.append(signer.split("/", 1)[0] + "/*")
        for n in names:
            decision, _ = await self._server.authorizer.authorize(AuthzAttributes(
                user=attrs.user, verb=self.verb, is_resource_request=True, api_group=GROUP, api_version="*",
                resource="signers", name=n))
            if decision == Decision.ALLOW:
                return True
        return False

    async def admit(self, attrs: Attributes) -> None:
        return None

    def _changed(self, attrs: Attributes) -> bool:
        return True

    async def validate(self, attrs: Attributes) -> None:
        if not _is_csr(attrs) or attrs.operation != "UPDATE" or attrs.subresource != self.subresource:
            return
        if not self._changed(attrs):
            return
        signer = _signer(attrs.old_object)
        if not await self._allowed(attrs, signer):
            raise errors.forbidden(attrs.resource.plural, GROUP, attrs.name,
                                   f'user not permitted to {self.verb} requests with signerName "{signer}"')


class CertificateApproval(_SignerCheck):
    name = "CertificateApproval"
    verb = "approve"
    subresource = "approval"


class CertificateSigning(_SignerCheck):
    name = "CertificateSigning"
    verb = "sign"
    subresource = "status"

    def _changed(self, attrs: Attributes) -> bool:
        old = (attrs.old_object or {}).get("status") or {}
        new = (attrs.object or {}).get("status") or {}
        return old.get("certificate") != new.get("certificate") or old.get("conditions") != new.get("conditions")


class CertificateSubjectRestriction:
    name = "CertificateSubjectRestriction"

    async def admit(self, attrs: Attributes) -> None:
        return None

    async def validate(self, attrs: Attributes) -> None:
        if not _is_csr(attrs) or attrs.operation != "CREATE" or attrs.subresource:
            return
        obj = attrs.object or {}
        if _signer(obj) != CLIENT_SIGNER:
            return
        name = attrs.name or ((obj.get("metadata") or {}).get("name") or "")
        try:
            csr = x509.load_pem_x509_csr(base64.b64decode((obj.get("spec") or {}).get("request") or ""))
        except Exception as e:
            raise errors.forbidden(attrs.resource.plural, GROUP, name, f"failed to parse CSR: {e}") from None
        orgs = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if "system:masters" in orgs:
            raise errors.forbidden(attrs.resource.plural, GROUP, name,
                                   f"use of {CLIENT_SIGNER} signer with system:masters group is not allowed")
