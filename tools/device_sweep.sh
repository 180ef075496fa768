#!/usr/bin/env bash
# The MNIST-scale data-efficiency sweep on one GPU, within a fixed wall time.
#
#   OUT=/path/to/output bash tools/device_sweep.sh          (run from the repository root)
#
# Grid: Fourier network, CNN and Fourier CNN at 5,000, 2,500 and 1,000 training images; 3 seeds at 5,000 and 1 at the
# others (15 runs), preset `paper`, all runs at once in parallel processes on the one GPU. Data: the MNIST test files
# in data/mnist (SCALE_EQ_NB_DATA=$PWD/data).
#
# The number of epochs is fitted to the time: a probe runs the whole grid for one epoch (which also measures the start-up
# and the final evaluation under the same contention), then the sweep runs with as many epochs as the rest of the time
# allows (at most the preset's 60; the StepLR step scales along). A time budget stops whatever would run past the end.
#
# Environment (all optional but OUT):
#   OUT            output folder; receives mnist_scale_records.tar.gz (the run records, summary and figures),
#                  probe_records.tar.gz (the one-epoch probe's records: timings), summary.md and sweep.log
#   TOTAL_SECONDS  wall time of the whole script (default 470)
#   EPOCHS         skip the probe and train this many epochs
#   MAX_EPOCHS     upper bound of the fitted epochs (default 60, the paper's)
#   WORKERS        parallel processes (default 15, one per run)
#   PRESET         runner preset (default paper)
#   TRAIN_SIZES, SEEDS, DEVICE, DATA_DIR   the grid's sizes (5000,2500,1000), seeds (3,1,1), device (cuda) and data
#                  folder ($PWD/data); changed only for a dry run, e.g. on a CPU:
#                  DEVICE=cpu PRESET=test TRAIN_SIZES=120,60 SEEDS=2,1 WORKERS=2 TOTAL_SECONDS=200 DATA_DIR=... OUT=...
set -u
T0=$(date +%s)
: "${OUT:?set OUT to the output folder}"
mkdir -p "$OUT"
TOTAL=${TOTAL_SECONDS:-470}
MAX_EPOCHS=${MAX_EPOCHS:-60}
WORKERS=${WORKERS:-15}
PRESET=${PRESET:-paper}
DEVICE=${DEVICE:-cuda}
export SCALE_EQ_NB_DATA="${DATA_DIR:-$PWD/data}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
# 15 processes share the GPU; a Fourier run peaks near 10 GB (batch 128 at size 28): let the allocator return memory
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
WORK=${WORK_DIR:-$PWD/runs/device_sweep}   # checkpoints: a rerun on the same machine resumes stopped runs
mkdir -p "$WORK"
LOG="$OUT/sweep.log"
exec > >(tee -a "$LOG") 2>&1
elapsed() { echo $(( $(date +%s) - T0 )); }
GRID=(--preset "$PRESET" --models fourier,cnn,fourier-cnn --train-sizes "${TRAIN_SIZES:-5000,2500,1000}"
      --seeds "${SEEDS:-3,1,1}" --workers "$WORKERS" --device "$DEVICE" --nondeterministic)

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

if [ -z "${EPOCHS:-}" ]; then
  echo "== probe: the whole grid for one epoch ($(elapsed) s)"
  rm -rf "$WORK/probe"
  P0=$(date +%s)
  timeout -k 10 $(( TOTAL / 2 )) python -m scale_eq_nb.experiments "${GRID[@]}" --out "$WORK/probe" --epochs 1 \
      --time-budget $(( TOTAL / 2 - 60 ))
  PROBE_WALL=$(( $(date +%s) - P0 ))
  read -r EPOCHS TAIL_GUESS < <(python - "$WORK/probe" "$PROBE_WALL" "$(( TOTAL - $(elapsed) ))" "$MAX_EPOCHS" <<'EOF'
import json, math, sys
from pathlib import Path
folder, probe_wall, left, max_epochs = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(p.read_text()) for p in folder.glob('*.json') if p.name != 'summary.json']
if not recs:
    print('probe: no run finished; falling back to 3 epochs', file=sys.stderr); print(3, 120); sys.exit()
epoch = max(r['history'][0]['seconds'] for r in recs)
tail = max(r['train_seconds'] - sum(h['seconds'] for h in r['history']) + r['evaluation_seconds'] for r in recs)
busy = max(r['train_seconds'] + r['evaluation_seconds'] for r in recs)
startup = max(probe_wall - busy, 0.0)
usable = left - 25 - startup - 1.3 * tail
fit = max(1, min(max_epochs, math.floor(usable / epoch)))
print(f'probe: {len(recs)} runs; slowest epoch {epoch:.1f} s, evaluation {tail:.1f} s, start-up {startup:.1f} s; '
      f'{left:.0f} s left -> {fit} epochs (planned sweep {startup + fit * epoch + tail:.0f} s)', file=sys.stderr)
for r in sorted(recs, key=lambda r: r['run_id']):
    print(f"  {r['run_id']:22s} epoch {r['history'][0]['seconds']:6.1f} s  evaluation "
          f"{r['train_seconds'] - r['history'][0]['seconds'] + r['evaluation_seconds']:6.1f} s", file=sys.stderr)
print(fit, math.ceil(1.3 * tail))
EOF
)
  (cd "$WORK/probe" && tar czf "$OUT/probe_records.tar.gz" ./*.json 2>/dev/null)
else
  TAIL_GUESS=90
fi

LEFT=$(( TOTAL - $(elapsed) ))
BUDGET=$(( LEFT - TAIL_GUESS - 20 ))
[ "$EPOCHS" -ge "$MAX_EPOCHS" ] && EPOCHS_FLAG=() || EPOCHS_FLAG=(--epochs "$EPOCHS")
SWEEP="$WORK/mnist_scale_e$EPOCHS"
echo "== sweep: $EPOCHS epochs, time budget $BUDGET s, $LEFT s left ($(elapsed) s)"
if [ "$BUDGET" -gt 30 ]; then
  timeout -k 10 $(( LEFT - 15 )) python -m scale_eq_nb.experiments "${GRID[@]}" ${EPOCHS_FLAG[@]+"${EPOCHS_FLAG[@]}"} \
      --out "$SWEEP" --time-budget "$BUDGET"
  echo "sweep exit status $?"
else
  echo "too little time left for the sweep"
fi

echo "== packing ($(elapsed) s)"
if ls "$SWEEP"/*.json >/dev/null 2>&1; then
  (cd "$SWEEP" && tar czf "$OUT/mnist_scale_records.tar.gz" ./*.json $(ls ./*.png ./summary.md 2>/dev/null))
  cp "$SWEEP/summary.md" "$OUT/summary.md" 2>/dev/null
fi
for f in "$SWEEP"/runs/*; do
  [ -e "$f" ] && [ ! -e "$SWEEP/$(basename "$f").json" ] && echo "unfinished (checkpoint only): $(basename "$f")"
done
ls -l "$OUT"
echo "== done in $(elapsed) s"
