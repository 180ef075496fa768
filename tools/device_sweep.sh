#!/usr/bin/env bash
# The MNIST-scale data-efficiency sweep, its consistency-loss ablation, the GPU layer benchmark and the NCCL check, on
# one GPU within a fixed wall time.
#
#   OUT=/path/to/output bash tools/device_sweep.sh          (run from the repository root)
#
# Sweep: Fourier network, CNN and Fourier CNN at 5,000, 2,500 and 1,000 training images; 3 seeds at 5,000 and 1 at the
# others (15 runs), preset `paper`. Ablation: the Fourier network without the consistency loss (consistency_weight=0),
# with the same seeds (5 runs). Every run takes the same number of optimizer steps: EPOCHS epochs at 5,000 images and
# 2 x EPOCHS at 2,500 and 1,000, whose size-grouped batches give half as many steps per epoch (21 against 42). The
# StepLR step scales with the epochs. All runs start at once, in parallel processes on the one GPU; the grid can be run
# in parts (MAIN_SIZES, ABLATION_SIZES), and `scale-eq-nb sweep --summary-only` summarises the records of all parts.
# Data: the MNIST test files in data/mnist (SCALE_EQ_NB_DATA=$PWD/data).
#
# Then, in the time left: `bench/bench_layers.py --device cuda` and `tools/device_ddp_check.sh cuda`.
#
# Environment (all optional but OUT):
#   OUT            output folder; receives main_records.tar.gz, ablation_records.tar.gz, cuda.json (benchmark),
#                  ddp_cuda.json, logs.tar.gz (the sweeps' logs and summaries) and device.log
#   TOTAL_SECONDS  wall time of the whole script (default 540)
#   SWEEP_SECONDS  time budget of the sweep (default 400); a run still training then stops (resumable, no record)
#   EPOCHS         epochs at LARGE images (default 15); twice as many below
#   MAIN_SIZES     training-set sizes of the grid to run (default 5000,2500,1000); 3 seeds at LARGE (5000), 1 below
#   ABLATION_SIZES training-set sizes of the ablation (default: MAIN_SIZES)
#   PRESET, DEVICE, DATA_DIR   preset (paper), device (cuda) and data folder ($PWD/data); changed only for a dry run,
#                  e.g. on a CPU: DEVICE=cpu PRESET=test LARGE=120 MAIN_SIZES=120,60 EPOCHS=1 DATA_DIR=... OUT=...
set -u
T0=$(date +%s)
: "${OUT:?set OUT to the output folder}"
mkdir -p "$OUT"
TOTAL=${TOTAL_SECONDS:-540}
SWEEP_SECONDS=${SWEEP_SECONDS:-400}
EPOCHS=${EPOCHS:-15}
PRESET=${PRESET:-paper}
DEVICE=${DEVICE:-cuda}
LARGE=${LARGE:-5000}
MAIN_SIZES=${MAIN_SIZES:-5000,2500,1000}
ABLATION_SIZES=${ABLATION_SIZES:-$MAIN_SIZES}
export SCALE_EQ_NB_DATA="${DATA_DIR:-$PWD/data}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
# many processes share the GPU; a Fourier run peaks near 10 GB (batch 128 at size 28): let the allocator return memory
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
WORK=${WORK_DIR:-$PWD/runs/device_sweep}
rm -rf "$WORK"
mkdir -p "$WORK/logs"
exec > >(tee -a "$OUT/device.log") 2>&1
elapsed() { echo $(( $(date +%s) - T0 )); }

echo "== environment ($(elapsed) s)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
DEVICE="$DEVICE" python - <<'EOF' || { echo "environment check failed: nothing was run"; exit 2; }
import os, torch, numpy, tqdm
import scale_eq_nb, scale_eq_nb.experiments as ex
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')
print('scale_eq_nb', scale_eq_nb.__version__)
assert torch.cuda.is_available() or not os.environ['DEVICE'].startswith('cuda'), 'no CUDA device'
print('data', ex.sweep_data().info)
EOF

sweep() {  # folder, training-set size, seeds, workers, then more flags
  local folder=$1 n=$2 seeds=$3 workers=$4 epochs=$(( 2 * EPOCHS )); shift 4
  [ "$n" = "$LARGE" ] && epochs=$EPOCHS
  python -m scale_eq_nb.experiments --preset "$PRESET" --device "$DEVICE" --nondeterministic --threads 1 \
      --workers "$workers" --epochs "$epochs" --out "$folder" --time-budget "$SWEEP_SECONDS" --train-sizes "$n" \
      --seeds "$seeds" "$@" > "$WORK/logs/sweep-$(basename "$folder")-n$n-e$epochs.log" 2>&1
}
echo "== sweep: $EPOCHS epochs at $LARGE images, $(( 2 * EPOCHS )) below; sizes $MAIN_SIZES, ablation at $ABLATION_SIZES;" \
     "budget $SWEEP_SECONDS s ($(elapsed) s)"
PIDS=()
for n in ${MAIN_SIZES//,/ }; do
  seeds=1; [ "$n" = "$LARGE" ] && seeds=3
  sweep "$WORK/main" "$n" "$seeds" $(( 3 * seeds )) --models fourier,cnn,fourier-cnn & PIDS+=($!)
done
for n in ${ABLATION_SIZES//,/ }; do
  seeds=1; [ "$n" = "$LARGE" ] && seeds=3
  sweep "$WORK/ablation" "$n" "$seeds" "$seeds" --models fourier --set consistency_weight=0 & PIDS+=($!)
done
wait "${PIDS[@]}"   # (a bare `wait` would also wait for the log's tee)
tail -n 3 "$WORK"/logs/sweep-*.log
for name in main ablation; do
  [ -d "$WORK/$name" ] || continue
  python -m scale_eq_nb.experiments --summary-only --out "$WORK/$name" > "$WORK/logs/summary-$name.md" 2>&1
  (cd "$WORK/$name" && tar czf "$OUT/${name}_records.tar.gz" ./*.json $(ls ./*.png 2>/dev/null))
  for f in "$WORK/$name"/runs/*; do
    [ -e "$WORK/$name/$(basename "$f").json" ] || echo "unfinished: $name/$(basename "$f")"
  done
done
cat "$WORK"/logs/summary-*.md
(cd "$WORK/logs" && tar czf "$OUT/logs.tar.gz" ./*)

LEFT=$(( TOTAL - $(elapsed) ))
echo "== GPU layer benchmark, $LEFT s left ($(elapsed) s)"
if [ "$LEFT" -gt 100 ] && [ "$DEVICE" != cpu ]; then
  timeout -k 5 $(( LEFT / 2 )) python bench/bench_layers.py --device cuda --budget 0.2 --max-repeats 7 --out "$OUT/cuda.json"
fi
LEFT=$(( TOTAL - $(elapsed) ))
echo "== NCCL check, $LEFT s left ($(elapsed) s)"
if [ "$LEFT" -gt 40 ] && [ "$DEVICE" != cpu ]; then
  timeout -k 5 $(( LEFT - 10 )) bash tools/device_ddp_check.sh cuda "$OUT/ddp_cuda.json"
fi
ls -l "$OUT"
echo "== done in $(elapsed) s"
