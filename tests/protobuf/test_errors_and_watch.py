"""Malformed bodies, unknown kinds, and the framing of protobuf watch streams."""

from __future__ import annotations

import struct

from twisted.trial import unittest

from kubeapi import protobuf
from kubeapi.protobuf.wire import field_bytes, field_varint

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "resourceVersion": "7"},
      "data": {"a": "b"}}


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    tm = field_bytes(1, api_version.encode()) + field_bytes(2, kind.encode())
    return b"k8s\x00" + field_bytes(1, tm) + field_bytes(2, raw)


class MalformedTests(unittest.TestCase):
    def test_missing_magic(self) -> None:
        with self.assertRaises(protobuf.ProtobufDecodeError):
            protobuf.decode(b'{"kind":"ConfigMap"}')

    def test_truncated_body(self) -> None:
        body = protobuf.encode(CM)
        for cut in (5, 10, len(body) - 3):
            with self.assertRaises(ValueError):
                protobuf.decode(body[:cut])

    def test_wrong_wire_type(self) -> None:
        # ObjectMeta.name (field 1) sent as a varint
        body = _envelope("v1", "ConfigMap", field_bytes(1, field_varint(1, 5)))
        with self.assertRaises(protobuf.ProtobufDecodeError):
            protobuf.decode(body)

    def test_missing_kind(self) -> None:
        with self.assertRaises(protobuf.ProtobufDecodeError):
            protobuf.decode(_envelope("v1", "", b""))

    def test_unknown_fields_are_skipped(self) -> None:
        raw = field_bytes(1, field_bytes(1, b"x") + field_bytes(99, b"future")) + field_varint(50, 1)
        got = protobuf.decode(_envelope("v1", "ConfigMap", raw))
        self.assertEqual(got["metadata"], {"name": "x"})  # v1.34: creationTimestamp is omitzero


class UnsupportedKindTests(unittest.TestCase):
    def test_custom_resource_kind(self) -> None:
        with self.assertRaises(protobuf.UnsupportedKind) as cm:
            protobuf.decode(_envelope("example.com/v1", "Foo", b""))
        self.assertEqual((cm.exception.api_version, cm.exception.kind), ("example.com/v1", "Foo"))
        with self.assertRaises(protobuf.UnsupportedKind):
            protobuf.encode({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"}})
        self.assertFalse(protobuf.supports("example.com/v1", "Foo"))

    def test_kind_in_wrong_group(self) -> None:
        self.assertFalse(protobuf.supports("v1", "Deployment"))
        self.assertTrue(protobuf.supports("apps/v1", "Deployment"))

    def test_meta_kinds_in_any_group(self) -> None:
        for gv in ("v1", "apps/v1", "meta.k8s.io/v1"):
            self.assertTrue(protobuf.supports(gv, "DeleteOptions"), gv)
            self.assertTrue(protobuf.supports(gv, "Status"), gv)

    def test_served_kinds_are_covered(self) -> None:
        wanted = [("v1", k) for k in ("Namespace", "Pod", "Service", "Endpoints", "ConfigMap", "Secret",
                                      "ServiceAccount", "Event", "Node", "ReplicationController",
                                      "PersistentVolume", "PersistentVolumeClaim", "LimitRange",
                                      "ResourceQuota", "PodTemplate", "Binding")]
        wanted += [("apps/v1", k) for k in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet",
                                            "ControllerRevision")]
        wanted += [("batch/v1", "Job"), ("batch/v1", "CronJob"), ("coordination.k8s.io/v1", "Lease"),
                   ("discovery.k8s.io/v1", "EndpointSlice"), ("events.k8s.io/v1", "Event"),
                   ("autoscaling/v1", "Scale"), ("policy/v1", "Eviction"),
                   ("meta.k8s.io/v1", "WatchEvent"), ("meta.k8s.io/v1", "PartialObjectMetadataList")]
        for gv, kind in wanted:
            self.assertTrue(protobuf.supports(gv, kind), f"{gv} {kind}")
            if kind not in ("Binding", "Scale", "Eviction", "WatchEvent") and not kind.endswith("List"):
                self.assertTrue(protobuf.supports(gv, kind + "List"), f"{gv} {kind}List")

    def test_bad_field_type_on_encode(self) -> None:
        with self.assertRaises(protobuf.EncodeError):
            protobuf.encode({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 5}})
        with self.assertRaises(ValueError):
            protobuf.encode({"apiVersion": "v1", "kind": "Secret", "data": {"a": "not base64!"}})


class WatchFramingTests(unittest.TestCase):
    def test_frame_layout(self) -> None:
        frame = protobuf.encode_watch_event("ADDED", CM)
        (n,) = struct.unpack(">I", frame[:4])
        self.assertEqual(n, len(frame) - 4)
        msg = frame[4:]
        # WatchEvent{type=1, object=2{raw=1}}; the frame itself has no k8s\0 prefix
        self.assertEqual(msg[:2], b"\n\x05")
        self.assertEqual(msg[2:7], b"ADDED")
        self.assertEqual(msg[7:8], b"\x12")
        self.assertIn(protobuf.encode(CM), msg)

    def test_stream_of_events(self) -> None:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": "too old resource version: 1 (5)", "reason": "Expired", "code": 410}
        bookmark = {"kind": "ConfigMap", "apiVersion": "v1",
                    "metadata": {"resourceVersion": "9", "annotations": {"k8s.io/initial-events-end": "true"}}}
        stream = (protobuf.encode_watch_event("ADDED", CM) + protobuf.encode_watch_event("BOOKMARK", bookmark)
                  + protobuf.encode_watch_event("ERROR", status))
        events = list(protobuf.iter_watch_frames(stream))
        self.assertEqual([t for t, _ in events], ["ADDED", "BOOKMARK", "ERROR"])
        self.assertEqual(events[0][1]["data"], {"a": "b"})
        self.assertEqual(events[0][1]["metadata"]["resourceVersion"], "7")
        self.assertEqual(events[1][1]["metadata"]["annotations"], {"k8s.io/initial-events-end": "true"})
        self.assertEqual(events[2][1], status)

    def test_truncated_stream(self) -> None:
        frame = protobuf.encode_watch_event("ADDED", CM)
        with self.assertRaises(protobuf.ProtobufDecodeError):
            list(protobuf.iter_watch_frames(frame[:-1]))
