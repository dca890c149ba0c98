"""Certificate admission: subject restriction on real CSRs, approval/signing asking a real
authorizer about the signer."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeapi.admission.plugins import PluginContext, build
from kubeapi.auth.authorizer import AlwaysAllow, AlwaysDeny
from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
from kubeapi.registry.store import ResourceStore
from tests.admission.helpers import CATALOG, AdmissionCase, W, async_test

BOB = WriteOptions(user=UserInfo("bob", groups=("system:authenticated",)))


def csr(name: str, org: str, signer: str = "kubernetes.io/kube-apiserver-client") -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    req = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "bob"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]))
    pem = req.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return {"metadata": {"name": name}, "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                                                 "usages": ["client auth"]}}


class CertificateTests(AdmissionCase):
    def csr_store(self, authorizer: Any) -> ResourceStore:
        plugins, _ = build(["CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction"],
                           PluginContext(self.storage))
        for p in plugins:
            if hasattr(p, "bind_server"):
                p.bind_server(SimpleNamespace(authorizer=authorizer))
        rdef = CATALOG.get("certificates.k8s.io", "v1", "certificatesigningrequests")
        assert rdef is not None
        return ResourceStore(rdef, self.storage, self.ctx, admission=plugins, clock=self.clock)

    @async_test
    async def test_subject_restriction(self) -> None:
        s = self.csr_store(AlwaysAllow())
        with self.assertRaises(StatusError) as cm:
            await s.create("", csr("m", "system:masters"), W)
        self.assertEqual((cm.exception.code, cm.exception.message), (403, (
            'certificatesigningrequests.certificates.k8s.io "m" is forbidden: use of '
            'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed')))
        await s.create("", csr("ok", "devs"), W)

    @async_test
    async def test_approval_needs_the_signer_verb(self) -> None:
        s = self.csr_store(AlwaysDeny())
        await s.create("", csr("c", "devs"), W)
        cur = await s.get("", "c")
        cur["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "ok", "message": "ok"}]}
        with self.assertRaises(StatusError) as cm:
            await s.update("", "c", cur, BOB, subresource="approval")
        self.assertEqual(cm.exception.message, 'certificatesigningrequests.certificates.k8s.io "c" is forbidden: '
                                               'user not permitted to approve requests with signerName '
                                               '"kubernetes.io/kube-apiserver-client"')
        allowed = self.csr_store(AlwaysAllow())
        await allowed.update("", "c", cur, BOB, subresource="approval")
