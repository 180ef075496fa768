#!/usr/bin/env bash
# Run the README's two commands exactly as written, each in a fresh clone of the current commit, and record what they
# print and how long they take in nbs/results/readme_commands.json. The index (and so the README) shows the commands
# from that record, so what a reader copies is what was run.
#
#   bash tools/record_readme_commands.sh            (from the repository root; needs network access or local wheels)
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
commit=$(git rev-parse --short HEAD)
record() {  # name, command
  local name=$1 cmd=$2 dir="$work/$1"
  git clone -q "$root" "$dir"
  local t0=$(date +%s)
  (cd "$dir" && env -u VIRTUAL_ENV bash -c "$cmd" >"$work/$name.log" 2>&1) && status=0 || status=$?
  local t1=$(date +%s)
  python3 - "$name" "$cmd" "$work/$name.log" "$((t1 - t0))" "$status" "$commit" <<'PY'
import json, os, pathlib, platform, sys
name, cmd, log, seconds, status, commit = sys.argv[1:]
path = pathlib.Path('nbs/results/readme_commands.json')
data = json.loads(path.read_text()) if path.exists() else {}
lines = [l for l in pathlib.Path(log).read_text(errors='replace').splitlines() if l.strip()]
installed = max((i for i, l in enumerate(lines) if l.startswith('Successfully installed')), default=-1)
keep = lines[installed + 1:]                     # what the command prints after pip has finished
data[name] = dict(command=cmd, wall_seconds=int(seconds), exit_status=int(status), commit=commit,
                  cpu_cores=os.cpu_count(), processor=platform.processor() or platform.machine(), output_tail=keep[-12:])
path.write_text(json.dumps(data, indent=1) + '\n')
print(f"{name}: exit {status}, {seconds} s")
PY
}
record main_job 'python -m venv .venv && . .venv/bin/activate && pip install . && scale-eq-nb train'
record tests 'python -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]" && OMP_NUM_THREADS=1 nbdev_test'

rm -rf "$work"
