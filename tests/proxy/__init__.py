"""Tests of the node, pod and service proxy, pods/log and the upgrades, against a fake kubelet."""
