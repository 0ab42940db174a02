"""`python -m kestra_magic.sandbox` prints its URL, serves, and stops on Ctrl-C (SIGINT)."""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import requests


def test_cli_serves_until_interrupted():
    proc = subprocess.Popen([sys.executable, "-m", "kestra_magic.sandbox", "--port", "0", "--api", "1",
                             "--username", "admin@kestra.io", "--password", "Cli-Secret-Pw1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        assert "Cli-Secret-Pw1" not in line and "1.3.3" in line and "api 1" in line
        url = match.group(1)
        assert requests.get(url + "/api/v1/configs", timeout=10).json()["version"] == "1.3.3"
        assert requests.get(url + "/api/v1/main/flows/search", timeout=10).status_code == 401
        ok = requests.get(url + "/api/v1/main/flows/search", auth=("admin@kestra.io", "Cli-Secret-Pw1"), timeout=10)
        assert ok.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Cli-Secret-Pw1" not in out + err


def test_cli_rejects_half_credentials_and_busy_ports():
    half = subprocess.run([sys.executable, "-m", "kestra_magic.sandbox", "--username", "u@x.io"],
                          capture_output=True, text=True, timeout=30)
    assert half.returncode == 2 and "--username and --password go together" in half.stderr
    from kestra_magic.sandbox import Sandbox
    with Sandbox() as sb:
        port = sb.url.rsplit(":", 1)[1]
        busy = subprocess.run([sys.executable, "-m", "kestra_magic.sandbox", "--port", port],
                              capture_output=True, text=True, timeout=30)
        assert busy.returncode == 2 and "pick another --port" in busy.stderr
        assert "Traceback" not in busy.stderr


def test_sandbox_argument_errors():
    import pytest
    from kestra_magic.sandbox import Sandbox
    with pytest.raises(ValueError, match="api must be 1 or 2"):
        Sandbox(api=3)
    with pytest.raises(ValueError, match="both username and password"):
        Sandbox(username="a@b.io")
    with pytest.raises(RuntimeError, match="not started"):
        Sandbox().url
