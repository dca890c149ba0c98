"""authentication.k8s.io / authorization.k8s.io review kinds: create-only, never stored.

Their answers come from the authenticator/authorizer (separate handlers); here they are catalog
entries so discovery, OpenAPI and kubectl see them with upstream's verbs.  A create that reaches
the generic store is refused with a Status (``ResourceDef.virtual``)."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.types import ResourceDef

AUTHN = "authentication.k8s.io"
AUTHZ = "authorization.k8s.io"

RESOURCES: list[ResourceDef] = [
    facts.resource(AUTHN, "v1", "selfsubjectreviews", virtual=True),
    facts.resource(AUTHN, "v1", "tokenreviews", virtual=True),
    facts.resource(AUTHZ, "v1", "localsubjectaccessreviews", virtual=True),
    facts.resource(AUTHZ, "v1", "selfsubjectaccessreviews", virtual=True),
    facts.resource(AUTHZ, "v1", "selfsubjectrulesreviews", virtual=True),
    facts.resource(AUTHZ, "v1", "subjectaccessreviews", virtual=True),
]
