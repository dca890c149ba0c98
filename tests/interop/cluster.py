"""A small real cluster on loopback: kubeapi, kube-scheduler, kube-controller-manager and kwok.

The Go components come from ``interop/build.sh`` (built once per machine into a cache dir);
kwok's stage files are read from its module in the Go module cache at run time.  Every
process runs in its own session with its log in the cluster's temp dir; ``stop`` ends them
and removes the dir unless ``keep_logs`` was set (a failing test sets it and prints paths).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e.harness import ServerProcess
from tests.support.waiting import wait_until

K8S_VERSION = "v1.34.4"
KWOK_VERSION = "v0.8.0"
CACHE = Path(os.environ.get("KUBEAPI_INTEROP_CACHE") or Path.home() / ".cache" / "kubeapi-interop")
BIN = CACHE / "bin"
COMPONENTS = ("kube-scheduler", "kube-controller-manager", "kwok")
BUILD_COMMAND = "interop/build.sh"
# Error lines that are about the component itself, not the API server.
BENIGN_ERRORS = (
    "broadcaster already stopped",  # an event emitted while the component shuts down
    "handlers are not fully synchronized",  # the scheduler stopped before its informers synced
    # Optimistic concurrency doing its job: a controller wrote with a stale resourceVersion and
    # retries (upstream logs the same under concurrent writers).
    "the object has been modified; please apply your changes to the latest version",
)
# Not-found answers for objects another party deleted first during a deletion (kwok's
# pod-delete stage removes Terminating pods while the garbage collector is still at them):
# races the controllers retry, as upstream.
BENIGN_NOT_FOUND = re.compile(r'(garbagecollector|replica_set)\.go:\d+\].*(pods|replicasets\.apps) \\?"[^"\\]+\\?" not found')
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
NODE_LABEL = ("interop.kubeapi/pool", "main")
# Stage files of kwok's module (kustomize/stage/...) that make nodes Ready, keep their
# Leases, and move pods through Running to completion or deletion.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


def gomodcache() -> Path | None:
    """Where Go keeps downloaded modules (``go env GOMODCACHE``), or None without Go."""
    env = os.environ.get("GOMODCACHE")
    if env:
        return Path(env)
    go = shutil.which("go")
    if go is None:
        return None
    try:
        out = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def kwok_stage_files() -> list[Path]:
    """kwok's stage files, from its module in the module cache (downloaded by the build)."""
    cache = gomodcache()
    if cache is None:
        return []
    root = cache / "sigs.k8s.io" / f"kwok@{KWOK_VERSION}" / "kustomize" / "stage"
    files = [root / f for f in KWOK_STAGES]
    return files if all(f.is_file() for f in files) else []


# The pause image only sleeps: a real node never sees it exit, so kwok's pod-complete stage
# (which completes every Running pod a Job owns) leaves pods of it Running, as upstream's Job
# specs that use it ("notTerminate") expect.  Nothing about any other container is simulated.
PAUSE_IMAGES = ("registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10")
_COMPLETE_SELECTOR = "    matchExpressions:\n"


def pod_complete_stage(original: str) -> str:
    """kwok's pod-complete stage with one more selector term: no container is the pause image."""
    if original.count(_COMPLETE_SELECTOR) != 1:
        raise ValueError("kwok's pod-complete stage changed shape: one 'matchExpressions:' expected")
    term = ("    - key: '.spec.containers.[].image'\n      operator: 'NotIn'\n      values:\n"
            + "".join(f"      - '{image}'\n" for image in PAUSE_IMAGES))
    return original.replace(_COMPLETE_SELECTOR, _COMPLETE_SELECTOR + term)


def missing_reason() -> str | None:
    """None when every binary and kwok's stage files are present, else one line saying why
    the interop suite skips and which command fixes it."""
    absent = [c for c in COMPONENTS if not os.access(BIN / c, os.X_OK)]
    if absent:
        return (f"interop binaries missing in {BIN} ({', '.join(absent)}): "
                f"run {BUILD_COMMAND} (needs Go and the module proxy) to build them")
    if not kwok_stage_files():
        return f"kwok {KWOK_VERSION} stage files not in the Go module cache: run {BUILD_COMMAND}"
    return None


def skip_reason() -> str | None:
    """Why the cluster tests skip in this run, if they do."""
    if os.environ.get("KUBEAPI_INTEROP") == "later":
        return "interop suite runs on its own: python -m twisted.trial tests.interop"
    return missing_reason()


def component_user(server: ServerProcess, component: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (cluster, user) a component's kubeconfig uses: the ONE place that picks identity.

    Today every component talks to the insecure port as the admin.  When kubeapi writes
    client certificates for ``system:<component>`` into its cert dir, this returns the
    secure URL and that certificate instead (falls through to the admin until then)."""
    own = getattr(server, "component_user", None)
    if own is not None:  # a server that decides for itself (the reference kube-apiserver)
        return own(component)  # type: ignore[no-any-return]
    cert = Path(server.cert_dir) / f"{component}.crt"
    key = Path(server.cert_dir) / f"{component}.key"
    ca = Path(server.cert_dir) / "ca.crt"
    if cert.is_file() and key.is_file() and ca.is_file():
        return ({"server": server.secure_url, "certificate-authority": str(ca)},
                {"client-certificate": str(cert), "client-key": str(key)})
    return {"server": server.url}, {}


def write_kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any]) -> None:
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path.write_text(json.dumps(cfg))


def _die_with_parent() -> None:
    """In the child: SIGKILL it if the test process dies without cleaning up."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def write_service_account_keys(directory: Path) -> None:
    """The service-account signing key pair (sa.key, sa.pub) both servers are started with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    (directory / "sa.key").write_bytes(pem)
    (directory / "sa.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


class Component:
    """One Go component process with its log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        log.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Cluster:
    """kubeapi (embedded store, or on ``etcd_servers``) plus the real components."""

    def __init__(self, etcd_servers: list[str] | None = None, nodes: int = 3,
                 server: ServerProcess | None = None) -> None:
        # As a real control plane runs: Node,RBAC, each controller with its own service account
        # (--use-service-account-credentials), and kube-controller-manager's namespace controller.
        self.server = server or ServerProcess("--enable-namespace-controller=false", "--authorization-mode=Node,RBAC",
                                              etcd_servers=etcd_servers)
        self.dir = Path(self.server.tmp)
        self.node_names = [f"kwok-node-{i}" for i in range(nodes)]
        self.components: dict[str, Component] = {}
        self.keep_logs = False
        self.cleanups: list[Any] = []  # called after everything else stops (e.g. etcd)
        self.env = dict(os.environ, HOME=str(self.dir))
        self.env.pop("KUBECONFIG", None)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._write_keys()
        self.server.start(timeout=60)
        self.components["kube-scheduler"] = self._go("kube-scheduler", [
            "--leader-elect=true", "--secure-port=0", "--v=2"])
        self.components["kube-controller-manager"] = self._go("kube-controller-manager", [
            "--leader-elect=true", "--secure-port=0", "--v=2", "--use-service-account-credentials=true",
            f"--service-account-private-key-file={self._server_file('sa.key', self.dir / 'sa.key')}",
            f"--root-ca-file={self._server_file('ca.crt', Path(self.server.cert_dir) / 'apiserver.crt')}",
            # Shorter than upstream's defaults (50s / 5s) so node lifecycle is testable quickly.
            "--node-monitor-grace-period=20s", "--node-monitor-period=2s",
        ])
        self.components["kwok"] = self.kwok("kwok", KWOK_ANNOTATION[1])
        for c in self.components.values():
            c.start()
        self.create_nodes(self.node_names, KWOK_ANNOTATION[1])

    def stop(self) -> None:
        for c in reversed(list(self.components.values())):
            c.stop()
        self.server.stop()
        while self.cleanups:
            self.cleanups.pop()()
        if not self.keep_logs:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _server_file(self, name: str, fallback: Path) -> Path:
        """The server's own file in its cert dir (its cluster CA, its service-account signing
        key) when it writes one, so tokens and kube-root-ca.crt match the server; else ours."""
        own = Path(self.server.cert_dir) / name
        return own if own.is_file() else fallback

    def log_paths(self) -> list[str]:
        return [self.server.log_path] + [str(c.log_path) for c in self.components.values()]

    def _kubeconfig_for(self, component: str) -> Path:
        path = self.dir / f"{component}.kubeconfig"
        cluster, user = component_user(self.server, component)
        write_kubeconfig(path, cluster, user)
        return path

    def _go(self, name: str, args: list[str]) -> Component:
        kc = self._kubeconfig_for(name)
        argv = [str(BIN / name), f"--kubeconfig={kc}", *args]
        return Component(name, argv, self.dir / f"{name}.log", self.env)

    def kwok(self, name: str, annotation_value: str) -> Component:
        """A kwok controller for the nodes annotated ``kwok.x-k8s.io/node=<annotation_value>``."""
        kc = self._kubeconfig_for("kwok")
        argv = [str(BIN / "kwok"), f"--kubeconfig={kc}",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION[0]}={annotation_value}",
                "--cidr=10.244.0.0/16", "--node-ip=127.0.0.1",
                # kwok keeps no node Lease unless told its duration (kubelet's default is 40s).
                "--node-lease-duration-seconds=40",
                *[f"--config={f}" for f in self._stage_files()]]
        return Component(name, argv, self.dir / f"{name}.log", self.env)

    def _stage_files(self) -> list[Path]:
        """kwok's stage files, pod-complete's replaced by ours (see pod_complete_stage)."""
        files = []
        for f in kwok_stage_files():
            if f.name == "pod-complete.yaml":
                own = self.dir / "kwok-pod-complete.yaml"
                own.write_text(pod_complete_stage(f.read_text()))
                f = own
            files.append(f)
        return files

    def _write_keys(self) -> None:
        write_service_account_keys(self.dir)

    # -- driving it --------------------------------------------------------------------------

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.server.kubectl(*args, **kw)

    def get(self, *args: str, check: bool = True, **kw: Any) -> Any:
        """``kubectl get ... -o json`` parsed; with ``check=False`` a failure gives ``{}``."""
        p = self.server.kubectl("get", *args, "-o", "json", check=check, **kw)
        if p.returncode != 0:
            return {}
        return json.loads(p.stdout)

    def create_node(self, name: str, annotation_value: str, pool: str = NODE_LABEL[1]) -> None:
        self.create_nodes([name], annotation_value, pool)

    def create_nodes(self, names: list[str], annotation_value: str, pool: str = NODE_LABEL[1]) -> None:
        """Node objects for kwok to manage (it does not create them), in one kubectl call."""
        items = [self._node(n, annotation_value, pool) for n in names]
        self.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    @staticmethod
    def _node(name: str, annotation_value: str, pool: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name,
                         "annotations": {KWOK_ANNOTATION[0]: annotation_value, "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok", NODE_LABEL[0]: pool}},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
        }

    def wait_for(self, what: str, predicate: Any, timeout: float, interval: float = 1.0) -> None:
        """Poll ``predicate`` (cheap kubectl calls) until true; fail naming ``what``."""
        if not wait_until(predicate, timeout, interval):
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def nodes_ready(self, names: list[str] | None = None) -> bool:
        want = set(names or self.node_names)
        items = self.get("nodes", check=False).get("items", [])
        ready = {n["metadata"]["name"] for n in items
                 if any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in n.get("status", {}).get("conditions", []))}
        return want <= ready

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Nodes Ready (kwok), leaders elected, and the default ServiceAccount made (KCM)."""
        start = time.monotonic()
        self.wait_for(f"{len(self.node_names)} kwok nodes Ready", self.nodes_ready, timeout)
        for lease in ("kube-scheduler", "kube-controller-manager"):
            self.wait_for(f"Lease kube-system/{lease} held", lambda lease=lease: bool(
                self.get("lease", "-n", "kube-system", lease, check=False)
                .get("spec", {}).get("holderIdentity")), max(10.0, timeout - (time.monotonic() - start)))
        self.wait_for("ServiceAccount default/default", lambda: self.kubectl(
            "get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
            max(10.0, timeout - (time.monotonic() - start)))

    def errors_pointing_at_server(self) -> list[str]:
        """Error-level lines of the components' logs (klog ``E``, kwok's ``"level":"ERROR"``),
        less the few that say nothing about the API server (listed in BENIGN_ERRORS)."""
        hits = []
        for c in self.components.values():
            for line in c.log().splitlines():
                if not (re.match(r"E\d{4} ", line) or '"level":"ERROR"' in line):
                    continue
                if any(b in line for b in BENIGN_ERRORS) or BENIGN_NOT_FOUND.search(line):
                    continue
                hits.append(f"{c.name}: {line[:600]}")
        return hits


if __name__ == "__main__":
    # `python -m tests.interop.cluster`: exit 0 when the suite can run, else print why and exit 1.
    import sys

    why = missing_reason()
    if why:
        print(why)
    sys.exit(1 if why else 0)
