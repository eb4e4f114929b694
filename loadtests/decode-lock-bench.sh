#!/usr/bin/env bash
# What LLamaSharp 0.30.0's process-wide decode lock (SafeLLamaContextHandle.GlobalInferenceLock) costs two
# models served by one server: model A's output throughput alone, while model B is busy in the same server
# process (the lock serialises their decodes), and while B is busy in a second server process (the same CPU
# competition, no shared lock). Prints one Markdown table row per case.
# Usage: [MODEL_A=FILE] [MODEL_B=FILE] [THREADS=N] bash loadtests/decode-lock-bench.sh [SECONDS]
#   (defaults: TinyStories-656K and stories260K from ../shared/models, 1 thread per model, 20 s per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
threads=${THREADS:-1}
models=$(cd .. && pwd)/shared/models
a=${MODEL_A:-$models/TinyStories-656K-Q8_0.gguf}
b=${MODEL_B:-$models/stories260K.gguf}
out=$(mktemp -d)

dotnet build -c Release src/InferenceServer --nologo -v q >/dev/null
dotnet build -c Release loadtests/InferenceServer.LoadGen --nologo -v q >/dev/null
bin=net10.0/linux-x64
server_dll=src/InferenceServer/bin/Release/$bin/InferenceServer.dll
loadgen_dll=loadtests/InferenceServer.LoadGen/bin/Release/$bin/loadgen.dll

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
serve() { # port, flags...
  local port=$1; shift
  dotnet "$server_dll" --port "$port" -t "$threads" "$@" >"$out/server-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
  cat "$out/server-$port.log"; return 1
}
load() { # port, model, seconds, json file
  dotnet "$loadgen_dll" --base-url "http://127.0.0.1:$1/v1" --model "$2" --endpoint completions --workload random \
    --input-len 16 --output-len 64 --concurrency 8 --requests 1000000 --duration "$3s" --warmup 2 --no-progress --out "$4" >/dev/null
}
rate() { jq -r '[.. | objects | select(has("output_token_throughput")) | .output_token_throughput][0] | . * 10 | round / 10' "$1"; }

serve 18101 -m "a=$a,parallel=8" -m "b=$b,parallel=8"
serve 18102 -m "$b" --model-id b -np 8

load 18101 a "$seconds" "$out/alone.json"
echo "| A alone | $(rate "$out/alone.json") | |"

load 18101 b $((seconds + 4)) "$out/b-same.json" & busy=$!
sleep 2
load 18101 a "$seconds" "$out/a-same.json"
wait $busy
echo "| A while B is busy in the same process | $(rate "$out/a-same.json") | $(rate "$out/b-same.json") |"

load 18102 b $((seconds + 4)) "$out/b-other.json" & busy=$!
sleep 2
load 18101 a "$seconds" "$out/a-other.json"
wait $busy
echo "| A while B is busy in another process | $(rate "$out/a-other.json") | $(rate "$out/b-other.json") |"
