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

__all__ = ["OpenAPIDocs", "build_v2", "build_v3", "build_v3_discovery", "build_v3_index", "build_v3_path", "doc_hash",
           "serialize"]
