"""`twistd kubeapi`: the plugin only points at kubeapi.service."""

from twisted.application.service import ServiceMaker

kubeapi = ServiceMaker("kubeapi", "kubeapi.service", "The Kubernetes API server", "kubeapi")
