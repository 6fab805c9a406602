#!/bin/sh
# A stand-in for a user's evaluation command (llama-perplexity, an accuracy script), for TaskMetricTests.
# Usage: fake_eval.sh MODE MODEL_PATH
#   number   - checks the model file exists, prints its path and a few numbers; the last is 0.8125
#   perplexity - prints llama-perplexity-like lines, the estimate followed by its error
#   stderr-only - prints its number on stderr only
#   fail     - writes 30 lines to stderr and exits 3
#   silent   - prints no number
#   slow     - sleeps far longer than any test's timeout (in a child, as a real tool's workers would)
mode="$1"; model="$2"
case "$mode" in
  number)
    [ -f "$model" ] || { echo "no such model: $model" >&2; exit 4; }
    echo "model: $model"
    echo "chunks 1 2 3"
    echo "accuracy = 0.8125"
    ;;
  perplexity)
    echo "[1]5.9214,[2]5.5012,[3]5.3301"
    echo "Final estimate: PPL = 5.3301 +/- 0.0427"
    ;;
  stderr-only)
    echo "loading" 
    echo "result 42.5e-1" >&2
    ;;
  fail)
    i=1
    while [ $i -le 30 ]; do echo "stderr line $i" >&2; i=$((i+1)); done
    exit 3
    ;;
  silent)
    echo "done, nothing to report"
    ;;
  slow)
    sleep 60 &
    wait
    ;;
esac
