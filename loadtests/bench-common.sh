# Sourced by the benchmark scripts: a Release build, the paths of its tools, the synthetic 125M model, and a server
# started in the background and stopped on exit. Expects to run from the repository root.
bench_bin=net10.0/linux-x64
server_dll=src/InferenceServer/bin/Release/$bench_bin/InferenceServer.dll
loadgen_dll=loadtests/InferenceServer.LoadGen/bin/Release/$bench_bin/loadgen.dll
synth_dll=src/InferenceServer.SyntheticModels/bin/Release/$bench_bin/synthmodel.dll
models_dir=${BENCH_MODELS:-$HOME/.cache/inferenceserver-bench}
synthetic=$models_dir/synth-125m-q8_0.gguf

# Builds the solution, and writes the synthetic 125M Q8_0 model (random weights, 32k LLaMA vocabulary) once.
bench_prepare() {
  echo "== building (Release)"
  dotnet build -c Release InferenceServer.sln --nologo -v q >/dev/null
  mkdir -p "$models_dir"
  [ -f "$synthetic" ] || dotnet "$synth_dll" write --shape 125m --quant Q8_0 --seed 1 -o "$synthetic"
}

server_pid=
# Starts a server command in the background (its output to LOG) and waits until $port answers /health.
start_server_cmd() { # log, command...
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "the server exited:"; tail -n 20 "$log"; return 1; }
    sleep 0.2
  done
  echo "server did not become healthy"; return 1
}
stop_server() { if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; server_pid=; }
