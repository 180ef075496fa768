"""Regenerate README.md from nbs/index.ipynb without Quarto.

The index is rendered: markdown cells are copied (links to
`images/` and to `*.ipynb` are made relative to the repository root), code cells become fenced Python blocks with their
nbdev directives removed (`#| hide` cells are dropped), text outputs become fenced blocks and image outputs are written
to `images/`. Run from the repository root: `python tools/build_readme.py`.
"""
import base64
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
def code_source(src: str):
    "The code a reader sees: None for `#| hide` cells, '' for `#| echo: false` cells, else the code without directives."
    directives = [l[2:].strip() for l in src.splitlines() if l.startswith('#|')]
    if 'hide' in directives:
        return None
    if 'echo: false' in directives:
        return ''
    return '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()


def render(nb_path: Path, images: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    out, n_img = [], 0
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            src = re.sub(r'(\]\(|src=")(images/)', r'\1nbs/\2', cell.source.strip())
            out.append(re.sub(r'\]\(([\w-]+\.ipynb)\)', r'](nbs/\1)', src))
            continue
        if cell.cell_type != 'code' or (src := code_source(cell.source)) is None:
            continue
        if src:
            out.append(f'```python\n{src}\n```')
        for o in cell.get('outputs', []):
            data = o.get('data', {})
            if 'image/png' in data:
                images.mkdir(exist_ok=True)
                n_img += 1
                name = f'readme_{n_img}.png'
                (images / name).write_bytes(base64.b64decode(data['image/png']))
                out.append(f'![]({images.relative_to(ROOT).as_posix()}/{name})')
            elif 'text/markdown' in data:
                text = data['text/markdown']
                out.append((''.join(text) if isinstance(text, list) else text).strip())
            elif o.get('output_type') == 'stream' or 'text/plain' in data:
                text = o.get('text') or data.get('text/plain', '')
                text = ''.join(text) if isinstance(text, list) else text
                if text.strip():
                    out.append('```\n' + text.rstrip() + '\n```')
    return '\n\n'.join(out) + '\n'


if __name__ == '__main__':
    readme = render(ROOT / 'nbs' / 'index.ipynb', ROOT / 'images')
    (ROOT / 'README.md').write_text(readme, encoding='utf-8')
