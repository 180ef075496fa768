#!/usr/bin/env bash
# Build the HTML book and screenshot every page with headless Chromium, to look at what a reader sees
# (equations typeset, figures present, no raw Markdown or TeX).
#
# Usage, from the repository root with the development environment active:
#   bash tools/screenshot_book.sh [SHOTS_DIR]        # default SHOTS_DIR: /tmp/book_shots
#
# Each page is rendered in a window 1200 px wide and tall enough for the whole page (12000 px, doubled until the
# page fits, at most 96000), then cut into 1200x2400 tiles SHOTS_DIR/<page>_01.png, <page>_02.png, ...
# Needs Debian's chromium and fonts-lmodern (installed with apt-get when missing, as root) and Pillow (from matplotlib).
set -euo pipefail
cd "$(dirname "$0")/.."
shots=${1:-/tmp/book_shots}

missing=()
command -v chromium >/dev/null || missing+=(chromium)
fc-list 2>/dev/null | grep -q "Latin Modern Math" || missing+=(fonts-lmodern)  # a math font, as readers have
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "missing Debian packages: ${missing[*]} (apt-get install them as root)"; exit 1; fi
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python tools/build_book.py
mkdir -p "$shots"
rm -f "$shots"/*.png
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# Cut SHOT into 2400-px tiles down to the end of the page (printing their names); exit 3 when the page may go on
# below the bottom of SHOT.
tile() {
  python - "$@" <<'PY'
import sys
from pathlib import Path
from PIL import Image, ImageOps

shot, stem, tile = Path(sys.argv[1]), sys.argv[2], 2400
img = Image.open(shot).convert('RGB')
content = ImageOps.invert(img.crop((img.width // 3, 0, img.width, img.height))).getbbox()  # right of the sidebar
bottom = content[3] if content else 1
cut_off = bottom >= img.height - 10
for i in range(-(-bottom // tile)):
    out = f'{stem}_{i + 1:02d}.png'
    img.crop((0, i * tile, img.width, min(img.height, (i + 1) * tile))).save(out)
    if not cut_off:
        print(out)
sys.exit(3 if cut_off else 0)
PY
}

for page in _book/*.html; do
  name=$(basename "$page" .html)
  height=12000
  while :; do
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
      --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
      --window-size="1200,$height" --screenshot="$shots/$name.full.png" "file://$PWD/$page" >/dev/null 2>&1
    status=0
    tile "$shots/$name.full.png" "$shots/$name" || status=$?
    if [ "$status" -ne 3 ]; then break; fi
    if [ "$height" -ge 96000 ]; then echo "warning: $name is longer than $height px: last tile cut off"; break; fi
    height=$((height * 2))
  done
  rm -f "$shots/$name.full.png"
  [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"
done
