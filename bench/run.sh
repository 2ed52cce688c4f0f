#!/usr/bin/env bash
# The whole benchmark, from a fresh clone:   bash bench/run.sh
#
# Installs what it needs (wrk from apt, the project venv with its [bench] extra), then
# runs: fixtures, the in-process micro-benchmark, the memory check, the profiles, and
# last the load benchmark (floor / naive / ours under wrk over TLS), whose table and
# ratios are the last thing printed. Everything lands in bench/results/ (git-ignored).
#
# Settings (environment):
#   QUICK=1            smoke run: 1 s warm-up + 3 s per wrk run, short micro/memory/profile
#   DURATION=10        measured seconds per wrk run      WARMUP=3   warm-up seconds
#   REPEAT=2           runs per row and server, taking turns; the least disturbed is kept
#   SERVERS=floor,naive,ours   FIXTURES=small,large,extreme   (subsets of the load runs)
#   SKIP_MEMORY=1      leave out the memory check (200k reviews take ~3 min)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$REPO/bench"
OUT="$BENCH/results"
PY="$REPO/.venv/bin/python"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk"
  as_root apt-get update -qq
  as_root apt-get install -y -qq wrk
fi
if [ ! -x "$PY" ]; then
  echo "== creating the project venv"
  make -C "$REPO" .venv/bin/.installed
fi
"$PY" -m pip install --quiet --disable-pip-version-check -e "$REPO[bench]"

if [ "${QUICK:-0}" = 1 ]; then
  DURATION="${DURATION:-3}" WARMUP="${WARMUP:-1}" REPEAT="${REPEAT:-1}"
  MICRO_TIME=0.2 MEM_FIRST=10000 MEM_TOTAL=30000 PROFILE_COUNT=500
else
  DURATION="${DURATION:-10}" WARMUP="${WARMUP:-3}" REPEAT="${REPEAT:-2}"
  MICRO_TIME=1.0 MEM_FIRST=10000 MEM_TOTAL=200000 PROFILE_COUNT=3000
fi

mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
cd "$REPO"
echo "== $(date -u +%FT%TZ) QUICK=${QUICK:-0} DURATION=$DURATION WARMUP=$WARMUP REPEAT=$REPEAT" \
  "cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== fixtures"
"$PY" bench/fixtures.py --out "$OUT/fixtures"

echo "== micro-benchmark (in-process, no HTTP)"
"$REPO/.venv/bin/pytest" bench/test_micro.py --benchmark-only -q -p no:cacheprovider \
  --benchmark-max-time="$MICRO_TIME" --benchmark-time-unit=us --benchmark-sort=name \
  --benchmark-columns=min,median,mean,stddev,rounds --benchmark-json="$OUT/micro.json"

if [ "${SKIP_MEMORY:-0}" != 1 ]; then
  echo "== memory"
  "$PY" bench/memory.py --first "$MEM_FIRST" --total "$MEM_TOTAL" --json "$OUT/memory.json"
fi

echo "== profiles (cProfile)"
"$PY" bench/profiling.py --count "$PROFILE_COUNT" --out "$OUT"

echo "== load (wrk over TLS)"
load_args=(--duration "$DURATION" --warmup "$WARMUP" --repeat "$REPEAT" --out "$OUT")
[ -n "${SERVERS:-}" ] && load_args+=(--servers "$SERVERS")
[ -n "${FIXTURES:-}" ] && load_args+=(--fixtures "$FIXTURES")
"$PY" bench/harness.py "${load_args[@]}"
