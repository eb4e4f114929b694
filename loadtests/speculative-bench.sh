#!/usr/bin/env bash
# Speculative decoding against the same requests without it, in one run, on one server per model started with
# --speculative ngram; a request's baseline is the same request with "speculative": false, interleaved with it, so
# both see the same machine. Rows: Predicted Outputs (the prediction equal to the answer, and one that differs every
# 20 tokens) and prompt-lookup drafts on a copy task, 1 stream, on the synthetic 125M model and TinyStories-656K;
# 16 streams with and without speculation; then the 125M model with a draft model: itself (every draft accepted: the
# ceiling of verification) and a synthetic 25M model (random weights like the target's, so it drafts badly: the
# cost of a useless drafter), both with --draft-min-p 0 (a random-weight model is never confident, so any min-p would
# stop every draft at its first token). Greedy text must be identical with and without (checked per request): the servers run
# with the default per-sequence KV streams (with --kv-unified a verify decode of several tokens rounds differently
# from a decode of one, and the random-weight model's near-ties flip).
# Appends a dated run to the "Speculative decoding" section of docs/benchmarks.md (about 5 minutes quiet).
# Usage: [THREADS=N] [PAIRS=N] [FLAGS="--draft-max 62 ..."] bash loadtests/speculative-bench.sh [--quick]
#   FLAGS: more server flags for every server (e.g. --speculative-policy always, --draft-max 62)
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
draft25m=$models_dir/synth-25m-q8_0.gguf
[ -f "$draft25m" ] || dotnet "$synth_dll" write --shape 25m --quant Q8_0 --seed 2 -o "$draft25m"
trap stop_server EXIT

for model in "$synthetic" "$tiny"; do
  name=$(basename "$model" .gguf)
  # TinyStories' requests take 30-100 ms, where one stall of the machine decides a pair: three times the pairs.
  model_pairs=$pairs; [ "$model" = "$tiny" ] && model_pairs=$(( pairs * 3 ))
  echo "== $name: starting the server (--speculative ngram, -np 16, -t $threads)"
  start_server_cmd "$out/server-$name.log" dotnet "$server_dll" -m "$model" --port $port -c 16384 -np 16 -t "$threads" --speculative ngram ${FLAGS:-}
  python3 loadtests/speculative_bench.py --base-url "http://127.0.0.1:$port/v1" --pairs "$model_pairs" --label "$name" --out "$out/$name.json"
  stop_server
done

for draft in "$synthetic" "$draft25m"; do
  name=$(basename "$synthetic" .gguf)+draft-$(basename "$draft" .gguf)
  echo "== $name: starting the server (--draft-model, -np 16, -t $threads)"
  start_server_cmd "$out/server-$name.log" dotnet "$server_dll" -m "$synthetic" --port $port -c 16384 -np 16 -t "$threads" --draft-model "$draft" --draft-min-p 0 ${FLAGS:-}
  python3 loadtests/speculative_bench.py --base-url "http://127.0.0.1:$port/v1" --pairs "$pairs" --label "$name" --out "$out/$name.json" --rows draft
  stop_server
done

python3 loadtests/speculative_bench.py --report "$out" --target docs/benchmarks.md \
  --command "THREADS=$threads PAIRS=$pairs${FLAGS:+ FLAGS='$FLAGS'} bash loadtests/speculative-bench.sh${1:+ $1}" --threads "$threads" --server-flags "${FLAGS:-}"
