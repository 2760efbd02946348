#!/usr/bin/env bash
# Dependency audit of what the app installs: the packages of requirements.txt at the versions
# installed here, checked with pip-audit against PyPI's advisory data.
#
#   scripts/audit.sh [OUT_DIR]      (default OUT_DIR: artifacts/)
#   AUDIT_CLOSURE=1 scripts/audit.sh   also every package they pull in (about 100; for a release
#                                      check, not every test run: one registry query per package)
#
# The pinned list is built from the installed distributions (no resolver run, nothing downloaded),
# so the audit checks exactly the versions the tests ran against. Writes OUT_DIR/pip-audit.json
# and OUT_DIR/pip-audit.txt. Exit status: 0 = no known vulnerability, or the advisory service could
# not be reached / could not answer for these versions (printed as "audit service unreachable",
# so an offline CI run does not fail); 1 = vulnerabilities found; 2 = the audit itself broke.
set -u
cd "$(dirname "$0")/.."
OUT_DIR=${1:-artifacts}
TIMEOUT=${AUDIT_TIMEOUT:-120}
mkdir -p "$OUT_DIR"
PINNED="$OUT_DIR/audit-requirements.txt"

python - requirements.txt "${AUDIT_CLOSURE:-0}" > "$PINNED" <<'PY' || { echo "audit: could not build the pinned list"; exit 2; }
"""Print name==version for requirements.txt's packages and their dependency closure (installed)."""
import re
import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

todo, seen, out = [], set(), []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if line and not line.startswith("-"):
        todo.append(Requirement(line))
while todo:
    req = todo.pop()
    key = norm(req.name)
    if key in seen:
        continue
    seen.add(key)
    try:
        dist = distribution(req.name)
    except PackageNotFoundError:
        print(f"# not installed: {req.name}", file=sys.stderr)
        continue
    out.append(f"{key}=={dist.version}")
    if sys.argv[2] != "1":
        continue
    for spec in dist.requires or []:
        dep = Requirement(spec)
        if dep.marker is None or dep.marker.evaluate({"extra": ""}):
            todo.append(dep)
print("\n".join(sorted(out)))
PY

N=$(grep -c '==' "$PINNED")
timeout "$TIMEOUT" pip-audit -r "$PINNED" --no-deps --disable-pip --progress-spinner off \
    -f json -o "$OUT_DIR/pip-audit.json" > "$OUT_DIR/pip-audit.txt" 2>&1
RC=$?
if [ $RC -eq 124 ]; then
    echo "audit service unreachable: pip-audit timed out after ${TIMEOUT}s ($N packages)" | tee -a "$OUT_DIR/pip-audit.txt"
    exit 0
fi
if [ ! -s "$OUT_DIR/pip-audit.json" ]; then
    if grep -qiE 'ConnectionError|NameResolution|Max retries|timed out|Temporary failure' "$OUT_DIR/pip-audit.txt"; then
        echo "audit service unreachable: $(grep -m1 -oiE '(ConnectionError|NameResolution|Max retries|timed out|Temporary failure)[^)]{0,80}' "$OUT_DIR/pip-audit.txt")" | tee -a "$OUT_DIR/pip-audit.txt"
        exit 0
    fi
    echo "audit: pip-audit failed (exit $RC):"; tail -5 "$OUT_DIR/pip-audit.txt"
    exit 2
fi
python - "$OUT_DIR/pip-audit.json" "$N" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
deps = report.get("dependencies", [])
skipped = [d for d in deps if d.get("skip_reason")]
audited = [d for d in deps if not d.get("skip_reason")]
vulns = [(d["name"], d["version"], v) for d in audited for v in d.get("vulns", [])]
if not audited:
    print(f"audit service unreachable: none of the {sys.argv[2]} packages could be audited "
          f"(e.g. {skipped[0]['skip_reason'] if skipped else 'no answer'})")
    sys.exit(0)
print(f"audit: {len(audited)} packages audited, {len(skipped)} could not be, "
      f"{len(vulns)} known vulnerabilities")
for name, version, v in vulns:
    fixed = ", ".join(v.get("fix_versions", [])) or "no fix yet"
    print(f"  {name} {version}: {v.get('id')} {' '.join(v.get('aliases', []))} fixed in: {fixed}")
sys.exit(1 if vulns else 0)
PY
