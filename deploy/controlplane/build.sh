#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from source (Go module proxy) into a cache
# outside the repository, keyed by version, and prints the bin directory.
# Idempotent: a second call returns at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kube_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$here/go.mod")
cache=${STRONGROOM_CACHE:-$HOME/.cache/strongroom}
bin="$cache/controlplane/kube-${kube_version}-etcd-${etcd_version}/bin"
if [[ -x "$bin/kube-apiserver" && -x "$bin/etcd" && -x "$bin/kubectl" ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "error: go is required to build the control plane (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$bin.tmp"
minor=${kube_version#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${kube_version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
cd "$here"
echo ">> building kube-apiserver ${kube_version} from source (several minutes on a cold cache)" >&2
go build -trimpath -ldflags "$ldflags" -o "$bin.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
echo ">> building kubectl ${kube_version} from source" >&2
go build -trimpath -ldflags "$ldflags" -o "$bin.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl >&2
echo ">> building etcd ${etcd_version} from source" >&2
go build -trimpath -ldflags "-s -w" -o "$bin.tmp/etcd" go.etcd.io/etcd/server/v3 >&2
rm -rf "$bin" && mv "$bin.tmp" "$bin"
echo "$bin"
