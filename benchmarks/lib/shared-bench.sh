# Sourced by the benchmark scripts: sets BENCH to the workplace's shared/bench folder (connect-loop.c,
# conn-farm, nl-dump-floor.c). SHARED overrides it; otherwise ../shared next to the repository, or next to
# the main checkout when the script runs from a git worktree that lives elsewhere.
# Needs: HERE (the calling script's folder).
ROOT=$(git -C "$HERE" rev-parse --show-toplevel)
BENCH="${SHARED:-$ROOT/../shared}/bench"
if [ -z "${SHARED:-}" ] && [ ! -d "$BENCH" ]; then
  COMMON=$(cd "$ROOT" && cd "$(git rev-parse --git-common-dir)" && pwd)
  BENCH="$(dirname "$(dirname "$COMMON")")/shared/bench"
fi

# publish_cli NAME WORK: when CLI is empty, publishes the CLI as users get it (Native AOT) into WORK/cli and sets
# CLI; sets COMMIT to what was timed (the commit, "+changes" when src differs, or the given binary). NAME prefixes
# the error, which shows the end of the publish log.
publish_cli() {
  local name=$1 work=$2
  if [ -n "${CLI:-}" ]; then COMMIT="given binary $CLI"; return; fi
  if dotnet publish "$ROOT/src/PSKeepalive.Cli" -c Release -o "$work/cli" >"$work/publish.log" 2>&1 && [ -x "$work/cli/pskeepalive" ]; then
    CLI="$work/cli/pskeepalive"
  else
    echo "$name: dotnet publish failed:" >&2; tail -20 "$work/publish.log" >&2; exit 1
  fi
  COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo "+changes")
}

# start_farm NAME N HOLD_SECONDS: starts ../shared/bench/conn-farm with N loopback pairs (keepalive on 25 % of the
# clients) and waits up to 180 s for it; sets FARM (its pid, for the caller's cleanup) and READY (its ready file).
start_farm() {
  local name=$1 n=$2 hold=$3
  READY=$(mktemp -u /tmp/conn-farm.XXXXXX.json)
  "$BENCH/conn-farm" --count "$n" --keepalive-fraction 0.25 --hold-seconds "$hold" --ready-file "$READY" --quiet &
  FARM=$!
  for _ in $(seq 1 900); do [ -s "$READY" ] && break; kill -0 "$FARM" 2>/dev/null || break; sleep 0.2; done
  [ -s "$READY" ] || { echo "$name: conn-farm did not get ready for N=$n within 180 s" >&2; exit 1; }
}
