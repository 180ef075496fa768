#!/usr/bin/env bash
# Step time and agreement of distributed training: torchrun + DistributedDataParallel on a tiny synthetic run.
#   tools/device_ddp_check.sh cuda [OUT.json]   one GPU: NCCL, float32 / --amp / --compile, each against eager float32
#   tools/device_ddp_check.sh cpu  [OUT.json]   CPU: gloo, one and two processes, find_unused_parameters on and off
# Run from the repository root with scale_eq_nb importable (pip install -e . or PYTHONPATH=$PWD). About a minute.
set -euo pipefail
mode=${1:-cuda}
out=${2:-}
driver=$(mktemp --suffix=.py)
records=$(mktemp -d)
trap 'rm -rf "$driver" "$records"' EXIT
cat > "$driver" <<'PY'
import argparse, json, statistics, time
import torch
from scale_eq_nb.config import TrainConfig
from scale_eq_nb.distributed import (ShardedScaleLoader, compile_model, enable_mixed_precision, init_distributed,
                                     close_distributed, wrap_model)
from scale_eq_nb.models import build_model, scale_loss
from scale_eq_nb.train import load_data, make_optimizer, model_config_for

p = argparse.ArgumentParser()
p.add_argument('--device'); p.add_argument('--record'); p.add_argument('--amp', action='store_true')
p.add_argument('--compile', action='store_true'); p.add_argument('--find-unused', default='auto')
p.add_argument('--epochs', type=int, default=2); p.add_argument('--train-size', type=int, default=512)
p.add_argument('--batch-size', type=int, default=32)
a = p.parse_args()
ctx = init_distributed(a.device)
cfg = TrainConfig(dataset='synthetic', train_size=a.train_size, val_size=8, test_size=8, batch_size=a.batch_size,
                  sizes=list(range(8, 29))).resolved()
data = load_data(cfg)
torch.manual_seed(0)
model = build_model(model_config_for(cfg, data), device=ctx.device)
eager = build_model(model.config, device=ctx.device)
eager.load_state_dict(model.state_dict())
if a.amp:
    enable_mixed_precision(model)
if a.compile:
    compile_model(model)
find = None if a.find_unused == 'auto' else bool(int(a.find_unused))
net = wrap_model(model, ctx, find_unused_parameters=find)
opt = make_optimizer(model, cfg)
loader = ShardedScaleLoader(data.train, cfg.batch_size, ctx.rank, ctx.world_size, seed=0)
sync = torch.cuda.synchronize if ctx.device.type == 'cuda' else (lambda: None)
x0 = data.train.images[data.train.sizes[-1]][:8].to(ctx.device)
with torch.no_grad():                                   # agreement before training, same weights, same dropout draws
    model.train(); eager.train()
    torch.manual_seed(1); y1 = model(x0)
    torch.manual_seed(1); y0 = eager(x0)
    agree_train = ((y1 - y0).norm() / y0.norm()).item()
    model.eval(); eager.eval()
    agree_eval = ((model(x0) - eager(x0)).norm() / eager(x0).norm()).item()
times = []
for epoch in range(a.epochs):
    loader.set_epoch(epoch)
    model.train()
    for x, y in loader:
        sync(); t = time.perf_counter()
        x, y = x.to(ctx.device), y.to(ctx.device)
        loss = scale_loss(net(x), y)[0] + cfg.reg_weight * model.regularizer()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        sync(); times.append(time.perf_counter() - t)
if ctx.rank == 0:
    steady = times[len(times) // 4:]                    # the first quarter holds compilation and warm-up
    rec = dict(world_size=ctx.world_size, device=str(ctx.device), backend=ctx.backend, amp=a.amp, compile=a.compile,
               find_unused_parameters=net.find_unused_parameters if hasattr(net, 'find_unused_parameters') else None,
               batch_size=cfg.batch_size, steps=len(times), first_step_s=times[0],
               median_step_s=statistics.median(steady), relative_difference_train=agree_train,
               relative_difference_eval=agree_eval, final_loss=loss.item())
    json.dump(rec, open(a.record, 'w'))
    print(f"{ctx.world_size} process(es) {ctx.backend} {rec['device']} amp={a.amp} compile={a.compile} "
          f"find_unused={rec['find_unused_parameters']}: median step {rec['median_step_s'] * 1e3:.1f} ms "
          f"(first {rec['first_step_s']:.2f} s, {len(times)} steps); vs eager float32: train forward "
          f"{agree_train:.1e}, eval forward {agree_eval:.1e}")
close_distributed(ctx)
PY
run() {  # run NPROC NAME ARGS...
  local n=$1 name=$2; shift 2
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} timeout 300 python -m torch.distributed.run --standalone --nproc_per_node="$n" \
    "$driver" --record "$records/$name.json" "$@" 2> "$records/$name.err" || { grep -v '^W[0-9]' "$records/$name.err" | grep -m1 -B2 -A12 'Traceback' ; return 1; }
}
if [ "$mode" = cuda ]; then
  python -c "import torch; assert torch.cuda.is_available(), 'no GPU visible'; print(torch.__version__, torch.cuda.get_device_name(0))"
  run 1 cuda-fp32 --device cuda
  run 1 cuda-amp --device cuda --amp
  run 1 cuda-compile --device cuda --compile
  run 1 cuda-nofind --device cuda --find-unused 0 || echo "without find_unused_parameters DDP stops: some parameters take no part at some input sizes"
  python - "$records" <<'PY'
import json, pathlib, sys
r = {p.stem: json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1]).glob('*.json')}
ok = (r['cuda-fp32']['relative_difference_eval'] < 1e-6 and r['cuda-amp']['relative_difference_eval'] < 1e-6
      and r['cuda-amp']['relative_difference_train'] < 5e-2 and r['cuda-compile']['relative_difference_eval'] < 1e-5)
for k in [k for k in ("cuda-amp", "cuda-compile", "cuda-nofind") if k in r]:
    print(f"{k}: step time {r[k]['median_step_s'] / r['cuda-fp32']['median_step_s']:.2f} x float32 eager")
print('agreement within tolerance (float32 and amp eval 1e-6, amp train 5e-2, compile eval 1e-5):', ok)
sys.exit(0 if ok else 1)
PY
else
  run 1 cpu-1 --device cpu
  run 2 cpu-2 --device cpu
  run 2 cpu-2-nofind --device cpu --find-unused 0 || echo "without find_unused_parameters DDP stops: some parameters take no part at some input sizes"
fi
if [ -n "$out" ]; then
  python - "$records" "$out" <<'PY'
import json, pathlib, platform, sys, torch
runs = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob('*.json'))]
import os
gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ''
machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores{gpu}, load average {os.getloadavg()[0]:.1f} at the end, "
           f"one thread per process, PyTorch {torch.__version__}")
pathlib.Path(sys.argv[2]).write_text(json.dumps(dict(machine=machine, runs=runs), indent=1))
PY
fi
