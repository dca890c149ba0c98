"""Who is asking: the result of authentication, read by audit, authorization and admission."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)


ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))
# The insecure port is trusted as upstream's was: requests there act as a cluster admin.
INSECURE_ADMIN = UserInfo("system:admin", groups=("system:masters", "system:authenticated"))
