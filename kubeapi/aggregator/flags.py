"""kube-apiserver's aggregation-layer flags, added to kubeapi.options.Options.

The proxy client certificate is what extension servers verify against the
--requestheader-client-ca-file CA; --enable-aggregator-routing sends requests to an endpoint
address of the APIService's Service instead of its ClusterIP.
"""

from __future__ import annotations

from typing import Any

from kubeapi.flagtypes import boolean as _bool

PARAMETERS: list[list[Any]] = [
    ["proxy-client-cert-file", None, None,
     "Client certificate the aggregator presents to extension API servers (signed by the "
     "--requestheader-client-ca-file CA)."],
    ["proxy-client-key-file", None, None, "Private key of --proxy-client-cert-file."],
    ["enable-aggregator-routing", None, False,
     "Route aggregated requests to an endpoint IP of the APIService's Service rather than its cluster IP.",
     _bool("enable-aggregator-routing")],
    ["aggregator-reject-forwarding-redirect", None, True,
     "Answer an extension server's redirect with 502 instead of forwarding it.",
     _bool("aggregator-reject-forwarding-redirect")],
]
BOOL_FLAGS = ("enable-aggregator-routing", "aggregator-reject-forwarding-redirect")
FILE_FLAGS = ("proxy-client-cert-file", "proxy-client-key-file")


def check(o: Any) -> None:
    """Both halves of the proxy identity or neither, and they must load as a pair (ValueError = one line)."""
    cert, key = o["proxy-client-cert-file"], o["proxy-client-key-file"]
    if bool(cert) != bool(key):
        raise ValueError("--proxy-client-cert-file and --proxy-client-key-file must be given together")
    if cert:
        load_pair(cert, key)


def load_pair(cert_file: str, key_file: str) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM), checked to belong together; startup and reload only."""
    from twisted.internet import ssl

    with open(cert_file, "rb") as f:
        cert = f.read()
    with open(key_file, "rb") as f:
        key = f.read()
    try:
        pair = ssl.PrivateCertificate.loadPEM(cert + b"\n" + key)
        ssl.CertificateOptions(privateKey=pair.privateKey.original, certificate=pair.original)
    except Exception as e:
        raise ValueError(f"--proxy-client-cert-file/--proxy-client-key-file: unable to load the pair "
                         f"({cert_file}, {key_file}): {e}") from None
    return cert, key


class ClientIdentity:
    """The proxy client certificate, re-read when its files change (``check_reload`` is called
    by the service's certificate reloader); an unusable new pair keeps the old one."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self._stamp = self._stat()
        self._pair = load_pair(cert_file, key_file)

    def _stat(self) -> tuple[float, float]:
        import os

        try:
            return os.stat(self.cert_file).st_mtime, os.stat(self.key_file).st_mtime
        except OSError:
            return 0.0, 0.0

    def pair(self) -> tuple[bytes, bytes]:
        return self._pair

    def check_reload(self) -> bool:
        """True when a changed, usable pair was loaded."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self._pair = load_pair(self.cert_file, self.key_file)
        except (OSError, ValueError):
            return False
        return True
