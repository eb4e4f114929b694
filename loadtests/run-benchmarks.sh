#!/usr/bin/env bash
# Regenerates docs/benchmarks.md and its charts (docs/bench/): throughput and latency against concurrency
# on TinyStories-656K and a synthetic 125M model, the prefix cache on and off, mixed long/short prompts
# under Poisson arrivals, the server's overhead against the engine-only ceiling, and 16 streams spread over
# 1, 2 and 4 LoRA adapter sets; last, loadtests/overhead-bench.sh's per-token overhead section (LLAMA_SERVER=PATH adds
# llama.cpp's server to it).
# Usage: [LLAMA_SERVER=PATH] bash loadtests/run-benchmarks.sh [--quick] [--lora-only]
#   --quick: fewer requests, for a smoke run; --lora-only: only the LoRA section (about 4 minutes), keeping the rest
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=; lora_only=
for arg in "$@"; do
  case $arg in --quick) quick=1 ;; --lora-only) lora_only=1 ;; *) echo "unknown argument $arg"; exit 2 ;; esac
done
requests=64; [ -n "$quick" ] && requests=16
models_dir=${BENCH_MODELS:-$HOME/.cache/inferenceserver-bench}
out=docs/bench
port=18080
server_log=$(mktemp)
mkdir -p "$out" "$models_dir"
if [ -z "$lora_only" ]; then
  rm -f "$out"/*.md "$out"/*.json
  git rev-parse --short HEAD >"$out/commit.txt"
fi

echo "== building (Release)"
dotnet build -c Release InferenceServer.sln --nologo -v q >/dev/null
bin=net10.0/linux-x64
server_dll=src/InferenceServer/bin/Release/$bin/InferenceServer.dll
loadgen_dll=loadtests/InferenceServer.LoadGen/bin/Release/$bin/loadgen.dll
synth_dll=src/InferenceServer.SyntheticModels/bin/Release/$bin/synthmodel.dll

synthetic=$models_dir/synth-125m-q8_0.gguf
if [ ! -f "$synthetic" ]; then
  echo "== writing the synthetic 125M Q8_0 model (random weights, 32k LLaMA vocabulary)"
  dotnet "$synth_dll" write --shape 125m --quant Q8_0 --seed 1 -o "$synthetic"
fi
tiny=tests/fixtures/models/TinyStories-656K-Q8_0.gguf

server_pid=
start_server() { # model, extra flags...
  local model=$1; shift
  dotnet "$server_dll" -m "$model" --port $port -np 32 -t "$(nproc)" "$@" >"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 $server_pid 2>/dev/null || { cat "$server_log"; return 1; }
    sleep 0.2
  done
  echo "server did not become healthy"; return 1
}
stop_server() { kill -TERM $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; }
trap stop_server EXIT

loadgen() { # section name, loadgen flags...
  local name=$1; shift
  echo "== $name"
  dotnet "$loadgen_dll" --base-url "http://127.0.0.1:$port/v1" --no-progress --seed 1 \
    --out "$out/$name.json" --markdown "$out/$name.md" "$@"
}

# 5. LoRA adapters (synthetic 125M, four random rank-16 adapters on attn_q/attn_v): 16 streams on the base model,
# on one adapter (also at 4 and 8 streams: the batch sizes that 4 and 2 sets leave per step), and spread over 2 and
# 4 adapters, where each step decodes one set's streams. One thread (-t 1), and the server's CPU time per run
# (lora-cpu.txt): on a shared machine other work stretches wall time, while CPU seconds per token stay put.
# No prefix cache: every row sends the same seeded prompts, and rows after the first would reuse their KV.
lora_section() {
  rm -f "$out"/lora-*
  git rev-parse --short HEAD >"$out/lora-commit.txt"
  local flags=() id=synth-125m-q8_0 models=(synth-125m-q8_0)
  for i in 1 2 3 4; do
    local adapter=$models_dir/synth-125m-lora$i.gguf
    [ -f "$adapter" ] || dotnet "$synth_dll" lora --base "$synthetic" --rank 16 --seed $i -o "$adapter"
    flags+=(--lora "a$i=$adapter"); models+=("$id:a$i")
  done
  start_server "$synthetic" -t 1 --no-prefix-cache "${flags[@]}"
  for model in "${models[@]}"; do # warm-up, unmeasured
    curl -sf "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
      -d "{\"model\": \"$model\", \"prompt\": \"warm up\", \"max_tokens\": 8}" >/dev/null
  done
  lora_run() { # name, loadgen flags...
    local name=$1; shift
    local before; before=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    loadgen "$name" --workload random --input-len 32 --output-len 64 --requests $((requests / 2)) --warmup 0 "$@"
    echo "$name $(awk -v b="$before" -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 - b) / hz}' "/proc/$server_pid/stat")" >>"$out/lora-cpu.txt"
  }
  lora_run lora-base-c16 --concurrency 16 --model $id
  lora_run lora-1-set-c4 --concurrency 4 --model $id:a1
  lora_run lora-1-set-c8 --concurrency 8 --model $id:a1
  lora_run lora-1-set-c16 --concurrency 16 --model $id:a1
  lora_run lora-2-sets-c16 --concurrency 16 --model $id:a1,$id:a2
  lora_run lora-4-sets-c16 --concurrency 16 --model $id:a1,$id:a2,$id:a3,$id:a4
  stop_server
}

if [ -n "$lora_only" ]; then
  lora_section
  python3 loadtests/benchmarks_report.py "$out" docs/benchmarks.md
  exit 0
fi

# 1. Throughput and latency against concurrency.
start_server "$tiny"
loadgen tinystories-sweep --workload random --input-len 16 --output-len 64 --requests $requests \
  --concurrency 1,2,4,8,16,32 --charts "$out/tinystories"
stop_server

start_server "$synthetic"
loadgen synthetic125m-sweep --workload random --input-len 32 --output-len 64 --requests $requests \
  --concurrency 1,2,4,8,16,32 --charts "$out/synthetic125m"
# 2. Mixed long and short prompts under Poisson arrivals: chunked prefill keeps inter-token latency flat.
loadgen synthetic125m-mixed --workload mixed --input-len 16 --long-input-len 400 --long-fraction 0.2 \
  --output-len 48 --request-rate 2,4 --burstiness 1 --max-concurrency 16 --requests $requests
# 3. Prefix cache on: a 1,000-word shared system prompt, and 10-turn conversations.
loadgen cache-on-shared-prefix --workload shared-prefix --prefix-len 1000 --input-len 8 --output-len 16 \
  --concurrency 4 --requests $((requests / 2)) --warmup 0
loadgen cache-on-multi-turn --workload multi-turn --turns 10 --input-len 24 --output-len 24 \
  --concurrency 4 --requests $((requests / 2))
stop_server

start_server "$synthetic" --no-prefix-cache
loadgen cache-off-shared-prefix --workload shared-prefix --prefix-len 1000 --input-len 8 --output-len 16 \
  --concurrency 4 --requests $((requests / 2)) --warmup 0
loadgen cache-off-multi-turn --workload multi-turn --turns 10 --input-len 24 --output-len 24 \
  --concurrency 4 --requests $((requests / 2))
stop_server

# 4. The ceiling: the same batch shapes decoded in a tight loop with LLamaSharp, no HTTP, no scheduler.
echo "== engine-only ceiling"
dotnet "$synth_dll" bench --model "$synthetic" --streams 1,2,4,8,16,32 --tokens 64 --threads "$(nproc)" | tee "$out/ceiling-synthetic125m.txt"
dotnet "$synth_dll" bench --model "$tiny" --streams 1,2,4,8,16,32 --tokens 64 --threads "$(nproc)" | tee "$out/ceiling-tinystories.txt"

lora_section

echo "== writing docs/benchmarks.md"
python3 loadtests/benchmarks_report.py "$out" docs/benchmarks.md
stop_server
bash loadtests/overhead-bench.sh
echo "done: docs/benchmarks.md"
