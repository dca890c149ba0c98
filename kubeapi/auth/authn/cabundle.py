"""A CA bundle file, re-read when it changes (--client-ca-file, --requestheader-client-ca-file)."""

from __future__ import annotations

import os

from cryptography import x509
from twisted.logger import Logger

log = Logger()


class CABundle:
    """The certificates of one PEM file; ``check_reload`` (called periodically by the
    service) picks up a replaced file, keeping the old bundle if the new one is unusable."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp = self._stat()
        self._certs = self._load()
        if not self._certs:
            raise ValueError(f"{path}: no PEM certificates found")

    def _stat(self) -> tuple[float, int]:
        try:
            st = os.stat(self.path)
            return st.st_mtime, st.st_size
        except OSError:
            return 0.0, -1

    def _load(self) -> list[x509.Certificate]:
        with open(self.path, "rb") as f:
            return x509.load_pem_x509_certificates(f.read())

    def certs(self) -> list[x509.Certificate]:
        return self._certs

    def pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self._certs)

    def check_reload(self) -> bool:
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        try:
            certs = self._load()
        except (OSError, ValueError) as e:
            log.warn("CA bundle {path} changed but does not load ({err}); keeping the previous one",
                     path=self.path, err=e)
            return False
        if not certs:
            return False
        self._certs, self._stamp = certs, stamp
        log.info("Reloaded CA bundle {path}", path=self.path)
        return True
