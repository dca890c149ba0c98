"""`twistd` for the authorization e2e tests: registers the RBAC kinds from tests/auth/rbac_kinds.py
when the catalog does not ship them yet (test-only), then runs twistd as the harness does."""

from __future__ import annotations

import types

import kubeapi.api as api
from tests.auth.rbac_kinds import GROUP, LOCAL_RBAC


def main() -> None:
    if not any(r.group == GROUP for r in api.builtin_resources()):
        api.GROUP_MODULES = api.GROUP_MODULES + (types.SimpleNamespace(RESOURCES=LOCAL_RBAC),)  # type: ignore[assignment]
    from twisted.scripts.twistd import run

    run()


if __name__ == "__main__":
    main()
