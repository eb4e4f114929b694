#!/usr/bin/env bash
# What exactness costs, in one run: the default layout (a KV stream per sequence, prompt chunks below 64 tokens,
# slot-resident prefix cache) against --kv-unified (one shared pool of cells, radix-tree prefix cache), each with
# the prefix cache on and off, on the synthetic 125M Q8_0 model: 16 streams of streamed chat (32 words in, 128
# tokens out) and of decode-bound completions (2 words in), and a 1,000-word shared system prompt sent by 4
# concurrent clients (first-wave and warm TTFT). The modes take turns, ROUNDS times (default 2); the report gives
# medians over rounds and the ratios the determinism issue sets targets for.
# Writes docs/bench/exactness/*.json and the "Exactness" section of docs/benchmarks.md (about 8 minutes).
# Usage: [ROUNDS=N] [THREADS=N] bash loadtests/exactness-bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtests/bench-common.sh
scale=4; [ "${1:-}" = --quick ] && scale=1
rounds=${ROUNDS:-2}
threads=${THREADS:-$(nproc)}
out=${OUT:-docs/bench/exactness}
port=18091
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt
git rev-parse --short HEAD >"$out/commit.txt"
bench_prepare
trap stop_server EXIT

loadgen() { # name, flags...
  local name=$1; shift
  echo "== $name"
  dotnet "$loadgen_dll" --base-url "http://127.0.0.1:$port/v1" --no-progress --seed 1 --out "$out/$name.json" "$@" | tail -n 2
}

declare -A flags=([exact]="" [exact-nocache]="--no-prefix-cache" [unified]="--kv-unified" [unified-nocache]="--kv-unified --no-prefix-cache")
for round in $(seq 1 "$rounds"); do
  for mode in exact unified exact-nocache unified-nocache; do
    echo "== round $round of $rounds: $mode"
    # shellcheck disable=SC2086
    start_server_cmd "$out/server.log" dotnet "$server_dll" -m "$synthetic" --port $port -np 16 -c 32768 -t "$threads" ${flags[$mode]}
    loadgen "$mode-r$round-shared-prefix" --workload shared-prefix --prefix-len 1000 --input-len 8 --output-len 16 \
      --concurrency 4 --requests $((4 * scale)) --warmup 0
    if [[ $mode != *nocache ]]; then
      loadgen "$mode-r$round-c16" --workload random --input-len 32 --output-len 128 --concurrency 16 --requests $((8 * scale)) --warmup 0
      loadgen "$mode-r$round-decode-c16" --endpoint completions --workload random --input-len 2 --output-len 128 \
        --concurrency 16 --requests $((8 * scale)) --warmup 0
    fi
    stop_server
  done
done

python3 loadtests/exactness_report.py "$out" docs/benchmarks.md
echo "done: docs/benchmarks.md (Exactness section)"
