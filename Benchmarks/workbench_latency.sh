#!/usr/bin/env bash
# Workbench latency, measured on the real binary in a tmux session (the numbers come from WEIGHTLAB_TRACE,
# which the run loop writes when set):
#   first_frame_ms                        process start → first frame drawn, on a 1 GB model (60 × 2048×2048 F32)
#   key_to_result_on_screen_ms            a key that changes the focused layer's bits → the frame that shows
#                                         its new exact SQNR, on a 4096×4096 layer
# Usage: Benchmarks/workbench_latency.sh [WORKDIR]   (needs tmux, python3 with numpy and safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/weightlab-latency}
mkdir -p "$work"
swift build -c release --product weightlab >/dev/null
bin=$PWD/.build/release/weightlab
[ -f "$work/1g.safetensors" ] || python3 Benchmarks/make_model.py "$work/1g.safetensors"
[ -f "$work/4096.safetensors" ] || python3 Benchmarks/make_model.py "$work/4096.safetensors" --layers 1 --rows 4096 --cols 4096
cat "$work/1g.safetensors" "$work/4096.safetensors" >/dev/null   # warm the page cache: we time the app, not the disk

T="tmux -L weightlab-latency -f /dev/null"
$T kill-server 2>/dev/null || true

run() {  # run MODEL KEYS... ; prints the trace
    local trace="$work/trace.txt"; rm -f "$trace"
    $T new-session -d -s wl -x 160 -y 48 "WEIGHTLAB_TRACE=$trace LANG=C.UTF-8 $bin $1"
    shift
    sleep 2
    for k in "$@"; do $T send-keys -t wl "$k"; sleep 1.5; done
    $T send-keys -t wl q; sleep 0.5
    $T kill-server 2>/dev/null || true
    cat "$trace"
}

echo "== first frame, 1 GB model (3 runs)"
for i in 1 2 3; do run "$work/1g.safetensors" | grep first_frame; done
echo "== key → new SQNR on screen, one 4096×4096 layer (f: int8 per channel, then - - + : 7, 6, 7 bits)"
run "$work/4096.safetensors" f - - +
