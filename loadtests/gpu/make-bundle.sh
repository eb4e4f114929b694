#!/usr/bin/env bash
# Packs what device-run.sh needs on the device tool's GPU machine, which has no .NET and no network, into .gpu/bundle
# (ignored; the device tool carries it): a trimmed .NET runtime, the server, synthmodel and load generator builds, and llama.cpp
# b10361's CUDA build from node-llama-cpp's npm packages behind llama_shim.c. The repository and the bundle together
# must stay under the tool's 64 MiB. See loadtests/gpu/README.md.
# Usage: bash loadtests/gpu/make-bundle.sh [--check]
#   --check: then runs device-run.sh here over the CPU build of the same llama.cpp (1 pair a row)
set -euo pipefail
cd "$(dirname "$0")/../.."
version=3.20.0 build=b10361
work=.gpu/work stage=.gpu/stage bundle=.gpu/bundle
mkdir -p $work $bundle
echo "== llama.cpp $build from node-llama-cpp $version (npm)"
for package in node-llama-cpp @node-llama-cpp/linux-x64-cuda @node-llama-cpp/linux-x64; do
  name=$(echo "${package#@}" | tr / -)
  [ -d $work/$name ] || { (cd $work && npm pack --silent "$package@$version" >/dev/null) \
    && mkdir -p $work/$name && tar xzf $work/$name-$version.tgz -C $work/$name; }
done
source=$work/llama.cpp
[ -d $source ] || git -c advice.detachedHead=false clone -q $work/node-llama-cpp/package/llama/gitRelease.bundle $source
# The shim's byte layout of llama_context_params, checked against b10361's header.
printf '%s\n' '#include <stddef.h>' '#include "llama.h"' \
  '_Static_assert(sizeof(struct llama_context_params) == 160, "size");' \
  '_Static_assert(offsetof(struct llama_context_params, n_outputs_max_per_seq) == 24, "the added field");' \
  '_Static_assert(offsetof(struct llama_context_params, defrag_thold) == 84, "the last moved field");' \
  '_Static_assert(offsetof(struct llama_context_params, cb_eval) == 88, "the first unmoved field");' > $work/layout.c
gcc -fsyntax-only -I$source/include -I$source/ggml/include $work/layout.c

cuda=$work/node-llama-cpp-linux-x64-cuda/package/bins/linux-x64-cuda
cpu=$work/node-llama-cpp-linux-x64/package/bins/linux-x64
rm -rf $stage && mkdir -p $stage/cuda $stage/cpu $stage/server $stage/synth $stage/loadgen $stage/dotnet/shared
cp $cuda/libllama.cuda.$build.so $cuda/libggml.cuda.$build.so $cuda/libggml-base.so $stage/cuda/
for variant in x64 haswell skylakex icelake cascadelake cooperlake sapphirerapids alderlake zen4; do
  cp $cuda/libggml-cpu-$variant.so $stage/cuda/
done
python3 loadtests/gpu/fatbin_keep.py $cuda/libggml-cuda.so $stage/cuda/libggml-cuda.so 1:90
cp $cpu/*.so $stage/cpu/
shim() { # folder, real libllama
  gcc -shared -fPIC -O2 -Wall -o "$1/libllama.so" loadtests/gpu/llama_shim.c -L"$1" -Wl,--no-as-needed -l:"$2" -ldl -Wl,-rpath,'$ORIGIN'
}
shim $stage/cuda libllama.cuda.$build.so
shim $stage/cpu libllama.$build.so
# LLamaSharp also imports from "ggml": the same library as libllama's, not a second copy.
ln -sf libggml.cuda.$build.so $stage/cuda/libggml.so
ln -sf libggml.$build.so $stage/cpu/libggml.so

echo "== the server, synthmodel and the load generator (Release, without LLamaSharp's own native libraries)"
dotnet build -c Release InferenceServer.sln --nologo -v q >/dev/null
bin=bin/Release/net10.0/linux-x64
(cd src/InferenceServer/$bin && tar cf - --exclude=./runtimes .) | tar xf - -C $stage/server
(cd src/InferenceServer.SyntheticModels/$bin && tar cf - --exclude=./runtimes .) | tar xf - -C $stage/synth
# Without the chart libraries' native code (11 MB): device-run.sh draws no chart.
(cd loadtests/InferenceServer.LoadGen/$bin && tar cf - --exclude=./libSkiaSharp.so --exclude=./libHarfBuzzSharp.so .) | tar xf - -C $stage/loadgen
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')
aspnet=$(dotnet --list-runtimes | awk '$1 == "Microsoft.AspNetCore.App" { v = $2 } END { print v }')
cp -a "$root/dotnet" "$root/host" $stage/dotnet/
mkdir -p $stage/dotnet/shared/Microsoft.NETCore.App $stage/dotnet/shared/Microsoft.AspNetCore.App
cp -a "$root/shared/Microsoft.NETCore.App/$runtime" $stage/dotnet/shared/Microsoft.NETCore.App/
cp -a "$root/shared/Microsoft.AspNetCore.App/$aspnet" $stage/dotnet/shared/Microsoft.AspNetCore.App/
# Parts neither program loads (XML, data sets, VB, the debugger's and the alternative GCs' libraries), for the size.
(cd $stage/dotnet/shared/Microsoft.NETCore.App/$runtime && rm -f System.Private.Xml.dll System.Private.Xml.Linq.dll \
  System.Private.DataContractSerialization.dll System.Data.Common.dll Microsoft.VisualBasic.Core.dll libmscordaccore.so \
  libmscordbi.so libclrgc.so libclrgcexp.so createdump libcoreclrtraceptprovider.so)

echo "== packing (xz, a few minutes)"
tar cf - -C $stage dotnet server synth loadgen | xz -9e -T2 > $bundle/rt.tar.xz
tar cf - -C $stage cuda | xz -9 -T2 > $bundle/cuda.tar.xz
tracked=$(git ls-files -z | xargs -0 stat -c %s | awk '{ s += $1 } END { print s }')
packed=$(stat -c %s $bundle/rt.tar.xz $bundle/cuda.tar.xz | awk '{ s += $1 } END { print s }')
echo "bundle $(( packed / 1048576 )) MiB + repository $(( tracked / 1048576 )) MiB of the device tool's 64 MiB"
[ $(( packed + tracked )) -lt $(( 64 * 1048576 )) ] || { echo "too large for the device tool"; exit 1; }

if [ "${1:-}" = --check ]; then
  echo "== device-run.sh here, on the CPU build"
  check=$(mktemp -d)
  PREFIX=$PWD/$stage NATIVES=cpu NGL=0 THREADS=$(nproc) PAIRS=1 DEADLINE=600 DECODE_CORES=0 TINY_THREADS=1 CLIENT_CORES=1 \
    OUT=$check bash loadtests/gpu/device-run.sh
  echo "results in $check"
fi
