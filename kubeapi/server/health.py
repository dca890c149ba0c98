"""/healthz, /livez and /readyz, rendered as kube-apiserver renders them (plain text,
``[+]name ok`` lines, ``?verbose``, ``?exclude=``, one check per sub-path)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]


async def _always_ok() -> bool:
    return True


async def _run(check: Check) -> tuple[bool, str]:
    try:
        ok = await check()
    except Exception as e:  # a check that raises is a failed check
        log.warning("health check raised: %s", e)
        return False, str(e) or type(e).__name__
    return bool(ok), "" if ok else "check returned false"


async def render(endpoint: str, checks: Sequence[tuple[str, Check]], sub: str,
                 verbose: bool, exclude: list[str]) -> tuple[int, str]:
    """(HTTP status, body).  ``endpoint`` is healthz/livez/readyz; ``sub`` the check name
    after the endpoint path, if any."""
    named = dict(checks)
    if sub:
        if sub not in named:
            return 404, "404 page not found\n"
        ok, reason = await _run(named[sub])
        if ok:
            return 200, "ok"
        return 500, f"internal server error: {reason}\n"

    excluded = set(exclude)
    lines: list[str] = []
    failed: list[str] = []
    for name, check in checks:
        if name in excluded:
            excluded.discard(name)
            lines.append(f"[+]{name} excluded: ok")
            continue
        ok, reason = await _run(check)
        if ok:
            lines.append(f"[+]{name} ok")
        else:
            lines.append(f"[-]{name} failed: reason withheld")
            failed.append(f"{name}: {reason}")
    if excluded:
        names = ",".join(f'"{n}"' for n in sorted(excluded))
        lines.append(f"warn: some health checks cannot be excluded: no matches for {names}")
    if failed:
        log.info("%s check failed: %s", endpoint, "; ".join(failed))
        return 500, "\n".join(lines) + f"\n{endpoint} check failed\n"
    if not verbose:
        return 200, "ok"
    return 200, "\n".join(lines) + f"\n{endpoint} check passed\n"


def base_checks() -> list[tuple[str, Check]]:
    return [("ping", _always_ok), ("log", _always_ok)]
