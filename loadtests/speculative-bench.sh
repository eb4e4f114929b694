#!/usr/bin/env bash
# Speculative decoding against the same requests without it, in one run, on one server per model started with
# --speculative ngram; a request's baseline is the same request with "speculative": false, interleaved with it, so
# both see the same machine. Rows: Predicted Outputs (the prediction equal to the answer, and one that differs every
# 20 tokens) and prompt-lookup drafts on a copy task, 1 stream, on the synthetic 125M model and TinyStories-656K;
# 16 streams with and without speculation. Greedy text must be identical with and without (checked per request).
# Appends a dated run to the "Speculative decoding" section of docs/benchmarks.md (about 5 minutes quiet).
# Usage: [THREADS=N] [PAIRS=N] bash loadtests/speculative-bench.sh [--quick]
#   --quick: one pair per row, to check the script (its figures mean little)
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtests/bench-common.sh
pairs=${PAIRS:-5}; [ "${1:-}" = --quick ] && pairs=1
threads=${THREADS:-$(nproc)}
out=${OUT:-docs/bench/speculative}
port=18092
tiny=tests/fixtures/models/TinyStories-656K-Q8_0.gguf
mkdir -p "$out"
bench_prepare
trap stop_server EXIT

for model in "$synthetic" "$tiny"; do
  name=$(basename "$model" .gguf)
  echo "== $name: starting the server (--speculative ngram, -np 16, -t $threads)"
  start_server_cmd "$out/server-$name.log" dotnet "$server_dll" -m "$model" --port $port -c 16384 -np 16 -t "$threads" --speculative ngram
  python3 loadtests/speculative_bench.py --base-url "http://127.0.0.1:$port/v1" --pairs "$pairs" --label "$name" --out "$out/$name.json"
  stop_server
done

python3 loadtests/speculative_bench.py --report "$out" --target docs/benchmarks.md \
  --command "bash loadtests/speculative-bench.sh${1:+ $1}" --threads "$threads"
