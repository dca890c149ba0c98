"""The Kubernetes protobuf wire format (application/vnd.kubernetes.protobuf) for built-in kinds.

decode(body) turns an enveloped body into the dict the same object would be as JSON; encode(obj)
is the inverse. Schemas come from the generated tables in kubeapi/protobuf/tables/.
"""

from kubeapi.protobuf.encode import EncodeError
from kubeapi.protobuf.envelope import (
    CONTENT_TYPE,
    WATCH_CONTENT_TYPE,
    decode,
    decode_watch_event_message,
    encode,
    encode_list,
    encode_raw,
    encode_status,
    encode_watch_event,
    iter_watch_frames,
    peek_type,
)
from kubeapi.protobuf.schema import UnsupportedKind, known_kinds, supports
from kubeapi.protobuf.wire import ProtobufDecodeError

__all__ = [
    "CONTENT_TYPE",
    "WATCH_CONTENT_TYPE",
    "EncodeError",
    "ProtobufDecodeError",
    "UnsupportedKind",
    "decode",
    "decode_watch_event_message",
    "encode",
    "encode_list",
    "encode_raw",
    "encode_status",
    "encode_watch_event",
    "iter_watch_frames",
    "known_kinds",
    "peek_type",
    "supports",
]
