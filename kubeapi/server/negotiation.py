"""Content negotiation: which encoding a response uses, and decoding request bodies.

Responses are JSON unless the Accept header prefers YAML, or Kubernetes protobuf where the
endpoint can encode it (built-in kinds; never a converted form); ``as=Table`` /
``as=PartialObjectMetadata[List]`` / ``as=APIGroupDiscoveryList`` ask for a converted
form.  Request bodies are JSON or YAML, bounded in size, nesting and YAML alias
expansion so one request cannot exhaust the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from kubeapi.errors import StatusError, bad_request, not_acceptable, too_large, unsupported_media_type
from kubeapi.registry.objectcache import EncodedItems, ListItems
from kubeapi.server import strictjson

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
CBOR = "application/cbor"
SERVED_MEDIA_TYPES = (JSON, YAML, PROTOBUF)

META_GROUP = "meta.k8s.io"
DISCOVERY_GROUP = "apidiscovery.k8s.io"
# as= kinds and the versions we can produce for them.
CONVERSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Table": (META_GROUP, ("v1", "v1beta1")),
    "PartialObjectMetadata": (META_GROUP, ("v1", "v1beta1")),
    "PartialObjectMetadataList": (META_GROUP, ("v1", "v1beta1")),
    "APIGroupDiscoveryList": (DISCOVERY_GROUP, ("v2", "v2beta1")),
}

MAX_JSON_DEPTH = strictjson.MAX_DEPTH
MAX_YAML_NODES = 1_000_000  # nodes after alias expansion


@dataclass(frozen=True)
class MediaRange:
    type: str  # "application/json", "*/*", ...
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0


@dataclass(frozen=True)
class Output:
    """The negotiated response form."""

    media_type: str  # JSON, YAML or PROTOBUF
    convert: str = ""  # "" or a CONVERSIONS key
    version: str = ""  # version of the converted kind

    @property
    def content_type(self) -> str:
        if not self.convert:
            return self.media_type
        group = CONVERSIONS[self.convert][0]
        if self.convert == "APIGroupDiscoveryList":
            return f"{self.media_type};g={group};v={self.version};as={self.convert}"
        return f"{self.media_type};as={self.convert};v={self.version};g={group}"


def parse_accept(header: str | None) -> list[MediaRange]:
    """Media ranges in preference order (q descending, then as listed)."""
    if not header or not header.strip():
        return [MediaRange("*/*")]
    out: list[tuple[float, int, MediaRange]] = []
    for i, clause in enumerate(header.split(",")):
        pieces = [p.strip() for p in clause.split(";")]
        mtype = pieces[0].lower()
        if not mtype:
            continue
        params: dict[str, str] = {}
        q = 1.0
        for p in pieces[1:]:
            k, _, v = p.partition("=")
            k = k.strip().lower()
            v = v.strip().strip('"')
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
            elif k:
                params[k] = v
        if q <= 0:
            continue
        out.append((-q, i, MediaRange(mtype, params, q)))
    out.sort(key=lambda t: (t[0], t[1]))
    return [m for _, _, m in out]


def _plain(mtype: str) -> str | None:
    if mtype in (JSON, "*/*", "application/*"):
        return JSON
    if mtype in (YAML, "text/yaml", "application/x-yaml"):
        return YAML
    return None


_negotiated: dict[tuple[str | None, frozenset[str], bool], Output] = {}
NEGOTIATED_CACHE_SIZE = 1024


def negotiate(header: str | None, conversions: frozenset[str] = frozenset(),
              protobuf: bool = False) -> Output:
    """`choose`, remembered per Accept header: clients send the same few over and over, and
    parsing one anew was a visible part of a GET."""
    key = (header, conversions, protobuf)
    out = _negotiated.get(key)
    if out is None:
        out = choose(header, conversions, protobuf)  # a 406 is raised afresh each time
        if len(_negotiated) >= NEGOTIATED_CACHE_SIZE:
            _negotiated.clear()  # headers come from clients: stay bounded
        _negotiated[key] = out
    return out


def choose(header: str | None, conversions: frozenset[str] = frozenset(),
           protobuf: bool = False) -> Output:
    """Pick the first acceptable form in the client's order.  ``conversions`` are the as= kinds
    this endpoint can produce; a clause asking for another one is skipped.  Protobuf clauses
    count only where ``protobuf`` says the endpoint's kind has a protobuf encoding, and never
    with as= (converted forms are JSON/YAML only); cbor clauses are always skipped."""
    for m in parse_accept(header):
        if m.type == PROTOBUF:
            if protobuf and not m.params.get("as"):
                return Output(PROTOBUF)
            continue
        media = _plain(m.type)
        if media is None:
            continue
        as_kind = m.params.get("as", "")
        if not as_kind:
            return Output(media)
        if as_kind not in conversions:
            continue
        group, versions = CONVERSIONS[as_kind]
        if m.params.get("g", "") != group or m.params.get("v", "") not in versions:
            continue
        return Output(media, as_kind, m.params["v"])
    raise not_acceptable(SERVED_MEDIA_TYPES)


# ---------------------------------------------------------------- encoding


def encode(obj: Any, media_type: str = JSON, pretty: bool = False) -> bytes:
    if media_type == YAML:
        return yaml.safe_dump(obj, default_flow_style=False, sort_keys=False,
                              allow_unicode=True).encode()
    opts = orjson.OPT_NON_STR_KEYS
    if pretty:
        opts |= orjson.OPT_INDENT_2
    elif type(obj) is dict:
        items = obj.get("items")
        if type(items) is ListItems and items.json is not None:  # items encoded once, spliced in
            if next(reversed(obj)) == "items":
                try:
                    head = orjson.dumps({**obj, "items": []}, option=opts)
                except TypeError:
                    pass
                else:  # head ends with '[]}': the items go between the brackets
                    return _between_brackets(head, items.json)
            obj = {**obj, "items": [orjson.Fragment(b) for b in items.json]}
    try:
        out = orjson.dumps(obj, option=opts)
    except TypeError:
        # a lone surrogate (echoed from a request into a message, say) cannot be UTF-8:
        # write U+FFFD for it, as Go does, rather than fail the response
        out = orjson.dumps(strictjson.replace_surrogates(obj), option=opts)
    # Go's json.Encoder ends every value with a newline, compact or indented.
    return out + b"\n"


def _between_brackets(head: bytes, items: EncodedItems) -> bytes:
    """``head`` (ending in an empty array and "}") with ``items`` in the array."""
    if not items:
        return head + b"\n"
    return b"".join((head[:-2], items.joined(), b"]}\n"))


# ---------------------------------------------------------------- decoding

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def check_size(body: bytes, limit: int) -> None:
    if len(body) > limit:
        raise too_large(limit)


def decode_json(body: bytes, duplicates: list[str] | None = None) -> Any:
    """JSON as Go decodes it: bounded depth, exact 64-bit integers (anything wider is a 400),
    and, when ``duplicates`` is given, the paths of duplicate fields appended to it."""
    if not strictjson.nesting_ok(body):
        raise strictjson.depth_exceeded()
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise bad_request(f"couldn't get version/kind; json parse error: {e}") from None
    long_numbers = strictjson.may_have_long_numbers(body)
    if long_numbers or (duplicates is not None and strictjson.may_have_duplicates(body, obj)):
        obj, dups = strictjson.exact_parse(body)
        if duplicates is not None:
            duplicates.extend(dups)
        if long_numbers:
            strictjson.check_integers(obj)
        obj = strictjson.replace_surrogates(obj)  # the stdlib parser keeps lone surrogates
    return obj


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings (as upstream's YAML→JSON does) and
    refuses documents whose alias expansion is out of proportion."""

    yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Composing recurses once per level: bound it before Python's stack is at risk.
        self._depth += 1
        try:
            if self._depth > MAX_JSON_DEPTH:
                raise _TooDeep()
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        _expanded_size(node, {}, set(), [0])
        return node


class _TooDeep(Exception):
    pass


class _Excessive(Exception):
    pass


def _expanded_size(node: Any, memo: dict[int, int], active: set[int], total: list[int], depth: int = 0) -> int:
    if depth > MAX_JSON_DEPTH:  # aliases chained through anchors nest deeper than the text
        raise _TooDeep()
    key = id(node)
    if key in memo:
        size = memo[key]
        total[0] += size
        if total[0] > MAX_YAML_NODES:
            raise _Excessive()
        return size
    if key in active:
        raise _Excessive()
    active.add(key)
    size = 1
    total[0] += 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, active, total, depth + 1)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, active, total, depth + 1)
            size += _expanded_size(v, memo, active, total, depth + 1)
    if total[0] > MAX_YAML_NODES:
        raise _Excessive()
    active.discard(key)
    memo[key] = size
    return size


def _duplicate_keys(node: Any, out: list[str], seen: set[int]) -> None:
    """Keys given twice in one mapping, as Go's YAML decoder reports them."""
    if id(node) in seen:  # an alias: its node was checked where it was anchored
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[tuple[str, str]] = set()
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                ident = (k.tag, k.value)
                if ident in keys:
                    shown = f'"{k.value}"' if k.tag == "tag:yaml.org,2002:str" else k.value
                    out.append(f"line {k.start_mark.line + 1}: key {shown} already set in map")
                keys.add(ident)
            _duplicate_keys(v, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _duplicate_keys(child, out, seen)


def decode_yaml(body: bytes, duplicates: list[str] | None = None) -> Any:
    """A YAML document as JSON-compatible data, bounded in depth and alias expansion; with
    ``duplicates`` given, keys set twice are listed there (in Go's words) rather than the
    last one silently winning unnoticed."""
    try:
        loader = _Loader(body)
        try:
            node = loader.get_single_node()
            if duplicates is not None and node is not None:
                _duplicate_keys(node, duplicates, set())
            obj = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _TooDeep:
        raise bad_request(f"error converting YAML to JSON: yaml: exceeded max depth of {MAX_JSON_DEPTH}") from None
    except _Excessive:
        raise bad_request("error converting YAML to JSON: yaml: document contains excessive aliasing") from None
    except RecursionError:
        raise bad_request("error converting YAML to JSON: yaml: exceeded max depth") from None
    except yaml.YAMLError as e:
        raise bad_request(f"error converting YAML to JSON: yaml: {e}".replace("\n", " ")) from None
    if strictjson.depth_of(obj) > MAX_JSON_DEPTH:  # aliases can nest deeper than the text
        raise bad_request(f"error converting YAML to JSON: yaml: exceeded max depth of {MAX_JSON_DEPTH}")
    strictjson.check_integers(obj)
    return strictjson.replace_surrogates(obj)


def decode_protobuf(body: bytes) -> Any:
    """Protobuf bodies (kubectl's typed creates, kubelets) through kubeapi.protobuf when it is
    there: a kind it does not know is 415, malformed bytes are 400."""
    try:
        import importlib

        protobuf = importlib.import_module("kubeapi.protobuf")
    except ImportError:
        raise unsupported_media_type(PROTOBUF, (JSON, YAML)) from None
    unsupported = getattr(protobuf, "UnsupportedKind", None)
    decode = getattr(protobuf, "decode", None)
    if decode is None:
        raise unsupported_media_type(PROTOBUF, (JSON, YAML))
    try:
        obj = decode(body)
    except Exception as e:
        if unsupported is not None and isinstance(e, unsupported):
            raise unsupported_media_type(PROTOBUF, (JSON, YAML)) from None
        if isinstance(e, ValueError):
            raise bad_request(f"unable to decode protobuf body: {e}") from None
        raise
    if strictjson.depth_of(obj) > MAX_JSON_DEPTH:  # embedded JSON (RawExtension) can nest
        raise strictjson.depth_exceeded()
    return obj


def decode_body(content_type: str | None, body: bytes, limit: int, duplicates: list[str] | None = None,
                yaml_duplicates: list[str] | None = None) -> dict[str, Any]:
    """A create/update body as a dict; 413/415/400 as upstream would answer.  Duplicate JSON
    fields are appended to ``duplicates``, duplicate YAML keys to ``yaml_duplicates``."""
    check_size(body, limit)
    media = media_type_of(content_type)
    if media in ("", JSON, "*/*"):
        obj = decode_json(body, duplicates)
    elif media in (YAML, "application/x-yaml", "text/yaml"):
        obj = decode_yaml(body, yaml_duplicates)
    elif media == PROTOBUF:
        obj = decode_protobuf(body)
    else:
        raise unsupported_media_type(media, (JSON, YAML))
    if not isinstance(obj, dict):
        raise bad_request("the body of the request was not a JSON or YAML object")
    return obj


def normalize_patch(content_type: str | None, body: bytes, limit: int,
                    yaml_duplicates: list[str] | None = None) -> tuple[str, bytes]:
    """Check a PATCH body; apply-patch YAML is parsed safely here and passed on as JSON
    (valid YAML too), so the store never parses untrusted YAML itself.  Its duplicate keys
    go to ``yaml_duplicates``."""
    check_size(body, limit)
    media = media_type_of(content_type)
    if media not in PATCH_TYPES:
        raise unsupported_media_type(media, PATCH_TYPES)
    if media == "application/apply-patch+yaml":
        parsed = decode_yaml(body, yaml_duplicates)
        return media, orjson.dumps(parsed, option=orjson.OPT_NON_STR_KEYS)
    decode_json(body)  # validates size/depth/syntax before the store sees it
    return media, body


def status_error_body(err: StatusError) -> dict[str, Any]:
    return err.status()
