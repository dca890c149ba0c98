"""The batch group: jobs and cronjobs."""

from __future__ import annotations

import re
from typing import Any

from kubeapi.api import facts
from kubeapi.api.podspec import default_pod_template, validate_pod_template
from kubeapi.api.printing import (
    NONE,
    age_col,
    col,
    containers_cols,
    format_label_selector,
    name_col,
    wide,
)
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    Errors,
    check_enum,
    check_non_negative,
    check_positive,
    check_selector,
    get,
    immutable,
    invalid,
    required,
    selector_matches,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeapi.api.workloads import SELECTOR_MISMATCH, restart_policy_only, selector_immutable
from kubeapi.jsontypes import deep_copy
from kubeapi.timefmt import age, human_duration, parse_time

GROUP = "batch"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"

# ---------------------------------------------------------------- jobs


def default_job(job: Obj) -> None:
    spec = job.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    default_pod_template(spec.get("template"))


def prepare_job(job: Obj) -> None:
    """Generate the controller-uid selector and pod labels unless manualSelector is set.
    Needs metadata.uid, which the store assigns before calling this."""
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    uid = get(job, "metadata.uid") or ""
    name = get(job, "metadata.name") or ""
    tmpl = spec.setdefault("template", {})
    if not isinstance(tmpl, dict):
        return
    meta = tmpl.setdefault("metadata", {})
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        labels = meta["labels"] = {}
    for key in (LEGACY_JOB_NAME, JOB_NAME):
        labels.setdefault(key, name)
    for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
        labels.setdefault(key, uid)
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        sel = spec["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault(CONTROLLER_UID, uid)
    job.setdefault("status", {})


def _validate_job_spec(spec: Any, p: str, meta_uid: str | None, manual: bool,
                       selector_generated: bool) -> Errors:
    if not isinstance(spec, dict):
        return [required(p)]
    errs: Errors = []
    for key in ("parallelism", "completions", "backoffLimit", "backoffLimitPerIndex",
                "maxFailedIndexes", "ttlSecondsAfterFinished"):
        errs += check_non_negative(spec.get(key), f"{p}.{key}")
    errs += check_positive(spec.get("activeDeadlineSeconds"), f"{p}.activeDeadlineSeconds")
    errs += check_enum(spec.get("completionMode"), f"{p}.completionMode", ("NonIndexed", "Indexed"))
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        errs.append(required(f"{p}.completions", "when completion mode is Indexed"))
    errs += check_enum(spec.get("podReplacementPolicy"), f"{p}.podReplacementPolicy",
                       ("Failed", "TerminatingOrFailed"))
    sel = spec.get("selector")
    if selector_generated or sel is not None:
        errs += check_selector(sel, f"{p}.selector", selector_generated, "job")
    tmpl = spec.get("template")
    errs += validate_pod_template(tmpl, f"{p}.template")
    if isinstance(sel, dict) and isinstance(tmpl, dict) and sel:
        labels = get(tmpl, "metadata.labels") or {}
        if not selector_matches(sel, labels):
            errs.append(invalid(f"{p}.template.metadata.labels", labels, SELECTOR_MISMATCH))
    errs += restart_policy_only(spec, ("OnFailure", "Never"), p)
    generated_uid = get(sel, "matchLabels", {}).get(CONTROLLER_UID) if isinstance(sel, dict) else None
    if meta_uid and not manual and isinstance(sel, dict) and generated_uid != "":
        expected = {"matchLabels": {CONTROLLER_UID: meta_uid}}
        if sel != expected:
            errs.append(invalid(f"{p}.selector", sel, "`selector` not auto-generated"))
    return errs


def validate_job(job: Obj) -> list[FieldError]:
    errs = validate_object_meta(job)
    spec = job.get("spec")
    manual = isinstance(spec, dict) and spec.get("manualSelector") is True
    uid = get(job, "metadata.uid")
    # The selector is generated in prepare_for_create; before that it may still be absent.
    errs += _validate_job_spec(spec, "spec", uid, manual, manual or bool(uid))
    return errs


def validate_job_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old) + selector_immutable(new, old)
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "manualSelector"):
        if ns.get(key) != os_.get(key) and os_.get(key) is not None:
            errs.append(immutable(f"spec.{key}", ns.get(key)))
    if ns.get("completions") != os_.get("completions") and ns.get("completionMode") != "Indexed":
        errs.append(immutable("spec.completions", ns.get("completions")))
    nt, ot = deep_copy(ns.get("template")), deep_copy(os_.get("template"))
    if nt != ot:
        # A suspended job that never started may change its scheduling directives.
        if not (ns.get("suspend") and not get(old, "status.startTime")):
            errs.append(immutable("spec.template", nt))
    return errs


def _has_condition(job: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True"
               for c in get(job, "status.conditions") or [])


def job_status(job: Obj) -> str:
    if _has_condition(job, "Complete"):
        return "Complete"
    if _has_condition(job, "Failed"):
        return "Failed"
    if get(job, "metadata.deletionTimestamp") is not None:
        return "Terminating"
    for ctype in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(job, ctype):
            return ctype
    return "Running"


def job_completions(job: Obj) -> str:
    succeeded = get(job, "status.succeeded") or 0
    completions = get(job, "spec.completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = get(job, "spec.parallelism") or 0
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Obj) -> str:
    start = parse_time(get(job, "status.startTime"))
    if start is None:
        return ""
    end = parse_time(get(job, "status.completionTime"))
    if end is None:
        return age(get(job, "status.startTime"))
    return human_duration((end - start).total_seconds())



JOBS = facts.resource(
    GROUP, "v1", "jobs",
    columns=(
        name_col(),
        col("Status", "string", job_status, "Status of the job."),
        col("Completions", "string", job_completions,
            "The number of pods which reached phase Succeeded."),
        col("Duration", "string", job_duration, "Time required to complete the job."),
        age_col(),
        *containers_cols(),
        wide("Selector", "string", lambda o: format_label_selector(get(o, "spec.selector")),
             "A label query over pods that should match the pod count."),
    ),
    field_selectors={"status.successful": lambda o: str(get(o, "status.succeeded") or 0)},
    default=default_job,
    validate=validate_job,
    validate_update=validate_job_update,
    prepare_for_create=prepare_job,
    has_status=True,
    has_generation=True,
)

# ---------------------------------------------------------------- cronjobs

_CRON_FIELD = re.compile(r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*$")
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_problem(schedule: str) -> str:
    """Why ``schedule`` is not a standard 5-field cron expression ('' when it is)."""
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text.startswith("@"):
        if text in _CRON_DESCRIPTORS or text.startswith("@every "):
            return ""
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: {text}"
    for f in fields:
        if not _CRON_FIELD.match(f):
            return f"failed to parse int from {f}"
    return ""


def default_cronjob(cj: Obj) -> None:
    spec = cj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    default_pod_template(get(spec, "jobTemplate.spec.template"))


def validate_cronjob(cj: Obj) -> list[FieldError]:
    errs = validate_object_meta(cj)
    name = get(cj, "metadata.name")
    if isinstance(name, str) and len(name) > 52:
        errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    spec = cj.get("spec")
    if not isinstance(spec, dict):
        return errs + [required("spec")]
    sched = spec.get("schedule")
    if not sched:
        errs.append(required("spec.schedule"))
    else:
        problem = cron_problem(str(sched))
        if problem:
            errs.append(invalid("spec.schedule", sched, problem))
    errs += check_enum(spec.get("concurrencyPolicy"), "spec.concurrencyPolicy",
                       ("Allow", "Forbid", "Replace"))
    errs += check_non_negative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += check_non_negative(spec.get(key), f"spec.{key}")
    jt = spec.get("jobTemplate")
    if not isinstance(jt, dict):
        errs.append(required("spec.jobTemplate"))
    else:
        jspec = jt.get("spec")
        manual = isinstance(jspec, dict) and jspec.get("manualSelector") is True
        errs += _validate_job_spec(jspec, "spec.jobTemplate.spec", None, manual, False)
    return errs


def validate_cronjob_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_object_meta_update(new, old)


def _last_schedule(cj: Obj) -> str:
    t = get(cj, "status.lastScheduleTime")
    return age(t) if t else NONE


CRONJOBS = facts.resource(
    GROUP, "v1", "cronjobs",
    columns=(
        name_col(),
        col("Schedule", "string", lambda o: get(o, "spec.schedule") or "",
            "The schedule in Cron format."),
        col("Timezone", "string", lambda o: get(o, "spec.timeZone") or NONE,
            "The time zone name for the given schedule."),
        col("Suspend", "boolean", lambda o: _bool_ptr(get(o, "spec.suspend")),
            "This flag tells the controller to suspend subsequent executions."),
        col("Active", "integer", lambda o: len(get(o, "status.active") or []),
            "A list of pointers to currently running jobs."),
        col("Last Schedule", "string", _last_schedule,
            "Information when was the last time the job was successfully scheduled."),
        age_col(),
        *containers_cols("spec.jobTemplate.spec.template.spec"),
        wide("Selector", "string",
             lambda o: format_label_selector(get(o, "spec.jobTemplate.spec.selector")),
             "A label query over pods that should match the pod count."),
    ),
    default=default_cronjob,
    validate=validate_cronjob,
    validate_update=validate_cronjob_update,
    has_status=True,
    has_generation=True,
)


def _bool_ptr(v: Any) -> str:
    if v is None:
        return "<unset>"
    return "True" if v else "False"


RESOURCES: list[ResourceDef] = [CRONJOBS, JOBS]
