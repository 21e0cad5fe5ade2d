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
