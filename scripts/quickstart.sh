#!/usr/bin/env bash
# The README's first command: install kestra-magic (with the `all` extra), then run
# notebooks/quickstart.ipynb top to bottom with a real Jupyter kernel -- against the
# embedded sandbox, or against the Kestra at KESTRA_URL when it is set -- and save the
# executed copy under build/.
#
# Environment:
#   KESTRA_URL, KESTRA_USERNAME/KESTRA_PASSWORD or KESTRA_API_TOKEN, KESTRA_TENANT
#                              use a real Kestra instead of the embedded sandbox
#   PYTHON                     the interpreter to use (default: python3, else python)
#   QUICKSTART_SKIP_INSTALL=1  skip the pip install (the package is already installed)
#   QUICKSTART_OUTPUT=PATH     where to save the executed notebook (default build/quickstart.ipynb)
#   QUICKSTART_TIMEOUT=S       per-cell timeout in seconds (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if command -v python3 >/dev/null 2>&1; then PY=python3; elif command -v python >/dev/null 2>&1; then PY=python
  else
    echo "quickstart: no Python found; installing Debian's python3" >&2
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip python3-venv >/dev/null
    PY=python3
  fi
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "quickstart: kestra-magic needs Python 3.10 or newer; $PY is $("$PY" -V 2>&1). Set PYTHON=/path/to/python3.10+" >&2
  exit 2
fi

if [ "${QUICKSTART_SKIP_INSTALL:-0}" != 1 ]; then
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    echo "quickstart: pip is missing; installing Debian's python3-pip and python3-venv" >&2
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip python3-venv >/dev/null
  fi
  # A system Python managed by Debian (PEP 668) refuses pip installs: use a project venv.
  if "$PY" -c 'import sys, sysconfig, os; sys.exit(not (sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))'; then
    if [ ! -x .venv/bin/python ]; then
      echo "quickstart: $PY is managed by the system; creating a virtual environment in .venv" >&2
      "$PY" -m venv .venv || { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && "$PY" -m venv .venv; }
    fi
    PY=$ROOT/.venv/bin/python
    echo "quickstart: using $PY (activate it with: source .venv/bin/activate)" >&2
  fi
  echo "quickstart: installing kestra-magic with the 'all' extra (pip install -e '.[all]') ..."
  "$PY" -m pip install -q -e '.[all]'
  # an editable install puts no data files: link the prebuilt JupyterLab highlighting extension
  "$PY" scripts/link_labextension.py
fi

OUTPUT=${QUICKSTART_OUTPUT:-build/quickstart.ipynb}
mkdir -p "$(dirname "$OUTPUT")"
if [ -n "${KESTRA_URL:-}" ]; then TARGET="the Kestra at $KESTRA_URL"; else TARGET="the embedded sandbox"; fi
echo "quickstart: running notebooks/quickstart.ipynb against $TARGET ..."

"$PY" - "$ROOT/notebooks/quickstart.ipynb" "$OUTPUT" "${QUICKSTART_TIMEOUT:-600}" <<'PYEOF'
"""Execute the notebook with nbclient (a real kernel), save it with outputs, report the outcome."""
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

source, output, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
nb = nbformat.read(source, as_version=4)
client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                        # quiet the kernel's own start-up warnings (it listens on 127.0.0.1 only)
                        extra_arguments=["--IPKernelApp.log_level=ERROR"],
                        resources={"metadata": {"path": os.path.dirname(source)}})
started = time.monotonic()
failed = None
try:
    client.execute()
except CellExecutionError as err:
    failed = err
finally:
    nbformat.write(nb, output)
elapsed = time.monotonic() - started
ran = sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count"))
if failed is not None:
    first = re.sub(r"\x1b\[[0-9;]*m", "", str(failed)).strip().splitlines()
    print(f"quickstart: FAILED after {ran} cells ({elapsed:.1f} s); the partly executed notebook is {output}",
          file=sys.stderr)
    print("\n".join(first[-15:]), file=sys.stderr)
    sys.exit(1)
print(f"quickstart: ran {ran} cells in {elapsed:.1f} s; the executed notebook is {output}")
PYEOF

echo
echo "Open it interactively (live widgets, your own edits) with:"
if [ "$PY" = "$ROOT/.venv/bin/python" ]; then echo "  source .venv/bin/activate"; fi
ROOTFLAG=""; if [ "$(id -u)" = 0 ]; then ROOTFLAG=" --allow-root"; fi
echo "  jupyter lab$ROOTFLAG notebooks/quickstart.ipynb"
echo "or look at the executed copy with: jupyter lab$ROOTFLAG $OUTPUT"
