#!/usr/bin/env bash
# Builds llama.cpp's shared libraries at exactly the commit LLamaSharp 0.30.0 binds, into /natives.
# Both native stages of the Dockerfile (CPU and CUDA) run this; they differ only in base image and flags.
# Usage: build-llama-natives.sh TAG COMMIT [CMAKE_ARGS...]
set -euo pipefail
tag=${1:?tag}; commit=${2:?commit}; shift 2
git clone --depth 1 --branch "$tag" https://github.com/ggml-org/llama.cpp /llama.cpp
test "$(git -C /llama.cpp rev-parse --short=8 HEAD)" = "$commit" || { echo "llama.cpp $tag is not commit $commit" >&2; exit 1; }
cmake -S /llama.cpp -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF "$@"
cmake --build /build -j"$(nproc)"
mkdir -p /natives
cp -a /build/bin/*.so* /natives/
