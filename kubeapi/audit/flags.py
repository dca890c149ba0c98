"""The ``--audit-*`` flags (kube-apiserver's names and defaults) and their checks; kept free of
heavy imports so that ``--help`` stays quick."""

from __future__ import annotations

import os
from typing import Any

from kubeapi.flagtypes import boolean as _bool
from kubeapi.flagtypes import duration as _dur
from kubeapi.flagtypes import integer as _int
from kubeapi.flagtypes import number as _float

BLOCKING, BLOCKING_STRICT, BATCH = "blocking", "blocking-strict", "batch"
MODES = (BATCH, BLOCKING, BLOCKING_STRICT)
FORMATS = ("legacy", "json")


def _batch_flags(plugin: str, max_size: int, throttle: bool) -> list[list[Any]]:
    p = f"audit-{plugin}"
    return [
        [f"{p}-batch-buffer-size", None, 10000, "Events buffered before batching and writing.",
         _int(f"{p}-batch-buffer-size")],
        [f"{p}-batch-max-size", None, max_size, "The maximum size of a batch.", _int(f"{p}-batch-max-size")],
        [f"{p}-batch-max-wait", None, 30.0 if plugin == "webhook" else 0.0,
         "How long to wait before force-writing a batch that is not full.", _dur(f"{p}-batch-max-wait")],
        [f"{p}-batch-throttle-enable", None, throttle, "Whether batching throttling is enabled.",
         _bool(f"{p}-batch-throttle-enable")],
        [f"{p}-batch-throttle-qps", None, 10.0, "Maximum average batches per second.",
         _float(f"{p}-batch-throttle-qps")],
        [f"{p}-batch-throttle-burst", None, 15, "Maximum batches sent at once if throttling was idle.",
         _int(f"{p}-batch-throttle-burst")],
        [f"{p}-truncate-enabled", None, False, "Whether event and batch truncating is enabled.",
         _bool(f"{p}-truncate-enabled")],
        [f"{p}-truncate-max-batch-size", None, 10 * 1024 * 1024, "Maximum size in bytes of a batch.",
         _int(f"{p}-truncate-max-batch-size")],
        [f"{p}-truncate-max-event-size", None, 100 * 1024, "Maximum size in bytes of one event.",
         _int(f"{p}-truncate-max-event-size")],
    ]


_MAIN: list[list[Any]] = [
    ["audit-policy-file", None, None, "Path to the audit.k8s.io/v1 Policy file (audit is off without it)."],
    ["audit-log-path", None, "", "Audit log file; '-' means standard out."],
    ["audit-log-maxage", None, 0, "Days to keep rotated audit log files.", _int("audit-log-maxage")],
    ["audit-log-maxbackup", None, 0, "Rotated audit log files to keep.", _int("audit-log-maxbackup")],
    ["audit-log-maxsize", None, 0, "Megabytes of the audit log before it is rotated.",
     _int("audit-log-maxsize")],
    ["audit-log-compress", None, False, "Gzip rotated audit log files.", _bool("audit-log-compress")],
    ["audit-log-format", None, "json", "Format of saved audits: legacy or json."],
    ["audit-log-mode", None, BLOCKING, "blocking, blocking-strict or batch."],
    ["audit-log-version", None, "audit.k8s.io/v1", "API group and version of logged events."],
    ["audit-webhook-config-file", None, "", "Kubeconfig-format file naming the audit webhook."],
    ["audit-webhook-mode", None, BATCH, "blocking, blocking-strict or batch."],
    ["audit-webhook-initial-backoff", None, 10.0, "Wait before retrying the first failed request.",
     _dur("audit-webhook-initial-backoff")],
    ["audit-webhook-version", None, "audit.k8s.io/v1", "API group and version of sent events."],
]
AUDIT_PARAMETERS: list[list[Any]] = (_MAIN + _batch_flags("log", 1, False)
                                     + _batch_flags("webhook", 400, True))


def validate(o: Any) -> list[str]:
    """Upstream's checks, as error lines (empty when all is well)."""
    errs: list[str] = []
    for plugin in ("log", "webhook"):
        mode = o[f"audit-{plugin}-mode"]
        if mode not in MODES:
            errs.append(f"invalid audit {plugin} mode {mode}, allowed modes are \"{','.join(MODES)}\"")
        if mode == BATCH:
            p = f"audit-{plugin}-batch"
            if o[f"{p}-buffer-size"] <= 0:
                errs.append(f"invalid audit batch {plugin} buffer size {o[f'{p}-buffer-size']}, "
                            "must be a positive number")
            if o[f"{p}-max-size"] <= 0:
                errs.append(f"invalid audit batch {plugin} max batch size {o[f'{p}-max-size']}, "
                            "must be a positive number")
            if o[f"{p}-throttle-enable"] and o[f"{p}-throttle-qps"] <= 0:
                errs.append(f"invalid audit batch {plugin} throttle QPS {o[f'{p}-throttle-qps']}, "
                            "must be a positive number")
            if o[f"{p}-throttle-enable"] and o[f"{p}-throttle-burst"] <= 0:
                errs.append(f"invalid audit batch {plugin} throttle burst {o[f'{p}-throttle-burst']}, "
                            "must be a positive number")
        if o[f"audit-{plugin}-truncate-enabled"]:
            ev, batch = o[f"audit-{plugin}-truncate-max-event-size"], o[f"audit-{plugin}-truncate-max-batch-size"]
            if ev <= 0:
                errs.append(f"invalid audit truncate {plugin} max event size {ev}, must be a positive number")
            if batch < ev:
                errs.append(f"invalid audit truncate {plugin} max batch size ({batch}) must be greater "
                            f"than or equal to max event size ({ev})")
        if o[f"audit-{plugin}-version"] != "audit.k8s.io/v1":
            errs.append(f"invalid audit {plugin} version {o[f'audit-{plugin}-version']}")
    if o["audit-log-format"] not in FORMATS:
        errs.append(f"invalid audit log format {o['audit-log-format']}, allowed formats are "
                    f"\"{','.join(FORMATS)}\"")
    for flag in ("audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize"):
        if o[flag] < 0:
            errs.append(f"--{flag} {o[flag]} can't be a negative number")
    policy = o["audit-policy-file"]
    if policy and not os.access(policy, os.R_OK):
        errs.append(f"--audit-policy-file: cannot read {policy}")
    hook = o["audit-webhook-config-file"]
    if hook and not os.access(hook, os.R_OK):
        errs.append(f"--audit-webhook-config-file: cannot read {hook}")
    return errs
