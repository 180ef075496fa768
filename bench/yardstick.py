"""The yardstick every speed figure is measured against.

`rfft_loop` is the scale-equivariant non-linearity (and, with `pool_window > 1`, the pooling layer) written as plainly as
Rahman & Yeh state it (Sec. 4.2): for each visited resolution r, `irfft2` of the input's band at r, the per-resolution
normalisation, σ, (for pooling: the ideal low-pass to the pooled band, max-pooling), `rfft2`, and a slice-copy of the
ring this resolution supplies. No masks, no matrices, no custom autograd: every operation is a plain differentiable
torch call. `fft_floor` is one `irfft2` + one `rfft2` per visited resolution on the same batch: what any method that
transforms every visited resolution in full must at least spend.
"""
import torch
import torch.nn.functional as F

from scale_eq_nb.downscale import band_edge, hermitian_complete, hermitian_half, resample_half_spectrum
from scale_eq_nb.nonlinearity import visited_resolutions


def rfft_loop(X, non_lin, base_res, increment=1, pool_window=1, norms=None):
    "Full spectra `(B, C, N, N)` → `(B, C, ⌈N/p⌉, ⌈N/p⌉)`, one resolution at a time."
    N, p = X.shape[-1], pool_window
    n_out = -(-N // p)
    Xh = hermitian_half(X)                                   # half spectrum of the real map Re F^-1 X
    Yh = X.new_zeros(*X.shape[:-2], n_out, n_out // 2 + 1)
    # largest resolution first: each step writes its whole band block, the smaller ones then overwrite their inner rings
    for r in reversed(visited_resolutions(N, base_res, increment, p)):
        c = -(-r // p)
        z = torch.fft.irfft2(resample_half_spectrum(Xh, r, N), s=(r, r), norm='forward')
        if norms is not None:
            z = norms[r](z)
        y = non_lin(z)
        if p > 1:
            S = resample_half_spectrum(torch.fft.rfft2(y, norm='forward'), c, r)                 # low-pass to e(c)
            y = torch.fft.irfft2(resample_half_spectrum(S, r, c), s=(r, r), norm='forward')
            y = F.max_pool2d(y, p, p, ceil_mode=True)
        S = torch.fft.rfft2(y, norm='forward')
        t = band_edge(c)
        Yh[..., : t + 1, : t + 1] = S[..., : t + 1, : t + 1]
        if t > 0:
            Yh[..., n_out - t:, : t + 1] = S[..., c - t:, : t + 1]
    return hermitian_complete(Yh, n_out)


def fft_floor(X, resolutions):
    "One `irfft2` + one `rfft2` per visited resolution on the batch `X` (the transforms only: bands prepared once)."
    N = X.shape[-1]
    Xh = hermitian_half(X)
    bands = [resample_half_spectrum(Xh, r, N) for r in resolutions]
    maps = [torch.fft.irfft2(b, s=(r, r), norm='forward') for b, r in zip(bands, resolutions)]

    def run():
        for b, z, r in zip(bands, maps, resolutions):
            torch.fft.irfft2(b, s=(r, r), norm='forward')
            torch.fft.rfft2(z, norm='forward')
    return run
