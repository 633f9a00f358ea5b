"""The quickstart in a real JupyterLab, driven by a real (headless) Chromium.

JupyterLab serves a copy of notebooks/quickstart.ipynb on 127.0.0.1 (free port, no token);
Playwright runs every cell, waits for the blotter and the order ticket to render, sends an order
from the ticket and expects it in the blotter and in the paper exchange's book. A screenshot is
kept at artifacts/quickstart.png. Skipped only when Debian's chromium is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nbexec.notebook.runner import kernel_env, stop_servers
from tests.fixtures.redis import short_tmpdir

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "artifacts" / "quickstart.png"
TICKET_QUANTITY = 7

pytestmark = [
    pytest.mark.slow,
    pytest.mark.process,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install -y chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def lab(tmp_path):
    """(base URL, engine data dir) of a JupyterLab serving a copy of the quickstart."""
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "quickstart.ipynb", root / "quickstart.ipynb")
    data_dir = short_tmpdir("nbxlab-")
    port = free_port()
    env = kernel_env(data_dir)
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")  # no user settings, no workspace state
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp_path / "workspaces")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--allow-root",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "lab.log", "wb"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/status")
        yield base, data_dir
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernels down on the way out
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        stop_servers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def paper_book(data_dir: Path, account: str) -> dict:
    admin = json.loads((data_dir / "paper.json").read_text())["info"]["admin"]
    with urllib.request.urlopen(f"{admin}/book?account={account}", timeout=5) as r:
        return json.load(r)[account]


def accept_kernel_choice(page) -> None:
    """JupyterLab may ask which kernel to start; python3 is preselected."""
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        accept.wait_for(timeout=10_000)
    except Exception:  # playwright's TimeoutError: no dialog this time
        return
    accept.click()


def test_ticket_send_places_an_order_that_shows_in_the_blotter_and_the_book(lab):
    from playwright.sync_api import expect, sync_playwright

    base, data_dir = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/quickstart.ipynb")
            page.locator(".jp-Notebook").wait_for(timeout=60_000)
            accept_kernel_choice(page)
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            blotter = page.locator(".nbx-blotter")
            expect(blotter).to_contain_text("5 orders", timeout=90_000)
            expect(blotter).to_contain_text("FILLED 5", timeout=30_000)
            ticket = page.locator(".nbx-ticket")
            expect(ticket).to_be_visible(timeout=30_000)
            assert ticket.locator("select").input_value() == "NSE:INFY"

            quantity = ticket.locator("input[type='number']").first
            quantity.fill(str(TICKET_QUANTITY))
            quantity.press("Enter")
            ticket.locator("input[type='text']").fill("PA0001")
            ticket.locator("input[type='text']").press("Enter")
            ticket.locator("button.nbx-send").click()

            expect(page.locator(".nbx-ticket-status")).to_contain_text("FILLED 1", timeout=30_000)
            expect(blotter).to_contain_text("6 orders", timeout=30_000)
            row = blotter.locator("tr", has_text="PA0001").first
            expect(row).to_contain_text(str(TICKET_QUANTITY))
            expect(row).to_contain_text("FILLED")
            blotter.scroll_into_view_if_needed()
        finally:
            ARTIFACT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACT))  # kept whether the test passed or not
            browser.close()
    book = paper_book(data_dir, "PA0001")
    placed = [o for o in book["orders"] if o["quantity"] == TICKET_QUANTITY]
    assert len(placed) == 1 and placed[0]["status"] == "COMPLETE" and placed[0]["instrument"] == "NSE:INFY"
