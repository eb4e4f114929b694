# syntax=docker/dockerfile:1
# The inference server image. CPU by default; the GPU image is `--build-arg VARIANT=cuda12`.
#
#   docker build -t inferenceserver .
#   docker run -p 8080:8080 -v models:/models inferenceserver          # serves the default model, downloaded into /models
#   docker run -p 8080:8080 -v models:/models -e Server__Model=hf://OWNER/REPO/FILE.gguf inferenceserver
#
# Stages: natives-* build llama.cpp at exactly the commit LLamaSharp 0.30.0 binds, for this machine's CPU
# (or CUDA); build publishes the server with deploy/publish-and-smoke.sh (the script CI runs) and smoke-tests
# it; the runtime stage is the ASP.NET runtime, a non-root user, and the llama.cpp build from natives-*.

ARG VARIANT=cpu

# ---- llama.cpp, tag b10221 (commit 815a2a59): the API LLamaSharp 0.30.0's bindings were written against ----
FROM debian:trixie-slim AS natives-cpu
ARG LLAMA_CPP_TAG=b10221
ARG LLAMA_CPP_COMMIT=815a2a59
# -DGGML_NATIVE=ON compiles for the CPU of the machine that builds the image (AVX512-VNNI, BF16, ... where it has
# them): build on, or for, the machine that runs it. For one image that runs anywhere, pass
# --build-arg LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON".
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON"
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git ca-certificates libgomp1 \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/build-llama-natives.sh /usr/local/bin/
RUN build-llama-natives.sh "$LLAMA_CPP_TAG" "$LLAMA_CPP_COMMIT" $LLAMA_CMAKE_ARGS

FROM nvidia/cuda:12.8.1-devel-ubuntu24.04 AS natives-cuda12
ARG LLAMA_CPP_TAG=b10221
ARG LLAMA_CPP_COMMIT=815a2a59
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_CUDA=ON -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/build-llama-natives.sh /usr/local/bin/
RUN build-llama-natives.sh "$LLAMA_CPP_TAG" "$LLAMA_CPP_COMMIT" $LLAMA_CMAKE_ARGS

FROM natives-${VARIANT} AS natives

# ---- the server: the same publish and smoke test CI runs ----
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG VARIANT
# A ~1 MB model the smoke test downloads through the server's own hf:// support; "" skips the smoke test.
ARG SMOKE_MODEL=hf://ggml-org/models/tinyllamas/stories260K.gguf
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN if [ "$VARIANT" = "cpu" ]; then PUBLISH_ARGS=""; else PUBLISH_ARGS="-p:GpuBackend=$VARIANT"; fi \
 && PUBLISH_ARGS="$PUBLISH_ARGS" bash deploy/publish-and-smoke.sh /app "$SMOKE_MODEL"

# ---- runtime ----
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime-cpu
ENV Server__GpuLayers=0

FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04 AS runtime-cuda12
COPY --from=mcr.microsoft.com/dotnet/aspnet:10.0 /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && apt-get update && apt-get install -y --no-install-recommends libicu74 ca-certificates && rm -rf /var/lib/apt/lists/* \
 && (id -u app >/dev/null 2>&1 || useradd --uid 1654 --create-home app)
ENV APP_UID=1654 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
# Offload every layer (llama.cpp caps the count at the model's layers); lower it when the model does not fit in VRAM.
ENV Server__GpuLayers=999

FROM runtime-${VARIANT} AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends curl libgomp1 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /models && chown "$APP_UID" /models
COPY --from=build /app /app
COPY --from=natives /natives /opt/llama.cpp/lib
WORKDIR /app
# Every setting is an environment variable Server__<Name> (see docs/configuration.md); these are the container's defaults.
ENV Server__Host=0.0.0.0 \
    Server__Port=8080 \
    Server__ModelCache=/models \
    Server__NativeLibDir=/opt/llama.cpp/lib \
    HOME=/tmp
VOLUME /models
EXPOSE 8080
USER $APP_UID
# Healthy once the model is loaded; the first start may download it, hence the long start period.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10m --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${Server__Port}/health" || exit 1
ENTRYPOINT ["dotnet", "/app/InferenceServer.dll"]
