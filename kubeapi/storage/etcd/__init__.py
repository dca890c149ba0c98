"""The etcd v3 backend: our own gRPC-over-HTTP/2 client and the Storage built on it."""

from kubeapi.storage.etcd.backend import EtcdStorage
from kubeapi.storage.etcd.client import EtcdClient
from kubeapi.storage.etcd.compactor import PeriodicCompactor

__all__ = ["EtcdClient", "EtcdStorage", "PeriodicCompactor"]
