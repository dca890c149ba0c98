"""kubeapi: the Kubernetes API server on Twisted."""
