"""Speed and activation memory of the scale-equivariant non-linearity and pooling layers against their literal references.

For every case it prints (as a markdown table): forward and forward+backward times of the fast layer and of the literal
loop (median of `--repeats` runs after one warm-up, in ms), their ratios, the FFT floor (one `irfft2` + one `rfft2` per
visited resolution on the same batch) with the ratio forward/floor, the forward+backward time of the two spectrum
conversions the fast layer makes on every call (`hermitian_half` of the input, `hermitian_complete` of the output; part of
"fwd+bwd fast"), the memory autograd keeps for backward (unique storages of the saved tensors) for both, and the relative
difference between the two outputs (float32).

    python bench/bench_layers.py --quick            # a small subset (about a minute on one core)
    python bench/bench_layers.py --threads 1        # the full grid

With one thread (the default) times are CPU time of the process (`time.process_time`), which is robust to other jobs on
a shared machine; with more threads they are wall-clock times.
"""
import argparse
import statistics
import time

import torch

from scale_eq_nb.downscale import hermitian_complete, hermitian_half, resample_half_spectrum
from scale_eq_nb.nonlinearity import literal_scale_eq_nonlin, scaleEqNonlin
from scale_eq_nb.pooling import literal_scale_eq_maxpool, scaleEqNonlinMaxp

# (layer, N, base_res, increment)
FULL = [('nonlin', 28, 8, 1), ('nonlin', 28, 8, 8), ('nonlin', 64, 8, 1), ('nonlin', 64, 16, 8), ('nonlin', 64, 16, 32),
        ('nonlin', 128, 32, 8), ('nonlin', 128, 32, 32),
        ('pool', 28, 8, 1), ('pool', 28, 8, 8), ('pool', 64, 8, 1), ('pool', 64, 16, 8), ('pool', 64, 16, 32),
        ('pool', 128, 32, 8), ('pool', 128, 32, 32)]
QUICK = [('nonlin', 28, 8, 1), ('nonlin', 64, 8, 1), ('pool', 28, 8, 1), ('pool', 64, 8, 1)]


def timer(clock):
    return time.process_time if clock == 'cpu' else time.perf_counter


def median_ms(fn, repeats, clock):
    "Median time of `fn()` in ms after one warm-up call."
    fn()
    now, ts = timer(clock), []
    for _ in range(repeats):
        t0 = now()
        fn()
        ts.append(now() - t0)
    return 1e3 * statistics.median(ts)


def saved_bytes(fn):
    "Bytes of the unique storages autograd saves for backward while running `fn()`."
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[(s.data_ptr(), s.nbytes())] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(storages.values())


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
    return median_ms(run, repeats, clock)


def hermitian_ms(X, n_out, repeats, clock):
    "Forward+backward of the two spectrum conversions every call of the fast layer makes (hermitian_half in, hermitian_complete out)."
    Xg = X.clone().requires_grad_()
    G = torch.randn(*X.shape[:-2], n_out, n_out, dtype=X.dtype)

    def run():
        Xg.grad = None
        hermitian_complete(hermitian_half(Xg)[..., :n_out, :n_out // 2 + 1], n_out).backward(G)
    return median_ms(run, repeats, clock)


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

    def fwd_bwd(f):
        def run():
            Xg.grad = None
            f(Xg).abs().pow(2).sum().backward()
        return run

    row = dict(layer=kind, N=n, base=base, inc=inc, R=len(layer.resolutions(n)), diff=diff)
    row['fwd'] = median_ms(lambda: layer(X), repeats, clock)
    row['fwd_lit'] = median_ms(lambda: literal(X), repeats, clock)
    row['fb'] = median_ms(fwd_bwd(layer), repeats, clock)
    row['fb_lit'] = median_ms(fwd_bwd(literal), repeats, clock)
    row['floor'] = fft_floor_ms(layer, X, repeats, clock)
    row['herm'] = hermitian_ms(X, layer.out_size(n), repeats, clock)
    row['mem'] = saved_bytes(lambda: layer(Xg)) / 2**20
    row['mem_lit'] = saved_bytes(lambda: literal(Xg)) / 2**20
    return row


HEADER = ("| layer | N | base | inc | R | fwd fast | fwd literal | fwd ratio | fwd+bwd fast | fwd+bwd literal | fwd+bwd ratio "
          "| FFT floor | fwd/floor | hermitian | saved MiB fast | saved MiB literal | rel. diff |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def format_row(r):
    return (f"| {r['layer']} | {r['N']} | {r['base']} | {r['inc']} | {r['R']} | {r['fwd']:.1f} | {r['fwd_lit']:.1f} | "
            f"{r['fwd_lit'] / r['fwd']:.1f}x | {r['fb']:.1f} | {r['fb_lit']:.1f} | {r['fb_lit'] / r['fb']:.1f}x | "
            f"{r['floor']:.1f} | {r['fwd'] / r['floor']:.2f} | {r['herm']:.1f} | {r['mem']:.1f} | {r['mem_lit']:.1f} | {r['diff']:.0e} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--threads', type=int, default=1, help='torch.set_num_threads (default 1)')
    ap.add_argument('--repeats', type=int, default=3, help='timed runs per measurement (median reported)')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--channels', type=int, default=32)
    ap.add_argument('--quick', action='store_true', help='only N=28 and N=64 at increment 1')
    ap.add_argument('--clock', choices=['cpu', 'wall'], default=None,
                    help='cpu: process CPU time (default with one thread); wall: perf_counter (default otherwise)')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = args.clock or ('cpu' if args.threads == 1 else 'wall')
    print(f"B={args.batch}, C={args.channels}, float32, sigmoid, {args.threads} thread(s), {clock} time, "
          f"median of {args.repeats}; times in ms")
    print(HEADER, flush=True)
    rows = []
    for case in (QUICK if args.quick else FULL):
        row = run_case(*case, args.batch, args.channels, args.repeats, clock)
        assert row['diff'] <= 1e-6, f"fast and literal layers disagree: {row}"
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


if __name__ == '__main__':
    main()
