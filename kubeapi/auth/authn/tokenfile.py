"""--token-auth-file: static tokens, one CSV line each: ``token,user,uid,"group1,group2"``."""

from __future__ import annotations

import csv

from kubeapi.auth.user import UserInfo


def load_token_file(path: str) -> dict[str, UserInfo]:
    """Read once at start (upstream does not reload it).  ValueError names a bad line."""
    out: dict[str, UserInfo] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < 3:
                raise ValueError(f"token file '{path}' must have at least 3 columns (token, user name, "
                                 f"user uid), found {len(row)} on line {lineno}")
            token = row[0].strip()
            if not token:
                continue
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            out[token] = UserInfo(row[1].strip(), uid=row[2].strip(), groups=groups)
    return out


class TokenFile:
    def __init__(self, tokens: dict[str, UserInfo]) -> None:
        self.tokens = tokens

    @classmethod
    def from_file(cls, path: str) -> TokenFile:
        return cls(load_token_file(path))

    async def authenticate_token(self, token: str) -> UserInfo | None:
        return self.tokens.get(token)
