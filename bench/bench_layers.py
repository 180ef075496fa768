"""Speed and activation memory of the scale-equivariant non-linearity and pooling layers against their literal references.

For every case it prints (as a markdown table): forward and forward+backward times of the fast layer and of the literal
loop (in ms) and their ratios, the FFT floor (one `irfft2` + one `rfft2` per visited resolution on the same batch) with
the ratio forward/floor, the memory autograd keeps for backward (unique storages of the saved tensors) for both, and the
relative difference between the two outputs (float32). Forward+backward is one forward and one `backward` with a fixed
random cotangent of the output's shape, so it times the layer alone.

Times are the minimum over `--repeats` runs after one warm-up, the fast and literal runs interleaved, so that both see
the same machine; with one thread (the default) they are CPU time of the process (`time.process_time`), which other jobs
on a shared machine disturb least. Under the table it prints the targets at increment 1: forward+backward at least 4x
faster at N=28 and N=64, forward within 1.5x of the FFT floor at N=64, and at most half the literal's memory at N=64.

    python bench/bench_layers.py --quick            # N=28 and N=64 at increment 1 (about a minute on one core)
    python bench/bench_layers.py                    # the full grid
"""
import argparse
import time

import torch

from scale_eq_nb.downscale import hermitian_half, resample_half_spectrum
from scale_eq_nb.nonlinearity import literal_scale_eq_nonlin, saved_bytes, scaleEqNonlin
from scale_eq_nb.pooling import literal_scale_eq_maxpool, scaleEqNonlinMaxp

# (layer, N, base_res, increment)
FULL = [('nonlin', 28, 8, 1), ('nonlin', 28, 8, 8), ('nonlin', 64, 8, 1), ('nonlin', 64, 16, 8), ('nonlin', 64, 16, 32),
        ('nonlin', 128, 32, 8), ('nonlin', 128, 32, 32),
        ('pool', 28, 8, 1), ('pool', 28, 8, 8), ('pool', 64, 8, 1), ('pool', 64, 16, 8), ('pool', 64, 16, 32),
        ('pool', 128, 32, 8), ('pool', 128, 32, 32)]
QUICK = [('nonlin', 28, 8, 1), ('nonlin', 64, 8, 1), ('pool', 28, 8, 1), ('pool', 64, 8, 1)]


def timer(clock):
    return time.process_time if clock == 'cpu' else time.perf_counter


def min_ms(fns, repeats, clock):
    "Minimum time of each of `fns` in ms over `repeats` interleaved runs, after one warm-up call each."
    for fn in fns:
        fn()
    now, best = timer(clock), [float('inf')] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = now()
            fn()
            best[i] = min(best[i], now() - t0)
    return [1e3 * b for b in best]


def fft_floor_ms(layer, X, repeats, clock):
    "One irfft2 + one rfft2 per visited resolution on the same batch (inputs prepared outside the timing)."
    n = X.shape[-1]
    Xh = hermitian_half(X)
    rs = layer.resolutions(n)
    bands = [resample_half_spectrum(Xh, r, n) for r in rs]
    maps = [torch.fft.irfft2(b, s=(r, r), norm='forward') for b, r in zip(bands, rs)]

    def run():
        for b, z, r in zip(bands, maps, rs):
            torch.fft.irfft2(b, s=(r, r), norm='forward')
            torch.fft.rfft2(z, norm='forward')
    return min_ms([run], repeats, clock)[0]


def run_case(kind, n, base, inc, batch, channels, repeats, clock):
    sigma = torch.sigmoid
    if kind == 'nonlin':
        layer = scaleEqNonlin(sigma, base, max_res=n, increment=inc)
        literal = lambda X: literal_scale_eq_nonlin(X, sigma, base, increment=inc)
    else:
        layer = scaleEqNonlinMaxp(sigma, base, pool_window=2, max_res=n, increment=inc)
        literal = lambda X: literal_scale_eq_maxpool(X, sigma, base, pool_window=2, increment=inc)
    g = torch.Generator().manual_seed(0)
    X = torch.fft.fft2(torch.randn(batch, channels, n, n, generator=g), norm='forward')
    Xg = X.clone().requires_grad_()
    with torch.no_grad():
        a, b = layer(X), literal(X)
    diff = ((a - b).norm() / b.norm()).item()
    G = torch.randn(a.shape, dtype=a.dtype, generator=g)

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

    row = dict(layer=kind, N=n, base=base, inc=inc, R=len(layer.resolutions(n)), diff=diff)
    row['fwd'], row['fwd_lit'] = min_ms([forward(layer), forward(literal)], repeats, clock)
    row['fb'], row['fb_lit'] = min_ms([fwd_bwd(layer), fwd_bwd(literal)], repeats, clock)
    row['floor'] = fft_floor_ms(layer, X, repeats, clock)
    row['mem'] = saved_bytes(lambda: layer(Xg)) / 2**20
    row['mem_lit'] = saved_bytes(lambda: literal(Xg)) / 2**20
    return row


HEADER = ("| layer | N | base | inc | R | fwd fast | fwd literal | fwd ratio | fwd+bwd fast | fwd+bwd literal | fwd+bwd ratio "
          "| FFT floor | fwd/floor | saved MiB fast | saved MiB literal | rel. diff |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def format_row(r):
    return (f"| {r['layer']} | {r['N']} | {r['base']} | {r['inc']} | {r['R']} | {r['fwd']:.1f} | {r['fwd_lit']:.1f} | "
            f"{r['fwd_lit'] / r['fwd']:.1f}x | {r['fb']:.1f} | {r['fb_lit']:.1f} | {r['fb_lit'] / r['fb']:.1f}x | "
            f"{r['floor']:.1f} | {r['fwd'] / r['floor']:.2f} | {r['mem']:.1f} | {r['mem_lit']:.1f} | {r['diff']:.0e} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--threads', type=int, default=1, help='torch.set_num_threads (default 1)')
    ap.add_argument('--repeats', type=int, default=7, help='timed runs per measurement (minimum reported)')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--channels', type=int, default=32)
    ap.add_argument('--quick', action='store_true', help='only N=28 and N=64 at increment 1')
    ap.add_argument('--clock', choices=['cpu', 'wall'], default=None,
                    help='cpu: process CPU time (default with one thread); wall: perf_counter (default otherwise)')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = args.clock or ('cpu' if args.threads == 1 else 'wall')
    print(f"B={args.batch}, C={args.channels}, float32, sigmoid, {args.threads} thread(s), {clock} time, "
          f"minimum of {args.repeats} interleaved runs; times in ms")
    print(HEADER, flush=True)
    rows = []
    for case in (QUICK if args.quick else FULL):
        row = run_case(*case, args.batch, args.channels, args.repeats, clock)
        assert row['diff'] <= 1e-6, f"fast and literal layers disagree: {row}"
        rows.append(row)
        print(format_row(row), flush=True)
    print()
    for r in rows:
        if r['inc'] != 1 or r['N'] not in (28, 64):
            continue
        checks = [f"fwd+bwd {r['fb_lit'] / r['fb']:.2f}x (target >= 4: {'met' if r['fb_lit'] >= 4 * r['fb'] else 'MISSED'})"]
        if r['N'] == 64:
            checks += [f"fwd/floor {r['fwd'] / r['floor']:.2f} (target <= 1.5: {'met' if r['fwd'] <= 1.5 * r['floor'] else 'MISSED'})",
                       f"memory {r['mem'] / r['mem_lit']:.2f} of literal (target <= 0.5: {'met' if r['mem'] <= 0.5 * r['mem_lit'] else 'MISSED'})"]
        print(f"{r['layer']} N={r['N']}: " + '; '.join(checks))
    return rows


if __name__ == '__main__':
    main()
