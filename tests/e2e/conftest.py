"""Fixtures for the end-to-end tests: a JupyterLab server and a headless Chromium,
one each per session, with every bit of their state in a temp dir."""
from __future__ import annotations

import pytest

from tests.e2e.lab import Browser, JupyterLab, remove, temp_base


@pytest.fixture(scope="session")
def lab_base():
    base = temp_base("kestra-magic-e2e-")
    yield base
    remove(base)


@pytest.fixture(scope="session")
def jupyterlab(lab_base):
    """JupyterLab on 127.0.0.1 (random port, token auth, autoStartDefaultKernel on)."""
    lab = JupyterLab(lab_base).start()
    yield lab
    lab.stop()


@pytest.fixture(scope="session")
def browser(lab_base):
    """Debian's chromium, headless, driven by Playwright (never its own download)."""
    b = Browser(lab_base).start()
    yield b
    b.stop()


@pytest.fixture
def page(browser, jupyterlab):
    """A fresh browser tab; the kernels it started are shut down afterwards."""
    p = browser.new_page()
    yield p
    p.close()
    jupyterlab.shutdown_kernels()
