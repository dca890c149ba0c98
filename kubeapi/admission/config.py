"""--admission-control-config-file: an AdmissionConfiguration (apiserver.config.k8s.io/v1) naming
per-plugin configuration, inline (``configuration``) or in a file (``path``, relative to the
config file).  Read once at startup; any problem is one line that stops the server."""

from __future__ import annotations

import os
from typing import Any

import yaml

ACCEPTED = {("apiserver.config.k8s.io/v1", "AdmissionConfiguration"),
            ("apiserver.k8s.io/v1alpha1", "AdmissionConfiguration"),
            ("apiserver.config.k8s.io/v1alpha1", "AdmissionConfiguration")}


class AdmissionConfigError(ValueError):
    pass


def _read(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as e:
        raise AdmissionConfigError(f"unable to read admission control configuration from {path!r} [{e}]") from None
    except yaml.YAMLError as e:
        raise AdmissionConfigError(f"unable to parse admission control configuration {path!r}: "
                                   f"{str(e).splitlines()[0]}") from None


def load(path: str, known: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Plugin name -> its configuration object (empty when the file names none)."""
    doc = _read(path)
    if not isinstance(doc, dict):
        raise AdmissionConfigError(f"unable to parse admission control configuration {path!r}: not an object")
    gvk = (doc.get("apiVersion"), doc.get("kind"))
    if gvk not in ACCEPTED:
        raise AdmissionConfigError(f"unable to decode admission control configuration {path!r}: "
                                   f'no kind "{gvk[1]}" is registered for version "{gvk[0]}"')
    out: dict[str, dict[str, Any]] = {}
    base = os.path.dirname(os.path.abspath(path))
    for i, entry in enumerate(doc.get("plugins") or []):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise AdmissionConfigError(f"admission control configuration {path!r}: plugins[{i}].name is required")
        name = entry["name"]
        if known and name not in known:
            raise AdmissionConfigError(f"admission control configuration {path!r}: plugin {name!r} is unknown")
        conf = entry.get("configuration")
        if conf is None and entry.get("path"):
            p = entry["path"]
            conf = _read(p if os.path.isabs(p) else os.path.join(base, p))
        if conf is not None and not isinstance(conf, dict):
            raise AdmissionConfigError(f"admission control configuration {path!r}: plugin {name!r} "
                                       "configuration is not an object")
        out[name] = conf or {}
    return out
