"""scripts/gen_k8s_proto_tables.py: .proto facts joined with Go struct tags."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from twisted.trial import unittest

_SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "gen_k8s_proto_tables.py")

PROTO = """
syntax = "proto2";
package k8s.io.api.demo.v1;
// a comment with a ; and an optional word
message Widget {
  // metadata
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional int32 replicas = 2;
  map<string, string> labels = 3;
  repeated Part parts = 4;
  optional Source source = 5;
}
"""

GO = """package v1

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Widget is a demo.
type Widget struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	Labels map[string]string `json:"labels,omitempty" protobuf:"bytes,3,rep,name=labels"`
	Replicas *int32 `json:"replicaCount" protobuf:"varint,2,opt,name=replicas"`
	Source `json:",inline" protobuf:"bytes,5,opt,name=source"`
	Parts []Part `json:"parts" protobuf:"bytes,4,rep,name=parts"`
}
"""


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_k8s_proto_tables", _SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, mod)
    spec.loader.exec_module(mod)
    return mod


class GeneratorTests(unittest.TestCase):
    def test_fields_follow_go_order_with_json_names_and_flags(self) -> None:
        gen = _load()
        pkg, messages = gen.parse_proto(PROTO)
        self.assertEqual(pkg, "k8s.io.api.demo.v1")
        d = self.mktemp()
        os.makedirs(d)
        with open(os.path.join(d, "types.go"), "w") as fh:
            fh.write(GO)
        structs, _, _ = gen.parse_go_package(d)
        self.assertTrue(structs["Widget"].is_object)
        fields = gen.build_fields(pkg, messages[0], structs["Widget"])
        self.assertEqual(fields, [
            (1, "metadata", "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", gen.OMITEMPTY),
            (3, "labels", "string", gen.MAP | gen.OMITEMPTY),
            (2, "replicaCount", "int32", gen.POINTER),
            (5, "source", "k8s.io.api.demo.v1.Source", gen.INLINE),
            (4, "parts", "k8s.io.api.demo.v1.Part", gen.REPEATED),
        ])
