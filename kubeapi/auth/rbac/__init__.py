"""RBAC: rule matching, the binding index kept by watches, the authorizer, escalation checks,
ClusterRole aggregation and the bootstrap policy."""
