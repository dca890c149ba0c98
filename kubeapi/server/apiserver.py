"""APIServer: everything a request needs, in one object the Klein app closes over.

(Interface fixed here; implementation to be written.)
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Sequence

from twisted.web.resource import IResource

from kubeapi.admission.interface import AdmissionPlugin
from kubeapi.api.types import Allocators, Catalog
from kubeapi.registry.store import ResourceStore
from kubeapi.storage.interface import Storage

HealthCheck = Callable[[], Awaitable[bool]]


class APIServer:
    def __init__(
        self,
        catalog: Catalog,
        storage: Storage,
        allocators: Allocators,
        *,
        prefix: str = "/registry",
        admission: Sequence[AdmissionPlugin] = (),
        advertise_address: str = "127.0.0.1",
        secure_port: int = 6443,
        authorization_mode: Sequence[str] = ("AlwaysAllow",),
        anonymous_auth: bool = True,
        max_request_body_bytes: int = 3 * 1024 * 1024,
        request_timeout: float = 60.0,
        max_requests_inflight: int = 400,
        max_mutating_requests_inflight: int = 200,
    ) -> None:
        # Attributes other components read: catalog, storage, allocators (HookContext),
        # health_checks (name -> async check) and post_start_hooks (name -> done?).
        self.catalog = catalog
        self.storage = storage
        self.allocators = allocators
        self.health_checks: dict[str, HealthCheck] = {}
        raise NotImplementedError

    def store(self, group: str, version: str, plural: str) -> ResourceStore:
        """The generic store serving that resource (built lazily from the catalog)."""
        raise NotImplementedError

    def add_health_check(self, name: str, check: HealthCheck) -> None:
        """Listed by /healthz, /livez and /readyz as [+]name ok / [-]name failed."""
        raise NotImplementedError

    def add_readyz_check(self, name: str, check: HealthCheck) -> None:
        """Listed by /readyz only (e.g. poststarthook/bootstrap done)."""
        raise NotImplementedError

    def resource(self, *, secure: bool) -> IResource:
        """The twisted.web resource for one listener.  ``secure=False`` is the insecure port:
        every request there is authenticated as INSECURE_ADMIN.  ``secure=True`` authenticates
        from the TLS peer certificate / bearer token, else anonymous."""
        raise NotImplementedError

    def extra(self) -> dict[str, Any]:
        raise NotImplementedError
