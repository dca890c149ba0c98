#!/bin/sh
# Regenerate kubeapi/storage/etcd/proto/*_pb2.py from our etcd proto subset.
# Protos are compiled from the repository root so their descriptor names are
# package-qualified paths and the generated imports work as a package
# (`from kubeapi.storage.etcd.proto import kv_pb2`).  Only message classes are
# generated: the transport is our own (h2 on Twisted), not grpcio.
set -eu
cd "$(dirname "$0")/.."
OUT=kubeapi/storage/etcd/proto
python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. \
    "$OUT/kv.proto" "$OUT/rpc.proto"
[ -f "$OUT/__init__.py" ] || printf '"""Generated etcd v3 protobuf messages (see scripts/gen_etcd_proto.sh)."""\n' > "$OUT/__init__.py"
python - <<'PY'
import google.protobuf
print("generated with protobuf", google.protobuf.__version__)
PY
