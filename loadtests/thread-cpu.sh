#!/usr/bin/env bash
# CPU seconds a process spent per thread name over a window, from /proc (no tools needed): where the cores went
# while a benchmark ran, e.g. llama.cpp's decode threads (they carry the engine thread's name, "inference-engin")
# against Kestrel, the thread pool, the GC and the JIT (".NET Tiered Com…"). Threads that ended during the window
# are in the process total only. docs/performance.md shows what it found.
# Usage: bash loadtests/thread-cpu.sh PID [SECONDS=10]
set -euo pipefail
pid=$1 seconds=${2:-10}
ticks=$(getconf CLK_TCK)
snapshot() { # "tid name ticks" per live thread
  for task in /proc/"$pid"/task/*; do
    stat=$(cat "$task/stat" 2>/dev/null) || continue
    name=$(tr ' ' '_' <"$task/comm" 2>/dev/null) || continue
    fields=${stat##*) }
    set -- $fields
    echo "${task##*/} $name $(( ${12} + ${13} ))"
  done
}
total() { local fields; fields=$(cat /proc/"$pid"/stat); fields=${fields##*) }; set -- $fields; echo $(( ${12} + ${13} )); }
before=$(snapshot) start=$(total)
sleep "$seconds"
after=$(snapshot) end=$(total)
echo "process $pid over ${seconds}s: $(awk -v t="$ticks" -v d=$((end - start)) 'BEGIN { printf "%.2f", d / t }') CPU-seconds"
# Threads alive at both ends count their difference; threads started inside the window count all they used.
awk -v t="$ticks" 'NR == FNR { seen[$1] = $3; next } { used[$2] += $3 - ($1 in seen ? seen[$1] : 0) }
  END { for (name in used) if (used[name] > 0) printf "%8.2f  %s\n", used[name] / t, name }' \
  <(echo "$before") <(echo "$after") | sort -rn
