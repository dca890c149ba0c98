"""OpenAPI v2 and v3 documents built from the resource Catalog."""

from kubeapi.openapi.builder import (
    OpenAPIDocs,
    build_v2,
    build_v3,
    build_v3_discovery,
    build_v3_index,
    build_v3_path,
    doc_hash,
    serialize,
)
from kubeapi.openapi.gnostic_v2 import PROTOBUF_V2, encode_v2

__all__ = ["OpenAPIDocs", "build_v2", "build_v3", "build_v3_discovery", "build_v3_index", "build_v3_path", "doc_hash",
           "encode_v2", "PROTOBUF_V2", "serialize"]
