#!/usr/bin/env bash
# The server's per-token overhead against the engine-only ceiling, in one run: the synthetic 125M Q8_0 model
# (32k vocabulary) decoded by LLamaSharp in a tight greedy loop (synthmodel bench: 1 and 16 streams, 128 tokens),
# then the server on the same model (-c 16384 -np 16) under streamed chat with 128 output tokens (ignore_eos) at
# 1 and 16 streams, TinyStories-656K at 16 streams, and the time to first token of a 16-word prompt on an idle
# server. With LLAMA_SERVER=/path/to/llama-server, llama.cpp's own server is measured the same way in the same run;
# with BASELINE=COMMIT, this server as built from that commit (before/after in one run).
# Every row uses the server's default KV types for the model (--cache-type-k auto: q8_0 keys and f16 values for the
# 125M model, whose key heads are 64 long; bf16 keys and f16 values for TinyStories, whose are 16): the engine-only loop and
# llama-server are given the same, so the rows measure the server's overhead alone (f16 against the rest:
# kv-cache-bench.sh).
# The machine's speed drifts by ±15% over minutes, so the whole measurement (ceiling, then every server row) runs
# ROUNDS times (default 3) and the report takes each row's median ratio, every ratio against the ceiling of its own round.
# TinyStories' ceiling is the median of 5 runs within its round: one run takes 0.3 s and catches a quiet or a busy moment.
# Writes docs/bench/overhead/*.json and the "Server overhead" section of docs/benchmarks.md (about 3 minutes a round).
# Usage: [LLAMA_SERVER=PATH] [BASELINE=COMMIT] [THREADS=N] [ROUNDS=N] bash loadtests/overhead-bench.sh [--quick]
#   --quick: one round of a few requests per row, to check the script (its figures mean little)
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtests/bench-common.sh
scale=4 rounds=${ROUNDS:-3}; [ "${1:-}" = --quick ] && scale=1 rounds=1
threads=${THREADS:-$(nproc)}
out=${OUT:-docs/bench/overhead}
port=18090
tiny=tests/fixtures/models/TinyStories-656K-Q8_0.gguf
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt
git rev-parse --short HEAD >"$out/commit.txt"
bench_prepare

baseline_dir=
if [ -n "${BASELINE:-}" ]; then
  baseline_dir=$(mktemp -d)
  echo "== building the baseline $BASELINE"
  git worktree add -q --detach "$baseline_dir" "$BASELINE"
  dotnet build -c Release "$baseline_dir/src/InferenceServer/InferenceServer.csproj" --nologo -v q >/dev/null
  git -C "$baseline_dir" rev-parse --short HEAD >"$out/baseline-commit.txt"
fi
cleanup() { stop_server; [ -z "$baseline_dir" ] || git worktree remove --force "$baseline_dir"; }
trap cleanup EXIT

start_ours() { # model [dll]
  start_server_cmd "$out/server.log" dotnet "${2:-$server_dll}" -m "$1" --port $port -c 16384 -np 16 -t "$threads"
  warm_up
}
loadgen() { # name, flags...
  local name=$1; shift
  echo "== $name"
  dotnet "$loadgen_dll" --base-url "http://127.0.0.1:$port/v1" --no-progress --seed 1 --out "$out/$name-r$round.json" "$@" | tail -n 3
}
# The rows every server runs: 1 and 16 streams of 128 tokens (one warm-up request first), and the TTFT of a
# 16-word completion prompt with the server otherwise idle.
# Unmeasured short requests on both endpoints, so every row measures a server whose JIT has settled: .NET
# recompiles the hot path at a higher tier over its first few hundred requests, and that work shares the cores
# with the decode (docs/performance.md). Other seeds than the rows', so nothing they prompt is cached.
warm_up() {
  for endpoint in chat completions; do
    dotnet "$loadgen_dll" --base-url "http://127.0.0.1:$port/v1" --no-progress --seed 99 --endpoint $endpoint --workload random \
      --input-len 4 --output-len 8 --concurrency 16 --requests 256 --warmup 0 >/dev/null
  done
}
server_rows() { # prefix
  loadgen "$1-c1" --workload random --input-len 32 --output-len 128 --concurrency 1 --requests $((2 * scale))
  loadgen "$1-c16" --workload random --input-len 32 --output-len 128 --concurrency 16 --requests $((8 * scale)) --warmup 0
  loadgen "$1-ttft" --endpoint completions --workload random --input-len 16 --output-len 4 --concurrency 1 --requests $((4 * scale)) --warmup 0
}
# Decode-bound rows: a 2-word completion prompt (3 tokens), so nearly all of the server's work is generation, as in
# the engine-only loop; at 16 streams once more with --no-prefix-cache, whose kept cells widen every decode's KV range.
decode_rows() { # prefix
  loadgen "$1-decode-c1" --endpoint completions --workload random --input-len 2 --output-len 128 --concurrency 1 --requests $((2 * scale))
  loadgen "$1-decode-c16" --endpoint completions --workload random --input-len 2 --output-len 128 --concurrency 16 --requests $((8 * scale)) --warmup 0
}
# 30 waves of 16: TinyStories' 16 streams of 128 tokens take about 0.35 s, and two waves (as the 125M rows take)
# measured mostly their ramp and tail (0.31 of the ceiling at 27721ac and cc7a85c; 0.55-0.77 over 30 waves).
tinystories_row() { # prefix
  loadgen "$1-tinystories-c16" --workload random --input-len 16 --output-len 128 --concurrency 16 --requests $((120 * scale))
}

for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds: engine-only ceiling"
  dotnet "$synth_dll" bench --model "$synthetic" --streams 1,16 --tokens 128 --threads "$threads" --cache-type-k q8_0 | tee "$out/ceiling-synthetic125m-r$round.txt"
  dotnet "$synth_dll" bench --model "$tiny" --streams 16 --tokens 128 --threads "$threads" --cache-type-k bf16 --repeat 5 | tee "$out/ceiling-tinystories-r$round.txt"

  start_ours "$synthetic"
  curl -s "http://127.0.0.1:$port/metrics" | grep '^inferenceserver_engine_step_phase_seconds_\(sum\|count\)' >"$out/ours-phases-warm-r$round.txt" || true
  server_rows ours
  decode_rows ours
  curl -s "http://127.0.0.1:$port/metrics" | grep '^inferenceserver_engine_step_phase_seconds_\(sum\|count\)' >"$out/ours-phases-r$round.txt" || true
  stop_server
  # The ceiling with the chat rows' own work: their mean uncached prompt prefilled, then the same 128 tokens.
  for streams in 1 16; do
    prompt=$(python3 -c "import json; l = json.load(open('$out/ours-c$streams-r$round.json'))['levels'][0]; print(round((l['total_prompt_tokens'] - l['total_cached_prompt_tokens']) / l['completed']))")
    dotnet "$synth_dll" bench --model "$synthetic" --streams $streams --tokens 128 --threads "$threads" --cache-type-k q8_0 --prompt-tokens "$prompt" | tee -a "$out/ceiling-chat-r$round.txt"
  done
  start_server_cmd "$out/server.log" dotnet "$server_dll" -m "$synthetic" --port $port -c 16384 -np 16 -t "$threads" --no-prefix-cache
  warm_up
  loadgen ours-nocache-decode-c16 --endpoint completions --workload random --input-len 2 --output-len 128 --concurrency 16 --requests $((8 * scale)) --warmup 0
  stop_server
  start_ours "$tiny"
  tinystories_row ours
  stop_server

  if [ -n "$baseline_dir" ]; then
    baseline_dll=$baseline_dir/src/InferenceServer/bin/Release/$bench_bin/InferenceServer.dll
    start_ours "$synthetic" "$baseline_dll"
    server_rows baseline
    decode_rows baseline
    stop_server
    start_ours "$tiny" "$baseline_dll"
    tinystories_row baseline
    stop_server
  fi

  if [ -n "${LLAMA_SERVER:-}" ]; then
    start_server_cmd "$out/llama-server.log" "$LLAMA_SERVER" -m "$synthetic" --port $port -c 16384 -np 16 -t "$threads" -ctk q8_0
    warm_up
    server_rows llama-server
    stop_server
  fi
done

python3 loadtests/overhead_report.py "$out" docs/benchmarks.md
