#!/usr/bin/env bash
# Publishes the server and proves the published build works: restore, publish, start the published server
# on a tiny model, wait for GET /health, ask for one completion. The Dockerfile's build stage and CI
# (.ci/run) both run exactly this.
#
# Usage: deploy/publish-and-smoke.sh OUTPUT_DIR [SMOKE_MODEL]
#   SMOKE_MODEL  a GGUF path, or hf://OWNER/REPO/FILE.gguf (downloaded by the server itself); none = no smoke test
#   PUBLISH_ARGS extra `dotnet publish` arguments, e.g. "-p:GpuBackend=cuda12" for the GPU image
set -euo pipefail
cd "$(dirname "$0")/.."

output=${1:?usage: deploy/publish-and-smoke.sh OUTPUT_DIR [SMOKE_MODEL]}
model=${2:-}
read -r -a publish_args <<< "${PUBLISH_ARGS:-}"

dotnet restore src/InferenceServer "${publish_args[@]}"
dotnet publish src/InferenceServer -c Release --no-restore -o "$output" "${publish_args[@]}"

if [ -z "$model" ]; then
  echo "publish-and-smoke: published to $output (no smoke model given)"
  exit 0
fi

work=$(mktemp -d)
port=$(( 20000 + RANDOM % 20000 ))
"$output/InferenceServer" -m "$model" --model-id smoke --model-cache "$work/cache" --host 127.0.0.1 --port "$port" -np 2 -t 2 > "$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "publish-and-smoke: $1; server log:" >&2
  cat "$work/server.log" >&2
  exit 1
}

# Loading (or downloading) the smoke model takes seconds; give it two minutes.
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/health" > /dev/null 2>&1; then break; fi
  kill -0 "$server" 2>/dev/null || fail "the server exited before it was healthy"
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/health" > /dev/null || fail "GET /health did not answer 200 within two minutes"

completion=$(curl -fsS "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model": "smoke", "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}') || fail "POST /v1/completions failed"
case "$completion" in
  *'"text":"'[!\"]*) ;;
  *) fail "the completion has no text: $completion" ;;
esac
echo "publish-and-smoke: the published server at $output answered /health and a completion: $completion"
