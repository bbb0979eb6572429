#!/usr/bin/env bash
# Renders the plain manifests in this folder from the Helm chart with its
# default values, for installing without Helm:
#
#   deploy/manifests/render.sh            rewrite strongroom.yaml
#   deploy/manifests/render.sh --stdout   print what it would write
#
# The chart is the one source; never edit strongroom.yaml by hand (a test
# fails when it is out of date). helm is built from source by
# deploy/helm-bin/build.sh and cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
namespace=strongroom-system
release=strongroom

case ${1:-} in
  "" | --stdout) ;;
  *) echo "usage: $0 [--stdout]" >&2; exit 2 ;;
esac

helm=$("$repo/deploy/helm-bin/build.sh" | tail -n 1)

render() {
  cat <<HEADER
# Strongroom, plain Kubernetes manifests.
#
# GENERATED from deploy/helm/strongroom (default values, classic RBAC) by
# deploy/manifests/render.sh; do not edit. Before applying, edit at least
# STRONGROOM_PUBLIC_URL, STRONGROOM_OIDC_ISSUER and the image, and create the
# Secret strongroom-oidc (key client-secret) in namespace $namespace:
#
#   kubectl apply --server-side -f strongroom.yaml
#
# /metrics (ClusterIP Service strongroom-metrics, port metrics) is closed by
# the NetworkPolicy: to scrape it, add an ingress rule for port metrics from
# your Prometheus (the chart's networkPolicy.metricsFrom).
#
# For anything beyond the defaults (PostgreSQL and several replicas,
# constrained impersonation, an Ingress), use the chart.
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels:
    app.kubernetes.io/part-of: strongroom
    # The pod meets the "restricted" Pod Security Standard.
    pod-security.kubernetes.io/enforce: restricted
HEADER
  # Classic impersonation: plain manifests cannot see the cluster's version,
  # and classic works on every one (see the chart for constrained mode).
  "$helm" template "$release" "$repo/deploy/helm/strongroom" --namespace "$namespace" \
    --set rbac.mode=classic
}

if [[ ${1:-} == --stdout ]]; then
  render
else
  render >"$here/strongroom.yaml.tmp"
  mv "$here/strongroom.yaml.tmp" "$here/strongroom.yaml"
  echo "wrote $here/strongroom.yaml" >&2
fi
