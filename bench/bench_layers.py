"""Speed and activation memory of the scale-equivariant non-linearity and pooling layers against the yardstick.

For every case it measures, in one process with the runs interleaved (minimum over the repeats, after a warm-up call):
the layer, the per-resolution FFT loop `yardstick.rfft_loop` (irfft2 of the band, σ, rfft2, slice-copy of the ring, per
visited resolution) and the FFT floor (one irfft2 + one rfft2 per visited resolution on the same batch); forward (no
grad) and forward+backward (a fixed random cotangent); and the bytes autograd saves for backward (unique storages; the
layer's plan constants, built once and shared by every batch like weights, are reported apart as `constants_mib`; on
CUDA also the peak memory of forward+backward). It prints a markdown table with every ratio, then each target as
met/MISSED, and writes everything as JSON (default `nbs/results/bench/<device>.json`).

    python bench/bench_layers.py --quick                    # two small cases, one thread
    python bench/bench_layers.py --threads 1 2              # the full CPU grid with 1 and with 2 threads
    python bench/bench_layers.py --device cuda              # the full grid on the GPU

Grid: N in {28, 64, 97, 128} (base_res 8, 16, 32, 32) x increment in {1, 8, 32} (those below N - base_res) x
{non-linearity, pooling by 2}, plus the quick-start block (SpectralConv2dLocalized(3, 32, 28, 7) -> pooling layer,
N=128, base 32, increment 32) at batch 1 and 8. float32, batch 8, 32 channels, sigmoid.
"""
import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from yardstick import fft_floor, rfft_loop  # noqa: E402

from scale_eq_nb.nonlinearity import saved_bytes, scaleEqNonlin  # noqa: E402
from scale_eq_nb.pooling import scaleEqNonlinMaxp  # noqa: E402
from scale_eq_nb.spectral_conv import SpectralConv2dLocalized  # noqa: E402

BASES = {28: 8, 64: 16, 97: 32, 128: 32}
FULL = [(kind, n, BASES[n], inc) for kind in ('nonlin', 'pool') for n in BASES for inc in (1, 8, 32) if inc < n - BASES[n]]
QUICK = [('nonlin', 28, 8, 1), ('pool', 28, 8, 8)]
QUICKSTART = [('quickstart', 128, 32, 32, 1), ('quickstart', 128, 32, 32, 8)]


def clock_for(device, threads):
    "CPU time of the process with one CPU thread (least disturbed by other jobs), wall time otherwise."
    return time.process_time if device.type == 'cpu' and threads == 1 else time.perf_counter


def min_ms(fns, device, clock, budget_s, max_repeats):
    "Minimum time (ms) of each of `fns` over interleaved repeats after one warm-up call each; as many repeats as fit `budget_s` (at least 3, or 2 when one round takes over a second, at most `max_repeats`)."
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    t0 = time.perf_counter()
    for fn in fns:
        fn()
    sync()
    first = time.perf_counter() - t0
    repeats = max(3 if first < 1.0 else 2, min(max_repeats, int(budget_s / max(first, 1e-6))))
    best = [float('inf')] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            sync()
            t = clock()
            fn()
            sync()
            best[i] = min(best[i], clock() - t)
    return [1e3 * b for b in best], repeats


def build(kind, n, base, inc, channels, device):
    "The layer and the yardstick as functions of the input spectra, the visited resolutions, and the layer itself."
    sigma = torch.sigmoid
    if kind == 'nonlin':
        layer = scaleEqNonlin(sigma, base, max_res=n, increment=inc).to(device)
        return layer, (lambda X: rfft_loop(X, sigma, base, inc)), layer.resolutions(n), layer
    layer = scaleEqNonlinMaxp(sigma, base, pool_window=2, max_res=n, increment=inc).to(device)
    loop = lambda X: rfft_loop(X, sigma, base, inc, pool_window=2)
    if kind == 'pool':
        return layer, loop, layer.resolutions(n), layer
    conv = SpectralConv2dLocalized(3, channels, 28, 7).to(device)
    return (lambda X: layer(conv(X))), (lambda X: loop(conv(X))), layer.resolutions(n), layer


def run_case(kind, n, base, inc, batch, channels, device, clock, budget_s, max_repeats):
    g = torch.Generator().manual_seed(0)
    cin = 3 if kind == 'quickstart' else channels
    fast, loop, rs, layer = build(kind, n, base, inc, channels, device)
    X = torch.fft.fft2(torch.randn(batch, cin, n, n, generator=g), norm='forward').to(device)
    Xg = X.clone().requires_grad_()
    with torch.no_grad():
        a, b = fast(X), loop(X)
    diff = ((a - b).norm() / b.norm()).item()
    G = torch.randn(a.shape, dtype=a.dtype, generator=g).to(device)
    floor = fft_floor(X if kind != 'quickstart' else torch.zeros(batch, channels, n, n, dtype=X.dtype, device=device), rs)

    def forward(f):
        def run():
            with torch.no_grad():
                f(X)
        return run

    def fwd_bwd(f):
        def run():
            Xg.grad = None
            f(Xg).backward(G)
        return run

    row = dict(layer=kind, N=n, base=base, inc=inc, B=batch, R=len(rs), rel_diff=diff)
    (row['fwd'], row['fwd_loop'], row['floor']), row['repeats_fwd'] = min_ms(
        [forward(fast), forward(loop), floor], device, clock, budget_s, max_repeats)
    (row['fb'], row['fb_loop']), row['repeats_fb'] = min_ms(
        [fwd_bwd(fast), fwd_bwd(loop)], device, clock, budget_s, max_repeats)
    constants = layer.constant_tensors()             # plan matrices, indices, bases: built once, shared by every batch
    row['mem_mib'] = saved_bytes(lambda: fast(Xg), exclude=constants) / 2**20
    row['constants_mib'] = sum(t.numel() * t.element_size() for t in constants) / 2**20
    row['mem_loop_mib'] = saved_bytes(lambda: loop(Xg)) / 2**20
    if device.type == 'cuda':
        for name, f in (('peak_mib', fast), ('peak_loop_mib', loop)):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base_mem = torch.cuda.memory_allocated()
            fwd_bwd(f)()
            torch.cuda.synchronize()
            row[name] = (torch.cuda.max_memory_allocated() - base_mem) / 2**20
    row['fwd_speedup'] = row['fwd_loop'] / row['fwd']
    row['fb_speedup'] = row['fb_loop'] / row['fb']
    row['fwd_over_floor'] = row['fwd'] / row['floor']
    row['fb_over_floor'] = row['fb'] / row['floor']
    return row


def targets(row):
    "The targets that apply to `row`: (name, measured value, bound, met)."
    out = []
    if row['layer'] == 'quickstart':
        for k in ('fwd_speedup', 'fb_speedup'):
            out.append((f"{k.split('_')[0]} speed-up vs conv + loop >= 1.5", row[k], 1.5, row[k] >= 1.5))
        return out
    inc1 = row['inc'] == 1
    bound = 0.5 if inc1 else 1.0
    out.append((f"fwd / floor <= {bound}", row['fwd_over_floor'], bound, row['fwd_over_floor'] <= bound))
    need = 3.0 if inc1 else 1.25
    for k in ('fwd_speedup', 'fb_speedup'):
        out.append((f"{k.split('_')[0]} speed-up vs loop >= {need}", row[k], need, row[k] >= need))
    out.append(("fwd+bwd / floor <= 2.2", row['fb_over_floor'], 2.2, row['fb_over_floor'] <= 2.2))
    out.append(("saved memory <= loop's", row['mem_mib'] / row['mem_loop_mib'], 1.0, row['mem_mib'] <= row['mem_loop_mib']))
    if row['N'] == 128 and inc1 and row['B'] == 8:
        out.append(("fwd+bwd <= 1.3 s", row['fb'] / 1e3, 1.3, row['fb'] <= 1300))
        out.append(("saved <= 0.8 GB", row['mem_mib'] * 2**20 / 1e9, 0.8, row['mem_mib'] * 2**20 <= 0.8e9))
    return out


HEADER = ("| layer | N | base | inc | B | R | fwd | fwd loop | speed-up fwd | fwd+bwd | fwd+bwd loop | speed-up fwd+bwd "
          "| floor | fwd/floor | fwd+bwd/floor | saved MiB | saved MiB loop | rel. diff |\n" + "|---" * 18 + "|")


def format_row(r):
    return (f"| {r['layer']} | {r['N']} | {r['base']} | {r['inc']} | {r['B']} | {r['R']} | {r['fwd']:.1f} | "
            f"{r['fwd_loop']:.1f} | {r['fwd_speedup']:.2f}x | {r['fb']:.1f} | {r['fb_loop']:.1f} | {r['fb_speedup']:.2f}x | "
            f"{r['floor']:.1f} | {r['fwd_over_floor']:.2f} | {r['fb_over_floor']:.2f} | {r['mem_mib']:.1f} | "
            f"{r['mem_loop_mib']:.1f} | {r['rel_diff']:.0e} |")


def machine(device):
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--threads', type=int, nargs='+', default=[1], help='torch.set_num_threads values, run in turn')
    ap.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--channels', type=int, default=32)
    ap.add_argument('--quick', action='store_true', help='two small cases only (a smoke test)')
    ap.add_argument('--budget', type=float, default=0.5, help='seconds of repeats per measurement (default 0.5)')
    ap.add_argument('--max-repeats', type=int, default=11)
    ap.add_argument('--out', default=None, help='JSON path (default nbs/results/bench/<device>.json)')
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        ap.error('--device cuda: no CUDA device is available')
    if any(t < 1 for t in args.threads):
        ap.error('--threads: each value must be >= 1')
    cases = [c + (args.batch,) for c in (QUICK if args.quick else FULL)] + ([] if args.quick else QUICKSTART)
    thread_counts = args.threads if device.type == 'cpu' else [torch.get_num_threads()]
    config = dict(device=machine(device), device_type=device.type, torch=torch.__version__, dtype='float32',
                  batch=args.batch, channels=args.channels, non_lin='sigmoid', repeats=f'2-{args.max_repeats}',
                  quick=args.quick, python=platform.python_version())
    record = dict(config=config, runs=[])
    t_start = time.perf_counter()
    for threads in thread_counts:
        torch.set_num_threads(threads)
        clock = clock_for(device, threads)
        print(f"\n{config['device']}, {threads} thread(s), {'CPU' if clock is time.process_time else 'wall'} time, "
              f"float32, C={args.channels}, sigmoid; times in ms")
        print(HEADER, flush=True)
        rows = []
        for kind, n, base, inc, batch in cases:
            row = run_case(kind, n, base, inc, batch, args.channels, device, clock, args.budget, args.max_repeats)
            if row['rel_diff'] > 1e-5:
                raise SystemExit(f"layer and yardstick disagree (relative difference {row['rel_diff']:.1e}): {row}")
            rows.append(row)
            print(format_row(row), flush=True)
        checks = []
        for r in rows:
            for name, value, bound, met in targets(r):
                checks.append(dict(layer=r['layer'], N=r['N'], inc=r['inc'], B=r['B'], target=name, value=value, met=met))
        print(f"\nTargets, {threads} thread(s):")
        for c in checks:
            print(f"  {c['layer']:>10} N={c['N']:<3} inc={c['inc']:<2} B={c['B']}: {c['target']:<34} "
                  f"{c['value']:8.2f}  {'met' if c['met'] else 'MISSED'}")
        print(f"  {sum(c['met'] for c in checks)} of {len(checks)} met", flush=True)
        record['runs'].append(dict(threads=threads, rows=rows, targets=checks))
    record['config']['seconds'] = round(time.perf_counter() - t_start, 1)
    out = Path(args.out) if args.out else Path(__file__).resolve().parent.parent / 'nbs' / 'results' / 'bench' / f'{device.type}.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"\nwritten {out} ({record['config']['seconds']} s)")
    return record


if __name__ == '__main__':
    main()
