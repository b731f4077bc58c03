#!/usr/bin/env bash
# Try helmbot on a fresh machine, no cluster needed: set up, start the Kubernetes API stand-in, then
#   1. install the example `shop` chart (migration hook, pods gated in Init) and `helmbot watch` it  -> succeeded
#   2. upgrade it with a crash-looping web container and watch                                     -> failed, with diagnosis
#   3. `helm rollback` (runs the pre-rollback restore hook) and watch                               -> succeeded
# Against a real cluster instead: KUBECONFIG=~/.kube/config helm upgrade ... && helmbot watch ...
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
HELM=$(.venv/bin/python -c 'from bot.sim.binaries import ensure_binaries; print(ensure_binaries().helm)')

work=$(mktemp -d -t helmbot-try.XXXXXX)
export KUBECONFIG="$work/kubeconfig" HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" \
  HELM_DATA_HOME="$work/helm/data"
.venv/bin/helmbot sim kube --kubeconfig-out "$KUBECONFIG" >"$work/sim.log" 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true; wait $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$KUBECONFIG" ] && break; sleep 0.1; done
[ -s "$KUBECONFIG" ] || { cat "$work/sim.log"; echo "the stand-in did not start" >&2; exit 1; }
sed -n 1p "$work/sim.log"

watch() {  # helmbot watch; prints and returns its exit code without stopping the script
  set +e
  .venv/bin/helmbot watch shop --namespace shop --timeout 3m --config-error-grace 5s
  local rc=$?
  set -e
  echo "helmbot watch exited with $rc"
  return $rc
}
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1. install shop (migration hook, then 3 web pods)" "helm upgrade --install shop ... && helmbot watch shop"
"$HELM" upgrade --install shop bot/sim/charts/shop --namespace shop --create-namespace \
  --set migration.durationSeconds=4 >/dev/null
watch || { echo "expected success" >&2; exit 1; }

step "2. upgrade with a crash-looping web container" "helm upgrade shop ... --set web.crash=true && helmbot watch shop"
"$HELM" upgrade shop bot/sim/charts/shop --namespace shop --set web.crash=true >/dev/null
rc=0; watch || rc=$?
[ "$rc" = 1 ] || { echo "expected exit 1 (failed), got $rc" >&2; exit 1; }

step "3. roll back (runs the pre-rollback restore hook)" "helm rollback shop 1 && helmbot watch shop"
"$HELM" rollback shop 1 --namespace shop >/dev/null
watch || { echo "expected success" >&2; exit 1; }
printf '\nAll three outcomes as expected: succeeded, failed (with diagnosis), rolled back.\n'
