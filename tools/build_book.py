"""Build the notebooks in nbs/ into a static HTML book in _book/, offline and without Quarto.

Run from anywhere: `python tools/build_book.py` (options `--nbs DIR`, `--out DIR`); needs nbconvert and latex2mathml.

* Every top-level notebook in nbs/ becomes one page, in the order index.ipynb, then the others sorted by name; files
  whose name starts with '_' or '.' are skipped. index.ipynb becomes index.html.
* Notebooks are NOT executed: each page shows the outputs stored in the notebook, figures embedded as data URIs.
* nbdev directives are honoured as in nbdev's docs: leading `#|` lines are stripped from code; a cell with `#| hide` or
  `#| include: false` is left out with its outputs; `#| echo: false` (and every `show_doc(...)` cell) shows only the
  outputs; `#| output: false` shows only the code; a line ending in `#| hide_line` is dropped.
* LaTeX in Markdown ($...$, $$...$$, \\[...\\], \\(...\\), \\begin{env}...\\end{env}) is converted to MathML at build
  time with latex2mathml, so pages need no script and no network. An expression that cannot be converted is shown as
  its TeX source in a <code> span and listed in the build log; it never stops the build.
* Markdown links to `name.ipynb` become links to `name.html`; images of Markdown cells are embedded.

Pages share a sidebar (the chapters, titled by each notebook's first '# ' heading, and the current page's sections)
and previous/next links. The log lists each page with what it noticed: math left as TeX, links to notebooks not in
the book, figures in hidden cells, TeX or Markdown left in the text. The exit status is 1 when a notebook could not be
read or rendered, else 0.
"""
import argparse
import base64
import html
import mimetypes
import re
import shutil
import sys
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
from bs4 import BeautifulSoup
from jinja2 import pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from pygments.formatters import HtmlFormatter

try:
    from latex2mathml.converter import convert as latex2mathml_convert
except ImportError:
    sys.exit('tools/build_book.py needs latex2mathml, a development dependency: pip install latex2mathml')

ROOT = Path(__file__).resolve().parents[1]
CSS_SOURCE = Path(__file__).with_name('book.css')


# ---------------------------------------------------------------------------------------------------------------- math
class MathConversionError(ValueError):
    """latex2mathml could not turn a TeX expression into MathML."""


MATHML_NS = 'http://www.w3.org/1998/Math/MathML'
ET.register_namespace('', MATHML_NS)
# Environments latex2mathml lacks, mapped to ones it renders the same way (unnumbered, as Jupyter shows them).
ENV_ALIASES = {'aligned': 'split', 'align': 'align*', 'gather': 'matrix', 'gather*': 'matrix', 'gathered': 'matrix'}
# Environments that only say "display this": their body is converted on its own.
DISPLAY_ONLY_ENVS = ('equation', 'equation*', 'displaymath')
# latex2mathml leaves a command it does not know as text starting with a backslash, and a stray '&' as an identifier.
UNCONVERTED = re.compile(r'>\\[^<]*<|<mi>&(amp;)?</mi>')
# mathvariant values, which MathML Core (Chromium) ignores, and the Unicode math style that replaces each.
MATHVARIANT_STYLE = {'script': 'SCRIPT', 'double-struck': 'DOUBLE-STRUCK', 'fraktur': 'FRAKTUR', 'bold': 'BOLD',
                     'bold-italic': 'BOLD ITALIC', 'bold-script': 'BOLD SCRIPT', 'bold-fraktur': 'BOLD FRAKTUR',
                     'sans-serif': 'SANS-SERIF', 'bold-sans-serif': 'SANS-SERIF BOLD', 'monospace': 'MONOSPACE'}
# Letterlike characters that Unicode keeps outside the Mathematical Alphanumeric block, by their math style.
LETTERLIKE_STYLE = {'SCRIPT': 'SCRIPT', 'DOUBLE-STRUCK': 'DOUBLE-STRUCK', 'FRAKTUR': 'BLACK-LETTER'}
DIGIT_NAMES = 'ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE'.split()
# Fences and operators that TeX does not pad (the browser's operator dictionary would, e.g. around \big( or |).
OPENING_FENCES = {'(', '[', '{', '\u230a', '\u2308', '\u27e8'}
CLOSING_FENCES = {')', ']', '}', '|', '\u2016', '\u230b', '\u2309', '\u27e9'}
UNPADDED_OPERATORS = OPENING_FENCES | CLOSING_FENCES | {'/'}
SIGNS = {'\u2212', '+'}
HORIZONTAL_BAR = '\u2015'  # latex2mathml's \overline and \underline, which Chromium does not stretch
PRIMES = {'\u2032', '\u2033', '\u2034'}  # Unicode math fonts draw them raised already: no superscript needed


def normalise_tex(tex: str) -> str:
    """Rewrite TeX that notebooks use but latex2mathml lacks into equivalent TeX it converts."""
    tex = re.sub(r'\\(?:label\{[^}]*\}|nonumber\b|notag\b)', '', tex)
    # `\*` is the Markdown escape of `*` that notebook authors write out of habit; in TeX it would print nothing.
    tex = tex.replace(r'\*', '*')
    for env in DISPLAY_ONLY_ENVS:
        tex = tex.replace(rf'\begin{{{env}}}', '').replace(rf'\end{{{env}}}', '')
    for env, alias in ENV_ALIASES.items():
        tex = tex.replace(rf'\begin{{{env}}}', rf'\begin{{{alias}}}').replace(rf'\end{{{env}}}', rf'\end{{{alias}}}')
    return tex


def styled_char(char: str, style: str) -> str:
    """`char` in a Unicode math style ('SCRIPT', 'DOUBLE-STRUCK', ...), or `char` itself when Unicode has none."""
    if char.isascii() and char.isdigit():
        names = [f'MATHEMATICAL {style} DIGIT {DIGIT_NAMES[int(char)]}']
    elif char.isascii() and char.isalpha():
        case = 'CAPITAL' if char.isupper() else 'SMALL'
        names = [f'MATHEMATICAL {style} {case} {char.upper()}']
        if style in LETTERLIKE_STYLE:
            names.append(f'{LETTERLIKE_STYLE[style]} {case} {char.upper()}')
    else:
        return char
    for name in names:
        try:
            return unicodedata.lookup(name)
        except KeyError:
            continue
    return char


def local_name(element) -> str:
    """Tag of a MathML element without its namespace."""
    return element.tag.rsplit('}', 1)[-1]


def lone_token(element) -> str:
    """Text of `element` when it is a token or an <mrow> around one token (like `x^{\\prime}`'s script), else ''."""
    while local_name(element) == 'mrow' and len(element) == 1:
        element = element[0]
    return '' if len(element) else (element.text or '')


def polish_mathml(mathml: str) -> str:
    """Adapt latex2mathml's MathML to what Chromium (MathML Core) renders as TeX would.

    Styled letters (\\mathcal, \\mathbb, ...) become Unicode math letters; \\overline and \\underline become a CSS rule
    on their base; primes follow their base instead of being superscripts; signs, fences, / and function names
    (\\min, \\operatorname) get TeX's spacing instead of a binary operator's.
    """
    root = ET.fromstring(mathml)
    for parent in list(root.iter()):
        children = list(parent)
        for i, child in enumerate(children):
            tag, text = local_name(child), child.text or ''
            previous = children[i - 1] if i else None
            following = children[i + 1] if i + 1 < len(children) else None
            if child.get('mathvariant') in MATHVARIANT_STYLE:
                child.text = ''.join(styled_char(c, MATHVARIANT_STYLE[child.get('mathvariant')]) for c in text)
                child.set('mathvariant', 'normal')
            elif tag in ('mover', 'munder') and len(child) == 2 and (child[1].text or '') == HORIZONTAL_BAR:
                bar = ET.Element(f'{{{MATHML_NS}}}mrow', {'class': 'overline' if tag == 'mover' else 'underline'})
                bar.append(child[0])
                parent[i] = bar
            elif tag == 'msup' and len(child) == 2 and (prime := lone_token(child[1])) in PRIMES:
                primed = ET.Element(f'{{{MATHML_NS}}}mrow')
                primed.append(child[0])
                ET.SubElement(primed, f'{{{MATHML_NS}}}mo', {'lspace': '0em', 'rspace': '0em'}).text = prime
                parent[i] = primed
            elif tag != 'mo':
                continue
            elif text in UNPADDED_OPERATORS or (text in SIGNS and (previous is None or (
                    local_name(previous) == 'mo' and (previous.text or '') not in CLOSING_FENCES))):
                child.set('lspace', '0em')
                child.set('rspace', '0em')
            elif len(text) > 1 and text.isalpha():
                opens = following is not None and local_name(following) == 'mo' and following.text in {'(', '['}
                child.set('lspace', '0.1667em')
                child.set('rspace', '0em' if opens else '0.1667em')
    return ET.tostring(root, encoding='unicode')


def tex_to_mathml(tex: str, display: bool) -> str:
    """MathML for the TeX expression `tex` (no delimiters); raises MathConversionError when it cannot be converted."""
    try:
        mathml = latex2mathml_convert(normalise_tex(tex).strip(), display='block' if display else 'inline')
    except Exception as e:  # latex2mathml raises many exception types on malformed input
        raise MathConversionError(f'{type(e).__name__}: {str(e) or "malformed TeX"}') from e
    if bad := UNCONVERTED.search(mathml):
        raise MathConversionError(f'unsupported TeX near {html.unescape(bad[0].strip("<>"))!r}')
    return polish_mathml(mathml)


# ------------------------------------------------------------------------------------------------------------ markdown
class BookRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with math typeset as MathML and links to notebooks pointed at their pages."""

    def __init__(self, page: 'Page', chapter_hrefs: dict, **kwargs):
        super().__init__(escape=False, **kwargs)
        self.page, self.chapter_hrefs = page, chapter_hrefs

    def math(self, tex: str, display: bool) -> str:
        """MathML for `tex`, or its source in a <code> span (recorded on the page) when it cannot be converted."""
        try:
            return tex_to_mathml(tex, display)
        except MathConversionError as e:
            self.page.problems.append(f'math left as TeX: {tex.strip()!r} ({e})')
            shown = f'$${tex}$$' if display else f'${tex}$'
            return f'<code class="tex-fallback">{html.escape(shown)}</code>'

    def inline_math(self, body: str) -> str:
        return self.math(body, display=False)

    def block_math(self, body: str) -> str:
        return self.math(body, display=True)

    def latex_environment(self, name: str, body: str) -> str:
        return self.math(rf'\begin{{{name}}}{body}\end{{{name}}}', display=True)

    def image(self, text: str, url: str, title=None) -> str:
        """An image; a file beside the notebook is embedded as a data URI, so the page stands alone."""
        local = self.page.source.parent / url
        if not urlsplit(url).scheme and local.is_file():
            mime = mimetypes.guess_type(local.name)[0] or 'application/octet-stream'
            url = f'data:{mime};base64,{base64.b64encode(local.read_bytes()).decode()}'
        return super().image(text, url, title)

    def link(self, text: str, url: str, title=None) -> str:
        return super().link(text, self.chapter_url(url), title)

    def chapter_url(self, url: str) -> str:
        """`url` with a relative `name.ipynb` path replaced by `name.html`; notes links to notebooks not in the book."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path.endswith('.ipynb'):
            return url
        stem = parts.path[:-len('.ipynb')]
        if stem not in self.chapter_hrefs:
            self.page.problems.append(f'link to {parts.path}, which is not in the book (yet)')
        return self.chapter_hrefs.get(stem, stem + '.html') + (f'#{parts.fragment}' if parts.fragment else '')


# A Pandoc link with attributes, `[text](url){key="value" ...}`, as nbdev's show_doc writes its "source" links.
PANDOC_LINK = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)\{((?:\s*[\w-]+="[^"]*")+)\s*\}')


def pandoc_links_to_html(markdown: str) -> str:
    """Write Pandoc links with attributes as HTML <a> elements, which Markdown passes through."""
    return PANDOC_LINK.sub(lambda m: f'<a href="{html.escape(m[2])}" {m[3].strip()}>{m[1]}</a>', markdown)


class BookExporter(HTMLExporter):
    """nbconvert's HTMLExporter (template 'basic', no prompts) whose Markdown goes through BookRenderer."""

    def __init__(self, page: 'Page', chapter_hrefs: dict, **kwargs):
        super().__init__(template_name='basic', exclude_input_prompt=True, exclude_output_prompt=True, **kwargs)
        self.page, self.chapter_hrefs = page, chapter_hrefs

    @pass_context
    def markdown2html(self, context, source):
        """The template's Markdown filter: HTML for `source`, local images embedded as data URIs."""
        cell = context.get('cell', {})
        renderer = BookRenderer(self.page, self.chapter_hrefs, attachments=cell.get('attachments', {}),
                                anchor_link_text=self.anchor_link_text)
        return MarkdownWithMath(renderer=renderer).render(pandoc_links_to_html(source))


# ----------------------------------------------------------------------------------------------------------- notebooks
DIRECTIVE = re.compile(r'^\s*#\s*\|\s*(.*?)\s*$')
HIDE_LINE = re.compile(r'#\s*\|\s*hide_line\s*$')


def split_directives(source: str) -> tuple:
    """(directives, code) of a code cell: the leading `#| key: value` / `#| key args` lines as a dict, and the rest."""
    lines, directives = source.splitlines(), {}
    n_lead = 0
    while n_lead < len(lines) and (not lines[n_lead].strip() or DIRECTIVE.match(lines[n_lead])):
        if m := DIRECTIVE.match(lines[n_lead]):
            key, _, value = re.sub(r'^([\w-]+)\s*:', r'\1 ', m[1]).partition(' ')
            directives[key] = value.strip()
        n_lead += 1
    code = '\n'.join(line for line in lines[n_lead:] if not HIDE_LINE.search(line))
    return directives, code.strip('\n')


def has_figure(cell) -> bool:
    """Whether a code cell has an image among its outputs."""
    return any(k.startswith('image/') for o in cell.get('outputs', []) for k in o.get('data', {}))


def prepare_notebook(nb, page: 'Page'):
    """A copy of `nb` with the cells a reader sees, as nbdev's docs show them (see the module docstring)."""
    nb = nbformat.from_dict(nb)
    nb.metadata.setdefault('language_info', {'name': 'python', 'pygments_lexer': 'ipython3'})
    cells = []
    for cell in nb.cells:
        if cell.cell_type != 'code':
            if cell.source.strip():
                cells.append(cell)
            continue
        directives, code = split_directives(cell.source)
        if 'hide' in directives or directives.get('include') == 'false':
            if has_figure(cell):
                page.problems.append('a figure is in a `#| hide` cell, so the page leaves it out '
                                     '(`#| echo: false` would show the figure without its code)')
            continue
        cell.source = code
        if directives.get('output') == 'false':
            cell.outputs = []
        if directives.get('echo') == 'false' or code.startswith('show_doc('):
            cell.metadata['transient'] = {'remove_source': True}
            code = ''
        if code or cell.outputs:
            cells.append(cell)
    nb.cells = cells
    return nb


# --------------------------------------------------------------------------------------------------------------- pages
@dataclass
class Page:
    """One notebook of the book and what its build noticed."""
    source: Path
    title: str
    href: str
    problems: list = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.source.stem


def notebook_title(nb, fallback: str) -> str:
    """Plain text of the notebook's first '# ' heading, or `fallback`."""
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            for line in cell.source.splitlines():
                if line.startswith('# '):
                    return re.sub(r'[`*]', '', line[2:]).strip()
    return fallback


def book_notebooks(nbs: Path) -> list:
    """The notebooks of the book in reading order: index.ipynb first, then the rest by name, '_'/'.' files skipped."""
    found = [p for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.'))]
    return sorted(found, key=lambda p: (p.stem != 'index', p.name))


def sidebar(pages: list, current: Page, sections: list, book_title: str) -> str:
    """The navigation shared by every page: book title, chapter list, and the current page's sections."""
    items = []
    for p in pages:
        label = p.stem.split('_', 1)[0] if p.stem != 'index' and p.stem[:1].isdigit() else ''
        number = f'<span class="chapter-number">{html.escape(label)}</span> ' if label else ''
        link = f'<a href="{p.href}">{number}{html.escape(p.title)}</a>'
        if p is current and sections:
            toc = ''.join(f'<li><a href="#{html.escape(i, quote=True)}">{html.escape(t)}</a></li>' for i, t in sections)
            link += f'<ul class="sections">{toc}</ul>'
        items.append(f'<li class="{"current" if p is current else ""}">{link}</li>')
    return (f'<nav class="sidebar"><a class="book-title" href="index.html">{html.escape(book_title)}</a>'
            f'<ol class="chapters">{"".join(items)}</ol></nav>')


def prev_next(pages: list, i: int) -> str:
    """Links to the previous and next page."""
    prev = (f'<a class="prev" href="{pages[i - 1].href}">← {html.escape(pages[i - 1].title)}</a>'
            if i > 0 else '<span></span>')
    nxt = (f'<a class="next" href="{pages[i + 1].href}">{html.escape(pages[i + 1].title)} →</a>'
           if i + 1 < len(pages) else '<span></span>')
    return f'<nav class="prev-next">{prev}{nxt}</nav>'


def page_html(body: str, pages: list, i: int, book_title: str) -> str:
    """A complete HTML document for page `i` with its rendered notebook `body`."""
    soup = BeautifulSoup(body, 'html.parser')
    sections = [(h['id'], h.get_text().rstrip('¶').strip()) for h in soup.select('.text_cell_render h2[id]')]
    page = pages[i]
    title = book_title if page.stem == 'index' else f'{page.title} – {book_title}'
    return f'''<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
{sidebar(pages, page, sections, book_title)}
<main>
<article class="notebook">
{body}
</article>
{prev_next(pages, i)}
</main>
</body>
</html>
'''


# Markup that should not survive rendering: TeX delimiters or commands, bold markers, Markdown links and headings.
LEFTOVER_MARKUP = re.compile(r'\$|\\[A-Za-z]+|\*\*|\]\(|^#+ ', re.MULTILINE)


def leftover_markup(body: str) -> list:
    """Snippets of the page's prose (code, math and outputs' <pre> excluded) that still look like TeX or Markdown."""
    soup = BeautifulSoup(body, 'html.parser')
    for element in soup.find_all(['code', 'pre', 'math', 'style', 'script']):
        element.decompose()
    text = soup.get_text()
    return [text[max(0, m.start() - 30):m.end() + 30].replace('\n', ' ') for m in LEFTOVER_MARKUP.finditer(text)]


def stylesheet() -> str:
    """The book's CSS: tools/book.css followed by Pygments' rules for highlighted code."""
    return CSS_SOURCE.read_text(encoding='utf-8') + '\n' + HtmlFormatter(style='default').get_style_defs('.highlight')


def build(nbs: Path, out: Path) -> int:
    """Render every notebook of `nbs` into `out`; print a log; return the number of notebooks that failed."""
    pages, notebooks, failed = [], {}, 0
    for path in book_notebooks(nbs):
        try:
            notebooks[path] = nbformat.read(path, as_version=4)
        except Exception as e:  # a notebook being written by someone else may be incomplete JSON
            print(f'FAILED {path}: cannot read it ({type(e).__name__}: {e})')
            failed += 1
            continue
        href = 'index.html' if not pages else f'{path.stem}.html'
        pages.append(Page(path, notebook_title(notebooks[path], path.stem), href))
    if not pages:
        print(f'no notebooks in {nbs}')
        return 1
    book_title = pages[0].title if pages[0].stem == 'index' else nbs.parent.name
    chapter_hrefs = {p.stem: p.href for p in pages}

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob('*.html'):
        stale.unlink()
    (out / 'style.css').write_text(stylesheet(), encoding='utf-8')
    if pages[0].stem != 'index':
        print(f'no index.ipynb: index.html is {pages[0].source.name}')

    for i, page in enumerate(pages):
        try:
            nb = prepare_notebook(notebooks[page.source], page)
            body, _ = BookExporter(page, chapter_hrefs).from_notebook_node(nb)
            target = out / page.href
            target.write_text(page_html(body, pages, i, book_title), encoding='utf-8')
        except Exception as e:
            print(f'FAILED {page.source}: {type(e).__name__}: {e}')
            failed += 1
            continue
        if leftovers := leftover_markup(body):
            page.problems.append(f'{len(leftovers)} TeX/Markdown snippet(s) left in the text, e.g. {leftovers[0]!r}')
        n_math = body.count('<math ')
        n_fig = body.count('src="data:image/')
        print(f'{page.source.name} -> {target}  ({len(nb.cells)} cells shown, {n_fig} figures, {n_math} formulas)')
        for problem in page.problems:
            print(f'    note: {problem}')
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--nbs', type=Path, default=ROOT / 'nbs', help='folder of notebooks (default: nbs/)')
    parser.add_argument('--out', type=Path, default=ROOT / '_book', help='output folder (default: _book/)')
    args = parser.parse_args(argv)
    failed = build(args.nbs.resolve(), args.out.resolve())
    if (args.nbs / 'images').is_dir():  # pictures that markdown cells reference with HTML <img> tags
        shutil.copytree(args.nbs / 'images', args.out / 'images', dirs_exist_ok=True)
    print(f'book written to {args.out}' + (f'; {failed} notebook(s) FAILED' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
