#!/usr/bin/env bash
# Runs a real Kubernetes control plane (etcd + kube-apiserver, built from source
# by deploy/controlplane/build.sh) on loopback, for development and tests.
#
#   deploy/local/stack.sh start          start (or reuse) the stack, seed RBAC, print the env
#   deploy/local/stack.sh stop [--purge] stop it; --purge also deletes the state dir
#   deploy/local/stack.sh status         exit 0 if running and ready, 3 otherwise
#   deploy/local/stack.sh env            print the sourceable env file
#   deploy/local/stack.sh clean          same as stop --purge
#
# Like controller-runtime's envtest there is no controller-manager, scheduler or
# kubelet: just storage, authentication, RBAC and the audit log, which is all
# Strongroom talks to. Two identities are set up:
#   - strongroom-admin (group system:masters) via a static token, for seeding
#     and for tests that need to look behind Strongroom's back;
#   - the ServiceAccount strongroom-system/strongroom with only the
#     impersonation rights of deploy/rbac/backend-impersonator.yaml, which is
#     what the backend runs as.
#
# Environment:
#   STRONGROOM_STACK_DIR       state dir (default ~/.cache/strongroom/stack)
#   STRONGROOM_ETCD_PORT       etcd client port (default 12379; peer port is +1)
#   STRONGROOM_APISERVER_PORT  kube-apiserver port (default 16443)
#   STRONGROOM_READY_TIMEOUT   seconds to wait for readiness (default 120)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
rbac_dir="$repo/deploy/rbac"

state=${STRONGROOM_STACK_DIR:-$HOME/.cache/strongroom/stack}
etcd_port=${STRONGROOM_ETCD_PORT:-12379}
api_port=${STRONGROOM_APISERVER_PORT:-16443}
ready_timeout=${STRONGROOM_READY_TIMEOUT:-120}

# The state dir holds private keys and bearer tokens: nobody else gets to read it.
umask 077

die() { echo "stack: error: $*" >&2; exit 1; }
log() { echo "stack: $*" >&2; }

for v in STRONGROOM_ETCD_PORT STRONGROOM_APISERVER_PORT STRONGROOM_READY_TIMEOUT; do
  [[ ${!v:-0} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
etcd_peer_port=$((etcd_port + 1))
(( etcd_port > 0 && etcd_peer_port < 65536 && api_port > 0 && api_port < 65536 )) ||
  die "ports out of range (etcd $etcd_port/$etcd_peer_port, apiserver $api_port)"

api_url="https://127.0.0.1:$api_port"
pki="$state/pki"
ca_crt="$pki/ca.crt"
admin_token_file="$state/admin.token"
backend_token_file="$state/backend.token"
admin_kc="$state/admin.kubeconfig"
backend_kc="$state/backend.kubeconfig"
env_file="$state/env"
audit_log="$state/apiserver-audit.log"
# Present only in a dir this script created; `stop --purge` refuses to delete
# anything else, so a mistyped STRONGROOM_STACK_DIR cannot wipe $HOME.
marker="$state/.strongroom-stack"

# ---------------------------------------------------------------------------
# Processes

pid_of() { [[ -s "$state/$1.pid" ]] && cat "$state/$1.pid"; }

# True if the pid file names a live process that really is $1. Checking the
# command name guards against a stale pid file whose number was reused after a
# reboot. Zombies count as dead: in a container whose PID 1 does not reap,
# a killed process can stay a zombie forever.
alive() {
  local name=$1 pid stat
  pid=$(pid_of "$name") || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 1
  # The state is the first field after the parenthesised command name.
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# Starts "$@" in its own session (so a Ctrl-C or a closing terminal does not
# take it down with the shell that started it), logging to $state/$name.log.
# The pid is written by the process itself just before exec, which stays
# correct whether or not setsid has to fork.
launch() {
  local name=$1; shift
  rm -f "$state/$name.pid"
  : >"$state/$name.log"
  # shellcheck disable=SC2016
  # 9>&- : the lock (see take_lock) must not be inherited, or the daemon
  # would hold it for as long as it runs and every later start/stop would wait.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$state/$name.pid" "$@" \
    </dev/null >>"$state/$name.log" 2>&1 9>&- &
  # Wait until the wrapper shell has exec'd the binary: until then the pid
  # names a process called "bash", which alive() would report as dead.
  local i
  for ((i = 0; i < 100; i++)); do
    alive "$name" && return 0
    sleep 0.05
  done
  show_log_tail "$name"
  die "$name did not start; see $state/$name.log"
}

# Sends SIGTERM, waits up to 30 s for a clean exit (etcd flushes, the API
# server drains), then SIGKILL.
terminate() {
  local name=$1 pid i
  if alive "$name"; then
    pid=$(pid_of "$name")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      alive "$name" || break
      sleep 0.1
    done
    if alive "$name"; then
      log "$name did not exit after 30 s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        alive "$name" || break
        sleep 0.1
      done
      alive "$name" && die "could not stop $name (pid $pid)"
    fi
    exited_pids+=("$pid")
  fi
  rm -f "$state/$name.pid"
}

stop_all() {
  exited_pids=()
  # API server first: it would otherwise log etcd errors while shutting down.
  terminate kube-apiserver
  terminate etcd
  # Both have exited. Give PID 1 a moment to reap them, so that ps or pgrep
  # right after a stop shows no <defunct> entries (harmless, but confusing).
  # Some container inits reap only every couple of seconds, hence one wait
  # for both instead of one each.
  local i pid pending
  for ((i = 0; i < 30; i++)); do
    pending=0
    for pid in "${exited_pids[@]}"; do
      [[ -e /proc/$pid ]] && pending=1
    done
    ((pending)) || break
    sleep 0.1
  done
}

show_log_tail() {
  echo "----- last 30 lines of $state/$1.log -----" >&2
  tail -n 30 "$state/$1.log" >&2 || true
  echo "-----" >&2
}

# A listening socket on the port answers a connect; a free port refuses it at
# once. This is bash's own /dev/tcp, so no extra tool is needed.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_port_free() {
  local port=$1 what=$2 env_var=$3
  if port_in_use "$port"; then
    {
      echo "stack: error: port $port ($what) on 127.0.0.1 is already in use by another process."
      if command -v ss >/dev/null; then ss -ltnp "sport = :$port" 2>/dev/null | sed 's/^/    /' || true; fi
      echo "  Stop that process, or choose another port with $env_var=<port>."
    } >&2
    exit 1
  fi
}

# Serialises start and stop, so two test runners starting the stack at once do
# not both launch etcd. Released when this script exits.
take_lock() {
  exec 9>"$state/lock"
  flock -w 300 9 || die "another stack.sh has held $state/lock for 5 minutes; is one stuck?"
}

api_ready() {
  "$kubectl" --kubeconfig "$admin_kc" --request-timeout=5s get --raw=/readyz >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# Binaries

find_binaries() {
  local build="$repo/deploy/controlplane/build.sh" out
  [[ -x $build ]] || die "$build is missing or not executable"
  # build.sh prints progress on stderr (left visible: a cold build takes
  # minutes) and the bin dir on stdout. It returns at once when cached.
  out=$("$build") || die "building the control plane failed (see the output above)"
  bin_dir=$(tail -n 1 <<<"$out")
  local b
  for b in etcd kube-apiserver kubectl; do
    [[ -x "$bin_dir/$b" ]] || die "$b not found in '$bin_dir' (reported by $build)"
  done
  kubectl="$bin_dir/kubectl"
}

# ---------------------------------------------------------------------------
# Keys, certificates and tokens (made once, kept in the state dir)

# Each file is written under a .tmp name and renamed, so an interrupted run
# never leaves half a key behind for the next run to trust.
gen_pki() {
  mkdir -p "$pki"

  if [[ ! -s $ca_crt || ! -s $pki/ca.key ]]; then
    log "creating a CA in $pki"
    cat >"$pki/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = strongroom local stack CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
      -config "$pki/ca.cnf" -keyout "$pki/ca.key.tmp" -out "$pki/ca.crt.tmp" 2>/dev/null ||
      die "openssl could not create the CA"
    mv "$pki/ca.key.tmp" "$pki/ca.key"
    mv "$pki/ca.crt.tmp" "$ca_crt"
    rm -f "$pki/apiserver.crt" # signed by the old CA, if any
  fi

  # Re-issued when missing or expiring within a day, so a long-lived dev
  # machine never ends up with an expired serving certificate.
  if [[ ! -s $pki/apiserver.crt || ! -s $pki/apiserver.key ]] ||
    ! openssl x509 -checkend 86400 -noout -in "$pki/apiserver.crt" >/dev/null 2>&1; then
    log "issuing the API server's serving certificate (127.0.0.1, localhost)"
    cat >"$pki/apiserver.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = kube-apiserver
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    openssl req -new -nodes -newkey rsa:2048 -sha256 -config "$pki/apiserver.cnf" \
      -keyout "$pki/apiserver.key.tmp" -out "$pki/apiserver.csr" 2>/dev/null ||
      die "openssl could not create the serving key"
    openssl x509 -req -sha256 -days 825 -in "$pki/apiserver.csr" \
      -CA "$ca_crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -extfile "$pki/apiserver.cnf" -extensions v3_server -out "$pki/apiserver.crt.tmp" 2>/dev/null ||
      die "openssl could not sign the serving certificate"
    mv "$pki/apiserver.key.tmp" "$pki/apiserver.key"
    mv "$pki/apiserver.crt.tmp" "$pki/apiserver.crt"
    rm -f "$pki/apiserver.csr"
  fi

  # Key pair the API server signs ServiceAccount tokens with (TokenRequest)
  # and verifies them with. Kept, so tokens stay valid across restarts.
  if [[ ! -s $pki/sa.key || ! -s $pki/sa.pub ]]; then
    log "creating the service-account signing key"
    openssl genrsa -out "$pki/sa.key.tmp" 2048 2>/dev/null || die "openssl could not create sa.key"
    openssl rsa -in "$pki/sa.key.tmp" -pubout -out "$pki/sa.pub" 2>/dev/null || die "openssl could not write sa.pub"
    mv "$pki/sa.key.tmp" "$pki/sa.key"
  fi

  if [[ ! -s $admin_token_file ]]; then
    log "creating the admin token"
    openssl rand -hex 32 | tr -d '\n' >"$admin_token_file.tmp"
    mv "$admin_token_file.tmp" "$admin_token_file"
  fi
  # Static token file: token,user,uid,"groups". Rewritten from the kept token
  # each time, so the file format is never stale.
  printf '%s,strongroom-admin,strongroom-admin,"system:masters"\n' \
    "$(cat "$admin_token_file")" >"$pki/tokens.csv"
}

# kubeconfig with the CA embedded, so the file works on its own (e.g. when
# copied into a test container).
write_kubeconfig() {
  local path=$1 user=$2 token=$3
  cat >"$path.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: strongroom-local
    cluster:
      server: $api_url
      certificate-authority-data: $(base64 -w0 <"$ca_crt")
users:
  - name: $user
    user:
      token: $token
contexts:
  - name: $user@strongroom-local
    context:
      cluster: strongroom-local
      user: $user
current-context: $user@strongroom-local
EOF
  mv "$path.tmp" "$path"
}

# TokenRequest API: a bound, expiring token for the backend's ServiceAccount,
# the way the kubelet would project one into the backend's pod.
request_backend_token() {
  local token
  token=$("$kubectl" --kubeconfig "$admin_kc" create token strongroom \
    -n strongroom-system --duration=48h) || die "could not get a token for strongroom-system/strongroom"
  printf '%s' "$token" >"$backend_token_file.tmp"
  mv "$backend_token_file.tmp" "$backend_token_file"
  write_kubeconfig "$backend_kc" strongroom "$token"
}

write_env() {
  cat >"$env_file.tmp" <<EOF
# Written by deploy/local/stack.sh. Source it: . '$env_file'
export KUBE_API_URL='$api_url'
export KUBE_CA_FILE='$ca_crt'
export KUBE_ADMIN_TOKEN_FILE='$admin_token_file'
export ADMIN_KUBECONFIG='$admin_kc'
export BACKEND_KUBECONFIG='$backend_kc'
export BACKEND_TOKEN_FILE='$backend_token_file'
export KUBE_AUDIT_LOG='$audit_log'
export KUBECTL='$kubectl'
EOF
  mv "$env_file.tmp" "$env_file"
}

# ---------------------------------------------------------------------------
# Subcommands

# Server-side apply is idempotent; --force-conflicts makes these manifests
# win over hand edits made with another field manager.
seed_rbac() {
  "$kubectl" --kubeconfig "$admin_kc" apply --server-side --force-conflicts \
    --field-manager=strongroom-stack \
    -f "$rbac_dir/backend-impersonator.yaml" -f "$rbac_dir/demo-tenants.yaml" >&2 ||
    die "seeding RBAC failed"
}

cmd_start() {
  mkdir -p "$state"
  touch "$marker"
  take_lock

  find_binaries

  # Already up: nothing to do. The env file is only written at the end of a
  # successful start, so its presence means seeding has happened.
  if alive etcd && alive kube-apiserver && [[ -s $env_file ]] && api_ready; then
    # The backend token lives 48 h; renew it when it is older than a day so a
    # stack left running for days keeps working.
    if [[ -n $(find "$backend_token_file" -mmin +1440 2>/dev/null) ]]; then
      log "renewing the backend's ServiceAccount token"
      request_backend_token
    fi
    # Re-apply the RBAC so a running stack follows changes to the manifests.
    seed_rbac
    log "already running at $api_url"
    cat "$env_file"
    return 0
  fi

  # Half up (one process died, or a previous start failed midway): start over.
  stop_all
  rm -f "$env_file"

  check_port_free "$etcd_port" "etcd client" STRONGROOM_ETCD_PORT
  check_port_free "$etcd_peer_port" "etcd peer" STRONGROOM_ETCD_PORT
  check_port_free "$api_port" "kube-apiserver" STRONGROOM_APISERVER_PORT

  gen_pki
  write_kubeconfig "$admin_kc" strongroom-admin "$(cat "$admin_token_file")"

  # From here on, a failure stops what was started, so a failed start never
  # leaves a half-configured API server behind for the next run to trust.
  trap 'rc=$?; if ((rc != 0)); then log "start failed, stopping what was started"; stop_all; fi' EXIT

  local started=$SECONDS
  # --unsafe-no-fsync: the data is disposable and fsync dominates etcd's
  # latency on small VMs. The explicit --initial-cluster matches the peer
  # port; the default names localhost:2380.
  launch etcd "$bin_dir/etcd" \
    --name=strongroom \
    --data-dir="$state/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="strongroom=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync

  local deadline=$((SECONDS + ready_timeout))
  until port_in_use "$etcd_port"; do
    alive etcd || { show_log_tail etcd; die "etcd exited during startup"; }
    ((SECONDS < deadline)) || { show_log_tail etcd; die "etcd did not listen on 127.0.0.1:$etcd_port within ${ready_timeout}s"; }
    sleep 0.2
  done

  # --endpoint-reconciler-type=none: the reconciler publishes the advertise
  # address as the endpoint of the "kubernetes" Service, and refuses to start
  # with a loopback one. Nothing here runs in-cluster, so nothing needs it.
  # --audit-log-max*: rotate instead of growing without bound on a dev machine.
  launch kube-apiserver "$bin_dir/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --secure-port="$api_port" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$pki/apiserver.crt" \
    --tls-private-key-file="$pki/apiserver.key" \
    --authorization-mode=RBAC \
    --token-auth-file="$pki/tokens.csv" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --api-audiences=https://kubernetes.default.svc \
    --service-cluster-ip-range=10.0.0.0/24 \
    --disable-admission-plugins=ServiceAccount \
    --audit-policy-file="$here/audit-policy.yaml" \
    --audit-log-path="$audit_log" \
    --audit-log-format=json \
    --audit-log-maxsize=100 \
    --audit-log-maxbackup=2

  until api_ready; do
    alive kube-apiserver || { show_log_tail kube-apiserver; die "kube-apiserver exited during startup"; }
    alive etcd || { show_log_tail etcd; die "etcd exited while kube-apiserver was starting"; }
    ((SECONDS < deadline)) || { show_log_tail kube-apiserver; die "kube-apiserver was not ready (/readyz) within ${ready_timeout}s"; }
    sleep 0.25
  done
  log "ready at $api_url after $((SECONDS - started))s"

  seed_rbac

  request_backend_token
  write_env
  trap - EXIT
  cat "$env_file"
}

cmd_stop() {
  local purge=${1:-}
  case $purge in
    "" | --purge) ;;
    *) die "unknown option for stop: $purge (expected --purge)" ;;
  esac
  if [[ ! -d $state ]]; then
    log "not running (no state dir $state)"
    return 0
  fi
  take_lock
  stop_all
  if [[ $purge == --purge ]]; then
    [[ -e $marker ]] || die "$state was not created by this script; not deleting it"
    rm -rf "$state"
    log "removed $state"
  fi
}

cmd_status() {
  local ok=0 name
  for name in etcd kube-apiserver; do
    if alive "$name"; then
      echo "$name: running (pid $(pid_of "$name"))"
    else
      echo "$name: not running"
      ok=3
    fi
  done
  if ((ok == 0)); then
    # Only look for kubectl when it is needed, and never trigger a build here.
    kubectl=$(sed -n "s/^export KUBECTL='\(.*\)'$/\1/p" "$env_file" 2>/dev/null || true)
    if [[ -x $kubectl && -s $admin_kc ]] && api_ready; then
      echo "api: ready at $api_url"
    else
      echo "api: not ready"
      ok=3
    fi
  fi
  return "$ok"
}

cmd_env() {
  [[ -s $env_file ]] || die "no env file at $env_file; run: $0 start"
  cat "$env_file"
}

case ${1:-} in
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  clean) cmd_stop --purge ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 {start|stop [--purge]|status|env|clean}" >&2
    exit 2
    ;;
esac
