#!/usr/bin/env bash
# Builds the GitOps tools the tests check Strongroom against, from source
# through the Go module proxy, into a cache outside the repository keyed by
# version, and prints the directory holding them:
#   controller, kubeseal  github.com/bitnami-labs/sealed-secrets (the real
#                         controller and its CLI)
#   sops                  github.com/getsops/sops/v3
#   age, age-keygen       filippo.io/age
# Also copies the SealedSecret CRD out of the sealed-secrets module.
# Idempotent: a second call returns at once.
set -euo pipefail
SEALED_SECRETS_VERSION=v0.27.1
SOPS_VERSION=v3.13.3
AGE_VERSION=v1.3.2

cache=${STRONGROOM_CACHE:-$HOME/.cache/strongroom}
dir="$cache/gitops-tools/sealed-secrets-$SEALED_SECRETS_VERSION-sops-$SOPS_VERSION-age-$AGE_VERSION"
if [[ -x "$dir/kubeseal" && -x "$dir/controller" && -x "$dir/sops" && -x "$dir/age" && -s "$dir/sealedsecret-crd.yaml" ]]; then
  echo "$dir"
  exit 0
fi
command -v go >/dev/null || { echo "error: go is required to build the GitOps tools (https://go.dev/dl)" >&2; exit 1; }
echo ">> building sealed-secrets $SEALED_SECRETS_VERSION, sops $SOPS_VERSION and age $AGE_VERSION from source (a few minutes on a cold cache)" >&2
mkdir -p "$dir.tmp"
export GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-trimpath
go install "github.com/bitnami-labs/sealed-secrets/cmd/kubeseal@$SEALED_SECRETS_VERSION" \
  "github.com/bitnami-labs/sealed-secrets/cmd/controller@$SEALED_SECRETS_VERSION" >&2
go install "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION" >&2
go install "filippo.io/age/cmd/age@$AGE_VERSION" "filippo.io/age/cmd/age-keygen@$AGE_VERSION" >&2
src=$(GOFLAGS=-mod=mod go mod download -json "github.com/bitnami-labs/sealed-secrets@$SEALED_SECRETS_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
cp "$src/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml" "$dir.tmp/sealedsecret-crd.yaml"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
