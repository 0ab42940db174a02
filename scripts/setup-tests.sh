#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine (Debian chromium and a font for
# the browser test, pip extras).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium fonts-dejavu-core
fi
# The README runs `python -m pytest`: on a bare Debian, `python` comes from python-is-python3.
if ! command -v python >/dev/null 2>&1; then
  apt_install python-is-python3 python3-pip
fi
if ! python -m pip --version >/dev/null 2>&1; then
  apt_install python3-pip
fi
PIP_FLAGS=(-q)
# Debian's own Python refuses pip installs (PEP 668); a test machine installs anyway.
if python -c 'import sys, sysconfig, os; sys.exit(not (sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))'; then
  PIP_FLAGS+=(--break-system-packages)
  if [ "$(id -u)" != 0 ]; then PIP_FLAGS+=(--user); fi
fi
python -m pip install "${PIP_FLAGS[@]}" -e '.[test]'
# an editable install puts no data files: link the prebuilt JupyterLab highlighting extension
python scripts/link_labextension.py
