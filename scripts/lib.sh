# Shared by scripts/dev and scripts/test: installs what is missing
# (idempotently, quietly when warm) and runs the pieces of the local stack.
# Sourced, not executed.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${STRONGROOM_CACHE:-$HOME/.cache/strongroom}
TOOLS="$CACHE/tools"
mkdir -p "$CACHE" "$TOOLS"
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"
# One build directory outside the clone: a fresh clone on a warm machine
# (CI) reuses every compiled dependency.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
# cargo-leptos writes the site here; the server finds it through STRONGROOM_SITE_ROOT.
SITE_ROOT="$ROOT/target/site"
SERVER_BIN="$CARGO_TARGET_DIR/release/strongroom-server"

CARGO_LEPTOS_VERSION=0.3.9
# Must equal the wasm-bindgen crate version pinned in Cargo.toml.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' "$ROOT/Cargo.toml")
BINARYEN_VERSION=132.0.0
SCHEMATHESIS_VERSION=4.32.5
export STRONGROOM_SCHEMATHESIS="$TOOLS/schemathesis/bin/schemathesis"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages: a browser for the end-to-end tests, PostgreSQL for the
# multi-replica configuration, openssl for the control plane's certificates.
ensure_apt() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  [[ -x /usr/lib/postgresql/15/bin/postgres ]] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v faketime >/dev/null || missing+=(faketime)
  command -v node >/dev/null || missing+=(nodejs npm)
  command -v go >/dev/null || missing+=(golang-go)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  # The container image: podman builds and runs it.
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
  fi
}

ensure_rust_tools() {
  command -v cargo >/dev/null || die "Rust is required (https://rustup.rs)"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >&2
  fi
  if [[ "$(cargo-leptos --version 2>/dev/null)" != *"$CARGO_LEPTOS_VERSION"* ]]; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes on 2 cores, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads >&2
  fi
  if [[ "$(wasm-bindgen --version 2>/dev/null)" != *"$WASM_BINDGEN_VERSION"* ]]; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked >&2
  fi
  # Debian's binaryen is too old (hydration fails); npm's ships a working wasm-opt.
  if [[ "$(wasm-opt --version 2>/dev/null)" != *"${BINARYEN_VERSION%%.*}"* ]]; then
    say "installing wasm-opt (npm binaryen $BINARYEN_VERSION)"
    (cd "$TOOLS" && npm install --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION" >&2)
  fi
}

# The Python schemathesis runs on: the newest 3.12+ at hand (on PATH or from
# pyenv), else python3. CPython 3.11 fails inside hypothesis on this API's
# schema ("SystemError: AST constructor recursion depth mismatch").
schemathesis_python() {
  local p
  for p in python3.14 python3.13 python3.12 \
    $(ls -d "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
    if "$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      command -v "$p"
      return
    fi
  done
  command -v python3
}

# schemathesis (PyPI) for the API conformance test, in its own virtualenv,
# made again when a better Python turns up.
ensure_python_tools() {
  local py want have
  py=$(schemathesis_python)
  want=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  have=$("$TOOLS/schemathesis/bin/python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
  if [[ $want != "$have" || "$("$STRONGROOM_SCHEMATHESIS" --version 2>/dev/null)" != *"$SCHEMATHESIS_VERSION"* ]]; then
    say "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) on Python $want"
    rm -rf "$TOOLS/schemathesis"
    "$py" -m venv "$TOOLS/schemathesis" >&2
    "$TOOLS/schemathesis/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
}

ensure_node_deps() {
  local dir
  for dir in "$ROOT/deploy/oidc" "$ROOT/end2end"; do
    if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
      say "installing npm packages in ${dir#"$ROOT"/}"
      (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent >&2)
    fi
  done
}

# Builds the server binary and the site (wasm, js, css) in release mode.
build_site() {
  say "building Strongroom (cargo leptos build --release --split)"
  # --split: each lazy route (app/src/lib.rs) becomes a wasm module of its
  # own, loaded when first visited. Stale modules of earlier builds go.
  rm -rf "$SITE_ROOT/pkg"
  (cd "$ROOT" && cargo leptos build --release --split >&2)
  # Brotli and gzip copies for /pkg, served instead of compressing per request.
  "$SERVER_BIN" precompress "$SITE_ROOT" >/dev/null
}

# The container image (Dockerfile) as users get it, built here without a
# registry: the build context named `build` stands in for the Dockerfile's
# build stage with the same tree (deploy/image/collect.sh) made from this
# machine's release build; the runtime stage is the published one.
IMAGE=${STRONGROOM_IMAGE:-localhost/strongroom:test}
PODMAN_CONF="$CACHE/containers.conf"

# podman as root without systemd on cgroup v1: vfs storage, runc, cgroupfs,
# and no default ulimits (setting RLIMIT_NPROC is refused here).
podman_() {
  CONTAINERS_CONF="$PODMAN_CONF" podman --storage-driver=vfs --runtime runc "$@"
}

# Builds $IMAGE from the Dockerfile's runtime stage. Needs build_site first.
build_image() {
  local conf=$'[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"'
  [[ "$(cat "$PODMAN_CONF" 2>/dev/null)" == "$conf" ]] || printf '%s\n' "$conf" >"$PODMAN_CONF"
  local ctx="$CACHE/image-context"
  rm -rf "$ctx"
  "$ROOT/deploy/image/collect.sh" "$SERVER_BIN" "$SITE_ROOT" "$ctx/out"
  say "building the image $IMAGE (podman, the Dockerfile's runtime stage)"
  podman_ build --quiet --build-context build="$ctx" --target runtime \
    -f "$ROOT/Dockerfile" -t "$IMAGE" "$ctx/out/data" >/dev/null
  # Earlier builds' layers, now untagged.
  podman_ image prune -f >/dev/null 2>&1 || true
}

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# The OIDC provider (npm oidc-provider) with the demo users.
# Args: state-dir port redirect-uris post-logout-uris
start_oidc() {
  local dir=$1 port=$2 redirects=$3 post_logout=$4
  mkdir -p "$dir"
  if pid_alive "$dir/oidc.pid"; then return 0; fi
  port_free "$port" || die "port $port (OIDC provider) is in use; stop what runs there or set another port"
  # `&` must apply to node alone, so that the pid file names node itself.
  (
    cd "$ROOT/deploy/oidc" || exit 1
    OIDC_PORT=$port OIDC_ISSUER="http://127.0.0.1:$port" OIDC_STATE_DIR="$dir/oidc-state" \
      OIDC_REDIRECT_URIS="$redirects" OIDC_POST_LOGOUT_REDIRECT_URIS="$post_logout" \
      nohup node server.mjs >"$dir/oidc.log" 2>&1 &
    echo $! >"$dir/oidc.pid"
  )
  wait_http "http://127.0.0.1:$port/.well-known/openid-configuration" 30 \
    || { tail -20 "$dir/oidc.log" >&2; die "the OIDC provider did not start (log: $dir/oidc.log)"; }
}

# A throwaway PostgreSQL cluster on loopback, for the multi-replica tests.
# PostgreSQL refuses to run as root, so it runs as the postgres user in a
# directory that user can reach. Args: dir port
# A CA and a server certificate (localhost, 127.0.0.1) for PostgreSQL's TLS,
# and a second, unrelated CA that must be refused. Made once per data dir.
# Args: data-dir
postgres_tls() {
  local t=$1/tls
  [[ -s $t/server.crt && -s $t/other-ca.crt ]] && return 0
  mkdir -p "$t"
  local ca=(-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj /CN=strongroom-test-postgres-ca "${ca[@]}" -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj /CN=another-ca "${ca[@]}" -keyout "$t/other-ca.key" -out "$t/other-ca.crt" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
    -days 3650 -out "$t/server.crt" -extfile <(printf '%s\n' \
      'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=critical,CA:FALSE' \
      'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth') 2>/dev/null
  chmod 0600 "$t/server.key"
  [[ $(id -u) == 0 ]] && chown postgres: "$t/server.key" "$t/server.crt"
  chmod 0644 "$t/ca.crt" "$t/other-ca.crt"
}

# PostgreSQL with TLS offered (clients choose: the tests use plain
# connections, sslmode=require and verify-full against tls/ca.crt).
start_postgres() {
  local dir=$1 port=$2 bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  local as=()
  [[ $(id -u) == 0 ]] && as=(runuser -u postgres --)
  if [[ ! -s "$dir/PG_VERSION" ]]; then
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres: "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir" -U strongroom --auth=trust -E UTF8 >/dev/null
  fi
  postgres_tls "$dir"
  # TLS and the addresses live in the data directory's configuration, so
  # every start (the fault tests restart it with pg_ctl) has them.
  local conf="ssl = on
ssl_cert_file = '$dir/tls/server.crt'
ssl_key_file = '$dir/tls/server.key'
listen_addresses = '127.0.0.1,127.0.0.2'
fsync = on"
  [[ "$(cat "$dir/strongroom.conf" 2>/dev/null)" == "$conf" ]] || printf '%s\n' "$conf" >"$dir/strongroom.conf"
  grep -q "^include_if_exists = 'strongroom.conf'" "$dir/postgresql.conf" \
    || echo "include_if_exists = 'strongroom.conf'" >>"$dir/postgresql.conf"
  if "${as[@]}" "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return 0; fi
  port_free "$port" || die "port $port (PostgreSQL) is in use"
  "${as[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir" start >/dev/null \
    || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U strongroom -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='strongroom'" | grep -q 1 \
    || "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U strongroom strongroom
}

# The real sealed-secrets controller (built from source by
# deploy/gitops-tools/build.sh) against the stack's API server, with the
# SealedSecret and ExternalSecret CRDs installed and a Service
# kube-system/sealed-secrets-controller in front of it, so Strongroom fetches
# its certificate through the API server's service proxy as in a cluster.
# The controller only runs with in-cluster configuration: a private mount
# namespace puts a token, the CA and the namespace where it looks for them.
# It runs with the stack's admin token (a real cluster gives it a
# ServiceAccount). The API server refuses to proxy to loopback, so the
# controller listens on this machine's first non-loopback IPv4 address.
# Args: state-dir port
start_sealed_secrets() {
  local dir=$1 port=$2 tools kubectl ip sa api_port
  api_port=$(sed -n "s|^export KUBE_API_URL='https://127.0.0.1:\([0-9]*\)'$|\1|p" "$dir/env")
  tools=$("$ROOT/deploy/gitops-tools/build.sh")
  local SEALED_SECRETS_TAG=${tools##*sealed-secrets-v}; SEALED_SECRETS_TAG=${SEALED_SECRETS_TAG%%-sops*}
  kubectl=$(stack_kubectl)
  local kc=(--kubeconfig "$dir/admin.kubeconfig")
  "$kubectl" "${kc[@]}" apply --server-side --force-conflicts --field-manager=strongroom-stack \
    -f "$tools/sealedsecret-crd.yaml" -f "$ROOT/deploy/local/externalsecret-crd.yaml" >/dev/null
  "$kubectl" "${kc[@]}" wait --for=condition=Established --timeout=60s \
    crd/sealedsecrets.bitnami.com crd/externalsecrets.external-secrets.io >/dev/null
  ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
  [[ -n $ip ]] || ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -1)
  [[ -n $ip ]] || die "the sealed-secrets controller needs a non-loopback IPv4 address (the API server does not proxy to loopback)"
  # The API server proxies only to endpoints that are a Pod's IP: a Pod
  # object stands for the controller (no kubelet runs it) with its status
  # naming this machine's address.
  "$kubectl" "${kc[@]}" apply --server-side --force-conflicts --field-manager=strongroom-stack -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: sealed-secrets-controller-local, namespace: kube-system, labels: {app: sealed-secrets-controller}}
spec:
  containers: [{name: controller, image: "bitnami/sealed-secrets-controller:$SEALED_SECRETS_TAG"}]
YAML
  "$kubectl" "${kc[@]}" patch pod sealed-secrets-controller-local -n kube-system --subresource=status --type=merge \
    -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}]}}" >/dev/null
  "$kubectl" "${kc[@]}" apply --server-side --force-conflicts --field-manager=strongroom-stack -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: sealed-secrets-controller, namespace: kube-system}
spec:
  ports: [{name: http, port: 8080, targetPort: $port, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: sealed-secrets-controller-local
  namespace: kube-system
  labels: {kubernetes.io/service-name: sealed-secrets-controller}
addressType: IPv4
ports: [{name: http, port: $port, protocol: TCP}]
endpoints:
  - addresses: ["$ip"]
    conditions: {ready: true}
    targetRef: {kind: Pod, namespace: kube-system, name: sealed-secrets-controller-local}
YAML
  if pid_alive "$dir/sealed-secrets.pid"; then return 0; fi
  [[ $(id -u) == 0 ]] || die "the local sealed-secrets controller needs root (a private mount namespace for its in-cluster configuration)"
  port_free "$port" || die "port $port (sealed-secrets controller) is in use"
  sa="$dir/sealed-secrets-sa"
  mkdir -p "$sa" /var/run/secrets/kubernetes.io/serviceaccount
  cp "$dir/admin.token" "$sa/token"
  cp "$dir/pki/ca.crt" "$sa/ca.crt"
  echo kube-system >"$sa/namespace"
  KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$api_port \
    nohup unshare -m sh -c 'mount --bind "$0" /var/run/secrets/kubernetes.io/serviceaccount && exec "$1" --listen-addr "$2" --listen-metrics-addr 127.0.0.1:$3' \
    "$sa" "$tools/controller" "$ip:$port" "$((port + 1))" >"$dir/sealed-secrets.log" 2>&1 &
  echo $! >"$dir/sealed-secrets.pid"
  wait_http "http://$ip:$port/v1/cert.pem" 60 \
    || { tail -20 "$dir/sealed-secrets.log" >&2; die "the sealed-secrets controller did not start (log: $dir/sealed-secrets.log)"; }
}

stop_postgres() {
  local dir=$1 bin
  [[ -s "$dir/PG_VERSION" ]] || return 0
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  local as=()
  [[ $(id -u) == 0 ]] && as=(runuser -u postgres --)
  "${as[@]}" "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

stop_pidfile() {
  local f=$1
  if pid_alive "$f"; then
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# The test instance of the stack (scripts/test, scripts/bench): its own state
# and ports, so it can run while scripts/dev is up.
test_stack_settings() {
  # The test IdP lets tests change accounts mid-session (PUT /test/accounts/..).
  export OIDC_TEST_ADMIN=1
  export STRONGROOM_STACK_DIR=${STRONGROOM_TEST_STACK_DIR:-$CACHE/test-stack}
  export STRONGROOM_ETCD_PORT=${STRONGROOM_TEST_ETCD_PORT:-22379}
  export STRONGROOM_APISERVER_PORT=${STRONGROOM_TEST_APISERVER_PORT:-26443}
  OIDC_PORT=${STRONGROOM_TEST_OIDC_PORT:-25556}
  PG_PORT=${STRONGROOM_TEST_PG_PORT:-25432}
  PG_DIR=${STRONGROOM_TEST_PG_DIR:-/var/tmp/strongroom-test-pg}
  E2E_PORT=${STRONGROOM_TEST_E2E_PORT:-23100}
  SEALED_SECRETS_PORT=${STRONGROOM_TEST_SEALED_SECRETS_PORT:-28080}
  E2E_URL="http://127.0.0.1:$E2E_PORT"
  # In-process test servers (and the benchmark's server) use 23000-23039;
  # each is a registered redirect URI.
  redirects="$E2E_URL/auth/callback"
  post_logout="$E2E_URL/"
  local p
  for p in $(seq 23000 23039); do
    redirects+=",http://127.0.0.1:$p/auth/callback"
    post_logout+=",http://127.0.0.1:$p/"
  done
}

start_test_stack() {
  say "starting the local stack (control plane, IdP, PostgreSQL)"
  "$ROOT/deploy/local/stack.sh" start >/dev/null
  start_oidc "$STRONGROOM_STACK_DIR" "$OIDC_PORT" "$redirects" "$post_logout"
  start_postgres "$PG_DIR" "$PG_PORT"
  start_sealed_secrets "$STRONGROOM_STACK_DIR" "$SEALED_SECRETS_PORT"
  cat >>"$STRONGROOM_STACK_DIR/env" <<ENV
OIDC_ISSUER=http://127.0.0.1:$OIDC_PORT
OIDC_CLIENT_ID=strongroom
OIDC_CLIENT_SECRET=strongroom-local-secret
POSTGRES_URL=postgres://strongroom@127.0.0.1:$PG_PORT/strongroom
POSTGRES_DIR=$PG_DIR
POSTGRES_PORT=$PG_PORT
POSTGRES_CA=$PG_DIR/tls/ca.crt
POSTGRES_OTHER_CA=$PG_DIR/tls/other-ca.crt
GITOPS_TOOLS=$("$ROOT/deploy/gitops-tools/build.sh")
ENV
}

stop_test_stack() {
  set +e
  stop_pidfile "$STRONGROOM_STACK_DIR/e2e-server.pid"
  stop_pidfile "$STRONGROOM_STACK_DIR/oidc.pid"
  stop_pidfile "$STRONGROOM_STACK_DIR/sealed-secrets.pid"
  stop_postgres "$PG_DIR"
  "$ROOT/deploy/local/stack.sh" stop >/dev/null 2>&1
}

# The admin kubectl of the stack in $STRONGROOM_STACK_DIR (its env file
# holds `export KUBECTL='...'` lines).
stack_kubectl() {
  sed -n "s/^export KUBECTL='\(.*\)'$/\1/p" "$STRONGROOM_STACK_DIR/env"
}

# What scripts/dev prints once the stack is up. Args: url
dev_hint() {
  cat <<MSG

  Strongroom is starting at  $1

  Demo users (any password works on the demo sign-in form):
    alice  edits secrets in team-a, payments  bob  edits secrets in team-b
    carol  lists team-a secrets, no values  dave   auditor
    eve    belongs to no team
    grace  edits team-a, approves access in payments (guarded: fresh sign-in and approval)

  Admin kubectl for the local cluster:
    $(stack_kubectl) --kubeconfig $STRONGROOM_STACK_DIR/admin.kubeconfig get secrets -A

MSG
}

# The demo's guarded namespace (deploy/rbac/demo-tenants.yaml): payments
# asks for a fresh sign-in and a second person's approval; grace approves.
DEMO_GUARDS=payments=step-up+approval
DEMO_APPROVERS=oidc:secret-approvers

# The release server for the browser tests, on $E2E_PORT against the test
# stack. Args: data-dir
start_e2e_server() {
  port_free "$E2E_PORT" || die "port $E2E_PORT is in use"
  STRONGROOM_LISTEN="127.0.0.1:$E2E_PORT" STRONGROOM_PUBLIC_URL="$E2E_URL" \
    STRONGROOM_OIDC_ISSUER="http://127.0.0.1:$OIDC_PORT" STRONGROOM_OIDC_CLIENT_SECRET=strongroom-local-secret \
    STRONGROOM_KUBECONFIG="$STRONGROOM_STACK_DIR/backend.kubeconfig" \
    STRONGROOM_NAMESPACES=team-a,team-b,payments \
    STRONGROOM_NAMESPACE_GUARDS="$DEMO_GUARDS" STRONGROOM_APPROVER_GROUPS="$DEMO_APPROVERS" \
    STRONGROOM_DATA_DIR="$1" STRONGROOM_COOKIE_SECURE=false \
    STRONGROOM_SITE_ROOT="$SITE_ROOT" \
    nohup "$SERVER_BIN" >"$STRONGROOM_STACK_DIR/e2e-server.log" 2>&1 &
  echo $! >"$STRONGROOM_STACK_DIR/e2e-server.pid"
  wait_http "$E2E_URL/healthz" 30 || { tail -20 "$STRONGROOM_STACK_DIR/e2e-server.log"; die "the server did not start"; }
}

# checkov (PyPI), the policy scanner the chart's tests run over every
# configuration they render (deploy/helm/tests/checkov.rs), in a virtualenv
# of its own under the cache, keyed by version; exports STRONGROOM_CHECKOV.
# Idempotent, and instant when warm (a marker, not `checkov --version`,
# which takes seconds).
CHECKOV_VERSION=3.3.30
ensure_checkov() {
  local venv="$CACHE/checkov-$CHECKOV_VERSION"
  if [[ "$(cat "$venv/.installed" 2>/dev/null)" != "$CHECKOV_VERSION" || ! -x "$venv/bin/checkov" ]]; then
    say "installing checkov $CHECKOV_VERSION (PyPI)"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2
    echo "$CHECKOV_VERSION" >"$venv/.installed"
  fi
  export STRONGROOM_CHECKOV="$venv/bin/checkov"
}
