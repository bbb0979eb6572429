#!/usr/bin/env bash
# Builds the helm CLI from source (Go module proxy, helm.sh/helm/v3 at the
# version pinned in go.mod) into a cache outside the repository, keyed by
# version, and prints the path of the binary. Idempotent: a second call
# returns at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
helm_version=$(awk '$1=="helm.sh/helm/v3"{print $2; exit}' "$here/go.mod")
[[ -n $helm_version ]] || { echo "error: no helm.sh/helm/v3 requirement in $here/go.mod" >&2; exit 1; }
cache=${STRONGROOM_CACHE:-$HOME/.cache/strongroom}
dir="$cache/helm/$helm_version"
if [[ -x "$dir/helm" ]]; then
  echo "$dir/helm"
  exit 0
fi
command -v go >/dev/null || { echo "error: go is required to build helm (https://go.dev/dl)" >&2; exit 1; }
cd "$here"
# What helm's own Makefile sets: the version `helm version` reports, and the
# Kubernetes version `helm template`/`helm lint` assume without a cluster
# (one above the client-go minor, i.e. client-go v0.37 -> Kubernetes 1.37).
client_go=$(go list -m -f '{{.Version}}' k8s.io/client-go)
kube_minor=${client_go#v0.}; kube_minor=${kube_minor%%.*}
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=${helm_version} -X $pkg/internal/version.gitTreeState=clean"
for p in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X $pkg/$p.k8sVersionMajor=1 -X $pkg/$p.k8sVersionMinor=${kube_minor}"
done
echo ">> building helm ${helm_version} from source (a few minutes on a cold cache)" >&2
mkdir -p "$dir"
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/helm.tmp" "$pkg/cmd/helm" >&2
mv "$dir/helm.tmp" "$dir/helm"
echo "$dir/helm"
