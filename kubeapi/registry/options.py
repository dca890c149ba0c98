"""Verb options, parsed by the server from the query string (and DeleteOptions body)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeapi.auth.user import UserInfo


@dataclass
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_: str = ""
    resource_version: str = ""
    resource_version_match: str = ""  # "" | "NotOlderThan" | "Exact"
    timeout_seconds: int | None = None
    allow_watch_bookmarks: bool = False
    send_initial_events: bool | None = None
    # The caller only reads the result (encodes it): list items may share decoded objects
    # with the store's cache (kubeapi.registry.objectcache).
    read_only: bool = False
    # ... and writes it as compact JSON: items come with their JSON encoded once (ListItems).
    encoded_json: bool = False


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = ""  # "" | "Ignore" | "Warn" | "Strict"
    force: bool = False
    user: UserInfo | None = None
    user_agent: str = ""  # names the manager in managedFields when fieldManager is not given
    # Texts for `Warning: 299` response headers (unknown fields under fieldValidation=Warn);
    # the server passes its request's own list so the store's additions reach the response.
    warnings: list[str] = field(default_factory=list)
    # Annotations admission adds to the request's audit event (policies' auditAnnotations);
    # like ``warnings``, the request's own dict.
    audit_annotations: dict[str, str] = field(default_factory=dict)
    # Paths of fields the request body gave twice (JSON); reported like unknown fields.
    duplicates: list[str] = field(default_factory=list)
    # The same for a YAML body, in Go's YAML decoder's words (``line 3: key "a" already set in map``).
    yaml_duplicates: list[str] = field(default_factory=list)


@dataclass
class DeleteOptions:
    dry_run: bool = False
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None  # "Orphan" | "Background" | "Foreground"
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    user: UserInfo | None = None
