#!/usr/bin/env bash
# End-to-end operations demo (docs/operations.md), smoke profile, about 6 minutes on 2 cores:
#   1. start a Prefect server and a worker, register the deployments (flows/deploy.py)
#   2. trigger the training deployment twice at once: one run trains, the other waits in the
#      queue and then finds nothing to do; a run started by hand meanwhile exits on the run lock
#   3. trigger it again unchanged: a no-op in seconds (benchmarks/ops_noop.py, through the server)
#   4. a new data drop at the configured path: a retrain and a new champion
#   5. roll the whole bundle back to the first bento (audited)
# It works in a throwaway copy of this checkout's HEAD (own git repo, DVC cache, MLflow store,
# BentoML store and Prefect home), so the checkout is left as it was.
#
#   make bootstrap && scripts/ops_demo.sh [WORKDIR]
#   RTR=path/to/renttherunway_final_data.json.gz scripts/ops_demo.sh   # shopper data elsewhere
#   PORT=4200 KEEP=1 scripts/ops_demo.sh   # fixed port; leave the server and worker running
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/.venv/bin
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/fitting-room-demo.XXXXXX")}
RTR=${RTR:-$ROOT/../shared/data/rtr/renttherunway_dev.json.gz}
PROJ=$WORK/project
PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

# a deployment run in a few lines: queued or not, what the flow said and which stages DVC re-ran
# (from the worker's log), its final state (from the `--watch` events in $1)
report_run() {
  local log=$1 name run_log said stages state
  name=$(grep -oE "Created flow run '[^']+'" "$log" | cut -d"'" -f2 || true)
  run_log=$(awk "/Flow run '$name' - Beginning flow run/,/Flow run '$name' - Finished in state/" "$WORK/worker.log")
  said=$(grep -oE "Flow run '$name' - (no-op|changed since the last run).*" <<< "$run_log" |
    sed -E "s/^Flow run '[^']+' - //" | cut -c1-150 | head -n 1 || true)
  stages=$(grep -oE "stage [a-z_]+: ran" <<< "$run_log" | cut -d' ' -f2 | tr -d : | grep -vx configure | paste -sd' ' || true)
  state=$(grep -oE "prefect\.flow-run\.[A-Z][A-Za-z]+ \* $name" "$log" | tail -n 1 | cut -d' ' -f1 | cut -d. -f3 || true)
  if grep -q AwaitingConcurrencySlot "$log"; then echo "  $name: waited in the queue (AwaitingConcurrencySlot)"; fi
  echo "  $name: $said"
  echo "  $name: stages re-ran: ${stages:-none}; final state: ${state:-unknown}"
}

# what is served: the current bento, and per model the version it pins and the champion
served() {
  "$BIN/fitting-room" --profile smoke lineage bento 2>/dev/null | awk '
    /^bento:/ { print "  served " $0 }
    /^  [a-z]+:$/ { role = $1 }
    /^    version:/ { printf "  %-13s version %s", role, $2 }
    /^    champion_version:/ { print ", champion " $2 }'
}

stop_all() {
  [[ -n ${KEEP:-} ]] && { echo "left running: ${PIDS[*]} (PREFECT_API_URL=$PREFECT_API_URL)"; return; }
  # Ctrl-C to each process group, the worker before the server it talks to; SIGKILL what is left
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -INT -- "-${PIDS[i]}" 2>/dev/null || true
    sleep 3
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

[[ -x $BIN/prefect ]] || { echo "no $BIN/prefect: run 'make bootstrap' first" >&2; exit 2; }
[[ -f $RTR ]] || {
  echo "no shopper data at $RTR: set RTR to a RentTheRunway or ModCloth JSON-lines file" \
    "(e.g. renttherunway_final_data.json.gz of the Clothing-Fit datasets)" >&2
  exit 2
}

say "a throwaway copy of $(git -C "$ROOT" rev-parse --short HEAD) in $PROJ"
mkdir -p "$PROJ"
git -C "$ROOT" archive HEAD | tar -x -C "$PROJ"
git -C "$PROJ" init -q
git -C "$PROJ" add -A
git -C "$PROJ" -c user.email=demo@example.com -c user.name=demo commit -qm "demo copy"
# two data drops: the first 2000 rentals, then 2000 more arrive
(set +o pipefail; zcat -f "$RTR" | head -n 4000) > "$WORK/all.json"
head -n 2000 "$WORK/all.json" > "$WORK/rentals.json"

cd "$PROJ"
unset MLFLOW_TRACKING_URI MLFLOW_REGISTRY_URI FITTING_ROOM_PROFILE FITTING_ROOM_PARAMS PREFECT_API_KEY
PORT=${PORT:-$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export PREFECT_HOME=$WORK/prefect PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_API_URL=http://127.0.0.1:$PORT/api
export BENTOML_HOME=$WORK/bentoml BENTOML_DO_NOT_TRACK=true TF_CPP_MIN_LOG_LEVEL=2
export COLUMNS=200   # `prefect deployment run --watch` prints one event a line, unwrapped
# the site's configuration, seen by every run the worker starts: where the shopper data lands
export FITTING_ROOM_SET="data.shoppers.sources.0.path=$WORK/rentals.json"
T0=$(now)

say "1. Prefect server on $PREFECT_API_URL, deployments, worker (logs in $WORK/*.log)"
t=$(now)
setsid "$BIN/prefect" server start --host 127.0.0.1 --port "$PORT" > "$WORK/server.log" 2>&1 &
PIDS+=($!)
until "$BIN/python" -c "import urllib.request as u; u.urlopen('$PREFECT_API_URL/health', timeout=2)" 2>/dev/null; do
  sleep 1
done
echo "server healthy after $(since "$t") s"
# smoke runs; schedules paused so the hourly drift check cannot fire in the middle of the demo
"$BIN/python" flows/deploy.py --profile smoke --set ops.schedule.profile=smoke --set ops.schedule.paused=true
setsid "$BIN/prefect" worker start --pool fitting-room > "$WORK/worker.log" 2>&1 &
PIDS+=($!)

say "2. two triggers at once"
t=$(now)
TRIGGERS=()
for i in 1 2; do
  "$BIN/prefect" deployment run training-pipeline/scheduled-retrain --watch > "$WORK/trigger$i.log" 2>&1 &
  TRIGGERS+=($!)
done
LOCK=build/locks/training-pipeline.lock
# wait until a run holds the run lock (the file's body names the holder) or a trigger ended
until [[ -s $LOCK ]] || ! kill -0 "${TRIGGERS[@]}" 2>/dev/null; do sleep 1; done
echo "a run started by hand meanwhile, outside Prefect's queue, meets the run lock:"
"$BIN/python" flows/training_pipeline.py --profile smoke --no-push 2>&1 |
  grep -E "another training run holds|pipeline (skipped|finished)" | sed -E 's/^.* - //; s/^/  /' || true
for pid in "${TRIGGERS[@]}"; do
  wait "$pid" || { tail -n 30 "$WORK"/trigger?.log "$WORK/worker.log"; exit 1; }
done
echo "both finished after $(since "$t") s:"
report_run "$WORK/trigger1.log"
report_run "$WORK/trigger2.log"
FIRST_BENTO=$("$BIN/python" -c "import json; print(json.load(open('models/bento/current-smoke.json'))['bento'])")
served

say "3. unchanged: the scheduled run is a no-op (timed through the server and worker)"
"$BIN/python" benchmarks/ops_noop.py --profile smoke --deployment --no-warmup 2>/dev/null

say "4. new data: 2000 more rentals at the configured path"
cp "$WORK/all.json" "$WORK/rentals.json"
t=$(now)
"$BIN/prefect" deployment run training-pipeline/scheduled-retrain --watch > "$WORK/trigger3.log" 2>&1 ||
  { tail -n 30 "$WORK/trigger3.log"; exit 1; }
echo "finished after $(since "$t") s:"
report_run "$WORK/trigger3.log"
served

say "5. roll the bundle back to $FIRST_BENTO"
"$BIN/fitting-room" --profile smoke rollback all --to "$FIRST_BENTO" --reason "ops demo: back to the first bundle" 2>/dev/null
served

say "done in $(since "$T0") s; everything is in $WORK"
