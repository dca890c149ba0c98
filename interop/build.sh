#!/bin/sh
# Build the real Kubernetes components the interop suite runs against
# kubeapi: kube-scheduler, kube-controller-manager, kwok (simulated nodes)
# and kube-apiserver (reference only, for side-by-side runs).
#
# Binaries go to ${KUBEAPI_INTEROP_CACHE:-$HOME/.cache/kubeapi-interop}/bin;
# a binary already there that reports the expected version is reused.
# Everything comes from the Go module proxy; nothing is vendored.
#
# Usage: interop/build.sh [component ...]   (default: all but e2e.test, in the order below)
set -eu

K8S_VERSION=v1.34.4
KWOK_VERSION=v0.8.0
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${KUBEAPI_INTEROP_CACHE:-$HOME/.cache/kubeapi-interop}
BIN=$CACHE/bin
mkdir -p "$BIN"

command -v go >/dev/null 2>&1 || { echo "build.sh: no Go toolchain on PATH" >&2; exit 2; }

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

major=$(echo "$K8S_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')
minor=$(echo "$K8S_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# present NAME WANT: the binary exists and its --version output names WANT.
present() {
    [ -x "$BIN/$1" ] && "$BIN/$1" --version 2>&1 | grep -q -- "$2"
}

build_k8s() {
    name=$1
    if present "$name" "$K8S_VERSION"; then
        echo "build.sh: $name $K8S_VERSION already in $BIN"
        return 0
    fi
    echo "build.sh: building $name $K8S_VERSION ($(date -u +%H:%M:%S))"
    start=$(date +%s)
    (cd "$HERE" && go build -trimpath -p "${BUILD_JOBS:-2}" -ldflags "$ldflags" \
        -o "$BIN/$name.tmp" "k8s.io/kubernetes/cmd/$name")
    mv "$BIN/$name.tmp" "$BIN/$name"
    echo "build.sh: built $name in $(( $(date +%s) - start ))s"
}

build_kwok() {
    if present kwok "${KWOK_VERSION#v}"; then
        echo "build.sh: kwok $KWOK_VERSION already in $BIN"
        return 0
    fi
    echo "build.sh: building kwok $KWOK_VERSION ($(date -u +%H:%M:%S))"
    start=$(date +%s)
    # kwok is its own module without replaces: `go install pkg@version`
    # builds it outside any module (its default version string is the
    # release number, which present() checks).
    GOBIN="$BIN" go install -trimpath -p "${BUILD_JOBS:-2}" -ldflags "-s -w" \
        "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    echo "build.sh: built kwok in $(( $(date +%s) - start ))s"
}

build_e2e() {
    # e2e.test reports its version with --version too (the ginkgo suite's flag).
    if [ -x "$BIN/e2e.test" ] && "$BIN/e2e.test" --version 2>&1 | grep -q -- "$K8S_VERSION"; then
        echo "build.sh: e2e.test $K8S_VERSION already in $BIN"
        return 0
    fi
    echo "build.sh: building e2e.test $K8S_VERSION ($(date -u +%H:%M:%S))"
    start=$(date +%s)
    # The e2e package pulls test-only modules the components do not: resolve them in a copy
    # of this module (-mod=mod) so go.mod/go.sum here stay the components' own.
    work=$(mktemp -d)
    cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/tools.go" "$work/"
    (cd "$work" && go test -c -mod=mod -trimpath -p "${BUILD_JOBS:-2}" -ldflags "$ldflags" \
        -o "$BIN/e2e.test.tmp" k8s.io/kubernetes/test/e2e)
    rm -rf "$work"
    mv "$BIN/e2e.test.tmp" "$BIN/e2e.test"
    echo "build.sh: built e2e.test in $(( $(date +%s) - start ))s"
}

# e2e.test (upstream conformance, python -m tests.interop.conformance) only when named.
[ $# -gt 0 ] || set -- kube-scheduler kube-controller-manager kwok kube-apiserver
for component in "$@"; do
    case $component in
        kwok) build_kwok ;;
        kube-scheduler|kube-controller-manager|kube-apiserver) build_k8s "$component" ;;
        e2e.test) build_e2e ;;
        *) echo "build.sh: unknown component $component" >&2; exit 2 ;;
    esac
done
echo "build.sh: done; binaries in $BIN"
