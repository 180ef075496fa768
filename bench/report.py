"""Render the stored benchmark records (`nbs/results/bench/*.json`, written by `bench_layers.py`) as markdown tables."""
import json
from pathlib import Path

COLUMNS = [('layer', 'layer'), ('N', 'N'), ('inc', 'increment'), ('R', 'resolutions'),
           ('fwd', 'fwd'), ('fwd_loop', 'fwd loop'), ('fwd_speedup', 'speed-up fwd'),
           ('fb', 'fwd+bwd'), ('fb_loop', 'fwd+bwd loop'), ('fb_speedup', 'speed-up fwd+bwd'),
           ('floor', 'FFT floor'), ('fwd_over_floor', 'fwd / floor'), ('fb_over_floor', 'fwd+bwd / floor'),
           ('mem_mib', 'saved MiB'), ('mem_loop_mib', 'saved MiB loop'), ('constants_mib', 'plan constants MiB')]


def fmt(v):
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def bench_markdown(folder, layer=None):
    "One markdown table per stored record in `folder` (rows of `layer` only, if given), headed by its configuration."
    out = []
    for path in sorted(Path(folder).glob('*.json')):
        rec = json.loads(path.read_text())
        cfg = rec['config']
        for run in rec['runs']:
            rows = [r for r in run['rows'] if layer is None or r['layer'] == layer]
            if not rows:
                continue
            out.append(f"**{cfg['device']}, {run['threads']} thread(s)**, torch {cfg['torch']}, B={cfg['batch']}, "
                       f"C={cfg['channels']}, {cfg['dtype']}, minimum of {cfg['repeats']} interleaved runs (times in ms)\n")
            out.append('| ' + ' | '.join(h for _, h in COLUMNS) + ' |')
            out.append('|' + '---|' * len(COLUMNS))
            out += ['| ' + ' | '.join(fmt(r.get(k, '')) for k, _ in COLUMNS) + ' |' for r in rows]
            out.append('')
    return '\n'.join(out) if out else 'No benchmark record is stored yet: run `python bench/bench_layers.py`.'
