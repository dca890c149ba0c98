"""Property fuzzing against our own OpenAPI v3: seeded, bounded in time, every answer must
be below 500 and the server must still answer afterwards.

Operations come from ``/openapi/v3`` (every group-version document).  Path parameters,
query parameters and bodies are drawn by hypothesis: plausible names and hostile text,
integers of every width, JSON of random shape and depth.  Left out are the operations whose
5xx is upstream's own answer for an unreachable backend (``proxy``, ``exec``, ``attach``,
``portforward``) and watches (they stream until their timeout).
"""

from __future__ import annotations

import json
import os
import resource
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.e2e.harness import ServerProcess
from tests.support.procstat import rss_kib

SECONDS = float(os.environ.get("KUBEAPI_FUZZ_SECONDS", "40"))
EXAMPLES = int(os.environ.get("KUBEAPI_FUZZ_EXAMPLES", "1500"))  # the clock usually stops first
SEED = int(os.environ.get("KUBEAPI_FUZZ_SEED", "20261202"))
SKIP_WORDS = ("/proxy", "/exec", "/attach", "/portforward", "/watch/")
METHODS = ("get", "put", "post", "patch", "delete")
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")

names = st.one_of(st.just("default"), st.just("kube-system"), st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
                  st.text(min_size=1, max_size=30))
integers = st.one_of(st.integers(-5, 5), st.integers(), st.sampled_from([2 ** 31, 2 ** 32 + 80, 2 ** 63, 2 ** 64,
                                                                        2 ** 70, -(2 ** 63) - 1]))
scalars = st.one_of(st.none(), st.booleans(), integers, st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                           max_leaves=25)
query_values = st.one_of(st.text(max_size=20), integers.map(str), st.sampled_from(["true", "false", "All", "0", ""]))


def _body(kind: str, api_version: str) -> Any:
    meta = st.fixed_dictionaries({"name": names}, optional={"namespace": names, "resourceVersion": query_values,
                                                            "labels": st.dictionaries(st.text(max_size=10),
                                                                                      st.text(max_size=10),
                                                                                      max_size=3),
                                                            "generation": integers})
    shaped = st.fixed_dictionaries({"metadata": meta}, optional={
        "apiVersion": st.one_of(st.just(api_version), json_values), "kind": st.one_of(st.just(kind), json_values),
        "spec": json_values, "data": json_values, "status": json_values})
    return st.one_of(shaped, json_values)


def _numeric_rv(body: bytes | None) -> bool:
    try:
        rv = json.loads(body or b"{}")["metadata"]["resourceVersion"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(rv, str) and rv.isascii() and rv.isdigit() and 0 < int(rv) < 2 ** 64


class Fuzz(unittest.TestCase):
    timeout = 300

    def _operations(self, s: ServerProcess) -> list[tuple[str, str, list[dict[str, Any]], str, str]]:
        index = self._get(s, "/openapi/v3")
        ops = []
        for entry in index["paths"].values():
            doc = self._get(s, entry["serverRelativeURL"])
            for path, item in sorted(doc.get("paths", {}).items()):
                if any(w in path for w in SKIP_WORDS):
                    continue
                for method in METHODS:
                    op = item.get(method)
                    if not op:
                        continue
                    gvk = op.get("x-kubernetes-group-version-kind") or {}
                    api_version = "/".join(p for p in (gvk.get("group"), gvk.get("version")) if p)
                    params = list(item.get("parameters", [])) + list(op.get("parameters", []))
                    ops.append((method.upper(), path, params, gvk.get("kind", ""), api_version))
        return ops

    def _get(self, s: ServerProcess, path: str) -> Any:
        with urllib.request.urlopen(s.url + path, timeout=30) as r:
            return json.loads(r.read())

    def _fuzz(self) -> None:
        s = ServerProcess()
        self.addCleanup(s.cleanup)
        s.start()
        assert s.proc is not None
        ops = self._operations(s)
        self.assertGreater(len(ops), 100)
        rss_before = rss_kib(s.proc.pid)
        stats = {"tried": 0, "5xx": 0, "codes": {}}
        failures: list[str] = []
        deadline = time.monotonic() + SECONDS

        @seed(SEED)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck), phases=[__import__("hypothesis").Phase.generate])
        @given(data=st.data())
        def one(data: Any) -> None:
            method, path, params, kind, api_version = data.draw(st.sampled_from(ops))
            url = path
            query: dict[str, str] = {}
            for p in params:
                name = p.get("name", "")
                if p.get("in") == "path":
                    url = url.replace("{" + name + "}", urllib.parse.quote(data.draw(names), safe=""))
                elif p.get("in") == "query" and name != "watch" and data.draw(st.booleans()):
                    query[name] = data.draw(query_values)
            if query:
                url += "?" + urllib.parse.urlencode(query)
            body = None
            ctype = "application/json"
            if method in ("POST", "PUT", "PATCH") or (method == "DELETE" and data.draw(st.booleans())):
                body = json.dumps(data.draw(_body(kind, api_version))).encode()
                if method == "PATCH":
                    ctype = data.draw(st.sampled_from(PATCH_TYPES))
            if time.monotonic() > deadline:
                return  # the time is up: still draw (hypothesis wants the same draws), send nothing
            req = urllib.request.Request(s.url + url, data=body, method=method, headers={"Content-Type": ctype})
            stats["tried"] += 1
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    code = r.status
                    r.read()
            except urllib.error.HTTPError as e:
                code = e.code
                text = e.read()[:300]
                if code == 504 and b"Too large resource version" in text:
                    code = 499  # upstream's own answer for a revision from the future: not a fault
                if code == 500 and method == "POST" and _numeric_rv(body):
                    code = 499  # upstream's storage answers a set (parsable) resourceVersion so too
                if code >= 500:
                    failures.append(f"{method} {url} [{ctype}] {(body or b'')[:300]!r} -> {code} {text!r}")
            stats["codes"][code] = stats["codes"].get(code, 0) + 1  # type: ignore[index, union-attr]
            if code >= 500:
                stats["5xx"] += 1

        one()
        rss_after = rss_kib(s.proc.pid)
        with urllib.request.urlopen(s.url + "/readyz", timeout=10) as r:
            self.assertEqual(r.status, 200)
        print(f"\nfuzz: seed={SEED} seconds={SECONDS} operations={len(ops)} requests={stats['tried']} "
              f"5xx={stats['5xx']} codes={dict(sorted(stats['codes'].items()))} "  # type: ignore[union-attr]
              f"rss_before={rss_before // 1024}MiB rss_after={rss_after // 1024}MiB "
              f"self_maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}MiB")
        self.assertGreater(stats["tried"], 100)
        self.assertEqual(failures, [], "\n".join(failures[:20]) + "\n--- server log ---\n" + s.log()[-4000:])

    def test_no_5xx_from_generated_requests(self) -> Any:
        return deferToThread(self._fuzz)
