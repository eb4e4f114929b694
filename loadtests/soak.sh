#!/usr/bin/env bash
# Soak: STREAMS concurrent streaming chat clients for DURATION seconds against a freshly started server, with
# ABORT of the streams cut off mid-answer by the client. Reports every outcome, the number of 5xx answers, and
# the server's resident memory after a warm-up, at its peak and at the end (a leak shows as a steady rise).
# Prints the JSON summary and one Markdown row for docs/benchmarks.md.
# Usage: [DURATION=300] [STREAMS=16] [ABORT=0.2] [MODEL=FILE] [THREADS=2] [SEED=1] bash loadtests/soak.sh
#   (default model: TinyStories-656K from ../shared/models, served with -c 8192 -np 16)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-300}
streams=${STREAMS:-16}
abort=${ABORT:-0.2}
threads=${THREADS:-2}
seed=${SEED:-1}
model=${MODEL:-$(cd .. && pwd)/shared/models/TinyStories-656K-Q8_0.gguf}
port=18131
out=$(mktemp -d)

dotnet build -c Release src/InferenceServer --nologo -v q >/dev/null
dotnet src/InferenceServer/bin/Release/net10.0/linux-x64/InferenceServer.dll -m "$model" --port "$port" -c 8192 -np 16 -t "$threads" \
  >"$out/server.log" 2>&1 &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
model_id=$(curl -sf "http://127.0.0.1:$port/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')

python3 loadtests/soak.py --base-url "http://127.0.0.1:$port/v1" --model "$model_id" --pid "$server" \
  --duration "$duration" --streams "$streams" --abort-fraction "$abort" --seed "$seed" | tee "$out/soak.json"
# The server's own count of answers by status, from its request log: a 5xx the client missed would show here.
server_5xx=$(grep -cE '"?(POST|GET) [^ ]+ 5[0-9][0-9] ' "$out/server.log" || true)
python3 - "$out/soak.json" "$server_5xx" "$(nproc)" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["counts"]
others = {k: v for k, v in c.items() if k not in ("completed", "aborted", "5xx")}
mib = lambda kib: f"{kib / 1024:.0f}"
print(f"| {s['duration_s']:.0f} s | {s['streams']} | {s['abort_fraction']:.0%} | {s['requests']} | {c.get('completed', 0)} | "
      f"{c.get('aborted', 0)} | {s['server_errors_5xx']} (server log: {sys.argv[2]}) | {', '.join(f'{k}×{v}' for k, v in others.items()) or 'none'} | "
      f"{mib(s['rss_after_warmup_kib'])} → {mib(s['rss_end_kib'])} MiB ({s['rss_change_percent']:+.1f}%), peak {mib(s['rss_peak_kib'])} | {sys.argv[3]} cores |")
PY
