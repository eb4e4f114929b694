#!/usr/bin/env bash
# What LLamaSharp 0.30.0's process-wide decode lock (SafeLLamaContextHandle.GlobalInferenceLock) costs two
# models served by one server: model A's output throughput alone, while model B is busy in the same server
# process (the lock serialises their decodes), and while B is busy in a second server process (the same CPU
# competition, no shared lock). Prints one Markdown table row per case.
# A runs a fixed number of requests and its rate is tokens over wall time; B runs until A is done, and its
# rate is its server's generated-token counter over the same time.
# The last column is the machine's 1-minute load average after the case: on a shared machine, compare rows
# only where it is low and alike. ROUNDS repeats the three cases.
# Usage: [MODEL_A=FILE] [MODEL_B=FILE] [THREADS=N] [REQUESTS=N] [ROUNDS=N] bash loadtests/decode-lock-bench.sh
#   (defaults: TinyStories-656K and stories260K from tests/fixtures/models, 1 thread per model, 64 requests of A
#   per case, 1 round)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-1}
requests=${REQUESTS:-64}
rounds=${ROUNDS:-1}
models=$(pwd)/tests/fixtures/models
a=${MODEL_A:-$models/TinyStories-656K-Q8_0.gguf}
b=${MODEL_B:-$models/stories260K.gguf}
out=$(mktemp -d)

dotnet build -c Release src/InferenceServer --nologo -v q >/dev/null
dotnet build -c Release loadtests/InferenceServer.LoadGen --nologo -v q >/dev/null
bin=net10.0/linux-x64
server_dll=src/InferenceServer/bin/Release/$bin/InferenceServer.dll
loadgen_dll=loadtests/InferenceServer.LoadGen/bin/Release/$bin/loadgen.dll

pids=()
# A backgrounded function is a subshell: its children (the dotnet processes) are stopped with it.
stop() { pkill -TERM -P "$1" 2>/dev/null || true; kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cleanup() { for pid in "${pids[@]}"; do stop "$pid"; done; }
trap cleanup EXIT
serve() { # port, flags...
  local port=$1; shift
  dotnet "$server_dll" --port "$port" -t "$threads" "$@" >"$out/server-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
  cat "$out/server-$port.log"; return 1
}
load() { # port, model, loadgen flags...
  local port=$1 model=$2; shift 2
  dotnet "$loadgen_dll" --base-url "http://127.0.0.1:$port/v1" --model "$model" --endpoint completions --workload random \
    --input-len 16 --output-len 64 --concurrency 8 --warmup 2 --no-progress "$@" >/dev/null
}
load_average() { cut -d' ' -f1 /proc/loadavg; }
rate() { jq -r '.levels[0].output_token_throughput | . * 10 | round / 10' "$1"; }
generated() { # port: model b's generated tokens so far
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^inferenceserver_generated_tokens_total\{.*model="b"/ { sum += $NF } END { print sum + 0 }'
}
measure_a_while_b() { # port serving b, label
  load "$1" b --requests 1000000 --duration 30m --out "$out/b.json" & local busy=$!
  pids+=("$busy")
  sleep 5
  local before; before=$(generated "$1")
  local start; start=$(date +%s.%N)
  load 18101 a --requests "$requests" --out "$out/a-$2.json"
  local seconds; seconds=$(echo "$(date +%s.%N) - $start" | bc)
  local b_rate; b_rate=$(echo "scale=1; ($(generated "$1") - $before) / $seconds" | bc)
  stop "$busy"
  echo "| A while B is busy in $2 | $(rate "$out/a-$2.json") | $b_rate | $(load_average) |"
}

serve 18101 -m "a=$a,parallel=8" -m "b=$b,parallel=8"
serve 18102 -m "$b" --model-id b -np 8

echo "| case | A output tok/s | B output tok/s | load average |"
echo "| --- | --- | --- | --- |"
for _ in $(seq 1 "$rounds"); do
  load 18101 a --requests "$requests" --out "$out/alone.json"
  echo "| A alone | $(rate "$out/alone.json") | | $(load_average) |"
  measure_a_while_b 18101 "the same process"
  measure_a_while_b 18102 "another process"
done
