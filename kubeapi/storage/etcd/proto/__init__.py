"""Generated etcd v3 protobuf messages (see scripts/gen_etcd_proto.sh)."""
