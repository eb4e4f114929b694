#!/usr/bin/env bash
# On the GPU machine (the device tool), from the repository root, with .gpu/bundle carried (make-bundle.sh):
# unpacks .NET, the server and llama.cpp b10361's CUDA build, writes the synthetic 125M model in F16, and runs the
# speculative-decoding rows against the server on the GPU; then, with time left, issue 13's TinyStories-656K row on
# two of the host's CPU cores with the load client on others. Everything it prints is also in $OUT/run.log.
#   DEADLINE=S  seconds the whole run may take (default 540; the device tool's limit is 600)
#   ROWS="speculative tiny always"  which parts run, in that order (default all)
#   PREFIX=DIR NATIVES=cpu NGL=0  run it here instead, over make-bundle.sh's staging folder and the CPU build
set -uo pipefail
repo=$(pwd); bundle=$repo/.gpu/bundle; started=$(date +%s); deadline=${DEADLINE:-540}
say() { echo "[+$(( $(date +%s) - started ))s] $*"; }
left() { echo $(( deadline - ($(date +%s) - started) )); }
prefix=${PREFIX:-/opt/inferenceserver}; natives=${NATIVES:-cuda}; layers=${NGL:-99}; out=${OUT:?}
if [ -z "${PREFIX:-}" ]; then
  say "unpacking"; mkdir -p "$prefix"
  for part in rt cuda; do
    if command -v xz >/dev/null; then tar -xJf "$bundle/$part.tar.xz" -C "$prefix"
    else python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$bundle/$part.tar.xz" "$prefix"; fi || exit 1
  done
fi
export DOTNET_ROOT=$prefix/dotnet PATH=$prefix/dotnet:$PATH DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_NOLOGO=1
if [ "$natives" = cuda ]; then
  cuda_libs=$(find /usr/local /usr/lib /opt -xdev \( -name libcublas.so.13 -o -name libcudart.so.13 -o -name libcublasLt.so.13 \) 2>/dev/null \
    | xargs -r -n1 dirname | sort -u | tr '\n' ':')
  export LD_LIBRARY_PATH=$prefix/cuda:${cuda_libs}/usr/local/cuda/lib64:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}
  export CUDA_CACHE_MAXSIZE=4294967296 # the JIT'd kernels of every module the run touches
  echo "CUDA libraries: $cuda_libs"; ldd "$prefix/cuda/libggml-cuda.so" | grep "not found"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi
grep -m1 "model name" /proc/cpuinfo; echo "$(nproc) cores"
model=$prefix/synth-125m-f16.gguf
say "writing the synthetic 125M model (F16: the CUDA kernels for it are few, so little PTX to JIT)"
[ -f "$model" ] || dotnet "$prefix/synth/synthmodel.dll" write --shape 125m --quant F16 --seed 1 \
  --vocab "$repo/tests/fixtures/vocab/ggml-vocab-llama-spm.gguf" -o "$model" | tail -1
port=18092; server=; rows=${ROWS:-speculative tiny always}
wants() { [[ " $rows " == *" $1 "* ]]; }
serve() { # log, flags... ($serve_model, on the cores $pin names, if any)
  local log=$1; shift
  ${pin:+taskset -c "$pin"} dotnet "$prefix/server/InferenceServer.dll" -m "${serve_model:-$model}" --port $port -c 16384 -np 16 \
    -t "${THREADS:-4}" --n-gpu-layers "$layers" --native-lib-dir "$prefix/$natives" "$@" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 900); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 $server 2>/dev/null || { tail -n 30 "$log"; return 1; }
    sleep 0.2
  done
  return 1
}
stop() { kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; }
bench() { # label, pairs
  timeout $(( $(left) - 30 )) python3 -u loadtests/speculative_bench.py --base-url "http://127.0.0.1:$port/v1" \
    --pairs "$2" --label "$1" --out "$out/$1.json" --allow-text-differences
}
# Issue 13's last target: TinyStories-656K at 16 streams at 0.85 of the engine-only rate. On the 2-core development
# machine the load client and Kestrel share the decode's cores (0.32 there); here llama.cpp decodes on cores 0-1 with
# 2 threads, the GPU hidden, and the client runs on the other cores. Ceiling and server alternate, twice.
# Kestrel's threads are not pinned away from the decode: they are the server's own cost, as on any host.
#   DECODE_CORES (default 0,1), TINY_THREADS (2), CLIENT_CORES (2 to the last): e.g. 0 / 1 / 1 to try it on 2 cores.
tiny_row() {
  local tiny=$repo/tests/fixtures/models/TinyStories-656K-Q8_0.gguf round
  local decode=${DECODE_CORES:-0,1} threads=${TINY_THREADS:-2} client=${CLIENT_CORES:-2-$(( $(nproc) - 1 ))}
  command -v taskset >/dev/null && { [ -n "${CLIENT_CORES:-}" ] || [ "$(nproc)" -ge 4 ]; } \
    || { say "TinyStories row skipped: it needs taskset and 4 cores"; return; }
  loadgen() { taskset -c "$client" dotnet "$prefix/loadgen/loadgen.dll" --base-url "http://127.0.0.1:$port/v1" --no-progress "$@"; }
  for round in 1 2; do
    say "TinyStories-656K, 16 streams, round $round: engine-only ceiling on cores $decode"
    CUDA_VISIBLE_DEVICES= taskset -c "$decode" dotnet "$prefix/synth/synthmodel.dll" bench --model "$tiny" --streams 16 --tokens 128 \
      --threads "$threads" --cache-type-k bf16 --repeat 5 --native-lib-dir "$prefix/$natives" 2>&1 | tee "$out/tiny-ceiling-r$round.txt" | tail -n 2
    say "TinyStories-656K, 16 streams, round $round: the server on cores $decode, the client on $client"
    CUDA_VISIBLE_DEVICES= serve_model=$tiny pin=$decode THREADS=$threads layers=0 serve "$out/server-tiny.log" || return
    for endpoint in chat completions; do
      loadgen --seed 99 --endpoint $endpoint --workload random --input-len 4 --output-len 8 --concurrency 16 --requests 512 --warmup 0 >/dev/null
    done
    loadgen --seed 1 --out "$out/tiny-server-r$round.json" --workload random --input-len 16 --output-len 128 --concurrency 16 --requests 160 | tail -n 3
    stop
  done
  python3 - "$out" <<'PY'
import json, re, sys
out = sys.argv[1]
for r in (1, 2):
    ceiling = float(re.search(r"threads: ([0-9.]+) tokens/s", open(f"{out}/tiny-ceiling-r{r}.txt").read()).group(1))
    server = json.load(open(f"{out}/tiny-server-r{r}.json"))["levels"][0]["output_token_throughput"]
    print(f"TinyStories-656K, 16 streams, round {r}: server {server:.0f} tok/s, ceiling {ceiling:.0f} tok/s, ratio {server / ceiling:.2f}")
PY
}

if wants speculative; then
  say "starting the server (--speculative ngram)"
  serve "$out/server-measured.log" --speculative ngram || exit 1
  grep -iE "CUDA|offload|backend" "$out/server-measured.log" | head -n 12
  # The first use of each kernel JIT-compiles its module's PTX: time it before anything is measured.
  for words in 1 8 40 128; do
    began=$(date +%s%N)
    curl -s "http://127.0.0.1:$port/v1/completions" -H 'content-type: application/json' -d "{\"model\":\"synth-125m-f16\",
      \"prompt\":\"Once upon a time $(printf 'word %.0s' $(seq $words))\",\"max_tokens\":24,\"temperature\":0,\"ignore_eos\":true,
      \"prediction\":{\"type\":\"content\",\"content\":\"a b c d e f g h i j k l m n o p\"}}" | head -c 120; echo
    say "warm-up with a $words-word prompt: $(( ($(date +%s%N) - began) / 1000000 )) ms"
  done
  say "speculative rows, measured policy ($(left) s left)"
  bench synth-125m-f16-measured "${PAIRS:-5}"
  stop
fi
if wants tiny && [ "$(left)" -gt 120 ]; then tiny_row; fi
if wants always && [ "$(left)" -gt 150 ]; then
  say "speculative rows, --speculative-policy always ($(left) s left)"
  serve "$out/server-always.log" --speculative ngram --speculative-policy always && bench synth-125m-f16-always 3
  stop
fi
say done
