#!/usr/bin/env bash
# Starts the whole gateway on this machine, in the foreground: installs dependencies and builds when
# needed, brings up a local MariaDB and Redis when none is reachable, applies migrations, then runs
# one api process and $WORKERS worker processes with their output labelled.
#
# Ctrl-C / SIGTERM: every process is asked to stop (SIGTERM) and waited for; after STOP_TIMEOUT_S
# seconds the stragglers are killed. If the api dies, everything stops and this script exits with
# its status. A worker that dies is restarted (with a growing delay if it keeps dying); meanwhile the
# other workers take its shards over when its leases expire.
#
# Options (environment): WORKERS (default 2), STOP_TIMEOUT_S (default 30); every gateway setting
# (PORT, DATABASE_URL, REDIS_URL, WA_DRIVER, …) is passed through — see the README.
set -euo pipefail
cd "$(dirname "$0")/.."
# `wait -n -p` (which child exited) arrived in bash 5.1.
if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
  echo "bash >= 5.1 is required, found $BASH_VERSION" >&2
  exit 1
fi

WORKERS="${WORKERS:-2}"
STOP_TIMEOUT_S="${STOP_TIMEOUT_S:-30}"
[[ "$WORKERS" =~ ^[0-9]+$ ]] || { echo "WORKERS must be a whole number, got '$WORKERS'" >&2; exit 64; }
[[ "$STOP_TIMEOUT_S" =~ ^[0-9]+$ ]] || { echo "STOP_TIMEOUT_S must be a whole number, got '$STOP_TIMEOUT_S'" >&2; exit 64; }
[[ "${WORKER_METRICS_PORT:-0}" =~ ^[0-9]+$ ]] || { echo "WORKER_METRICS_PORT must be a port number" >&2; exit 64; }

say() { printf '%-8s | %s\n' start "$*" >&2; }

bash scripts/prepare.sh
bash scripts/ensure-services.sh
npm run -s gateway -- migrate || {
  echo "could not migrate the database at ${DATABASE_URL:-mysql://root@127.0.0.1:3306/wa_gateway} (DATABASE_URL);" \
    "it needs an account that may create the database and its tables" >&2
  exit 1
}

say "WhatsApp driver: ${WA_DRIVER:-baileys}${SIM_WORLD:+ (world: $SIM_WORLD)}; workers: $WORKERS"

# Output of a child goes through a filter that labels each line. The filters ignore SIGINT/SIGTERM
# so that a Ctrl-C (sent to the whole process group) cannot cut off a child's shutdown log lines.
declare -A label_of=() # pid -> label
declare -A pid_of=()   # label -> pid
spawn() { # label script [VAR=value…]
  local label="$1" script="$2"
  shift 2
  local tag
  tag="$(printf '%-8s |' "$label")"
  env "$@" node "$script" \
    > >(trap '' INT TERM; exec sed -u "s/^/$tag /") \
    2> >(trap '' INT TERM; exec sed -u "s/^/$tag /" >&2) &
  label_of[$!]="$label"
  pid_of[$label]=$!
}

declare -A started_at=() restart_delay=()
spawn_worker() { # index
  local i="$1" extra=()
  # Workers must not share a WORKER_ID (they would count as one when balancing shards) nor a port.
  if [ -n "${WORKER_ID:-}" ]; then extra+=("WORKER_ID=$WORKER_ID-$i"); fi
  if [ "${WORKER_METRICS_PORT:-0}" -gt 0 ]; then extra+=("WORKER_METRICS_PORT=$((WORKER_METRICS_PORT + i - 1))"); fi
  spawn "worker-$i" dist/worker/main.js ${extra[@]+"${extra[@]}"}
  started_at[$i]=$SECONDS
}

stopping=0
exit_status=0
killer=''
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  local pids=("${!label_of[@]}")
  [ "${#pids[@]}" -eq 0 ] && return
  say "stopping ${#pids[@]} process(es); waiting up to ${STOP_TIMEOUT_S}s"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  (
    trap 'kill "$timer" 2>/dev/null; exit 0' TERM
    sleep "$STOP_TIMEOUT_S" &
    timer=$!
    wait "$timer"
    say "still running after ${STOP_TIMEOUT_S}s: killing"
    kill -KILL "${pids[@]}" 2>/dev/null
  ) &
  killer=$!
}
trap stop_all INT TERM

spawn api dist/api/main.js
for i in $(seq 1 "$WORKERS"); do spawn_worker "$i"; done

# Say where the gateway answers once it is ready (the api retries MySQL/Redis by itself meanwhile).
probe_host="${HOST:-0.0.0.0}"
case "$probe_host" in 0.0.0.0 | :: | '') probe_host=127.0.0.1 ;; *:*) probe_host="[$probe_host]" ;; esac
base_url="http://$probe_host:${PORT:-3000}"
announced=0
for _ in $(seq 1 120); do
  [ "$stopping" = 1 ] && break
  kill -0 "${pid_of[api]}" 2>/dev/null || break
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$base_url/readyz" 2>/dev/null; then
    say "ready: $base_url  (API reference: $base_url/docs, health: $base_url/readyz)"
    announced=1
    break
  fi
  sleep 0.5
done
if [ "$announced" = 0 ] && [ "$stopping" = 0 ] && kill -0 "${pid_of[api]}" 2>/dev/null; then
  say "$base_url/readyz does not answer 200 yet (MySQL or Redis unreachable?): see the api's log lines"
fi

set +e
while [ "${#label_of[@]}" -gt 0 ]; do
  exited=''
  wait -n -p exited "${!label_of[@]}" 2>/dev/null # bash's own "Killed" notices: we say it better below
  status=$?
  [ -z "${exited:-}" ] && continue # a trapped signal interrupted the wait
  label="${label_of[$exited]}"
  unset "label_of[$exited]" "pid_of[$label]"
  if [ "$stopping" = 1 ]; then
    [ "$status" -ne 0 ] && say "$label exited with status $status"
    continue
  fi
  if [ "$label" = api ]; then
    say "the api exited with status $status: stopping the gateway"
    exit_status=$((status == 0 ? 1 : status))
    stop_all
    continue
  fi
  i="${label#worker-}"
  lived=$((SECONDS - started_at[$i]))
  delay="${restart_delay[$i]:-1}"
  if [ "$lived" -ge 60 ]; then delay=1; fi
  say "$label exited with status $status after ${lived}s; restarting it in ${delay}s"
  restart_delay[$i]=$((delay * 2 > 30 ? 30 : delay * 2))
  sleep "$delay" &
  sleeper=$!
  wait "$sleeper" # interruptible, unlike a foreground sleep, so a Ctrl-C is acted on at once
  if [ "$stopping" = 1 ]; then kill "$sleeper" 2>/dev/null; continue; fi
  spawn_worker "$i"
done

[ -n "$killer" ] && kill "$killer" 2>/dev/null
say "stopped"
exit "$exit_status"
