"""The HTML leaderboard opened in a real browser (headless Chromium): the page loads from a file with every
figure decoded and every table present, its tables sort and filter, and a row expands to its seeds. .ci/run installs Debian's chromium; elsewhere the test skips without it."""
import os
import re
import shutil
import subprocess

import pytest

from helpers import fake_run

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None and os.environ.get("CI") == "true":
        pytest.fail("CI=true but no Chromium: .ci/run must install Debian's chromium package")
    return found


def test_leaderboard_page_renders_in_headless_chromium(tmp_path):
    exe = browser()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it and runs this test")
    from ganbench.leaderboard import write_leaderboard
    from ganbench.plots import write_plots

    modes = {(): [4.0, 5.0, 6.0], ("sn",): [8.0, 9.0, 10.0], ("ttur",): [5.0, 6.0, 7.0]}
    ids = [fake_run(tmp_path, list(t), s, v, 0.1 * (s + 1)) for t, vs in modes.items() for s, v in enumerate(vs)]
    figures = len(write_plots(tmp_path, ids))
    write_leaderboard(tmp_path, ids)
    page = tmp_path / "leaderboard.html"
    profile = tmp_path / "profile"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri() + "#selftest"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", out.stdout)
    assert body, out.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    # the change summary, ring8's table, its every-column table and the three methods' seeds
    assert {k: attrs[k] for k in ("figures", "figures-decoded", "tables")} == {
        "figures": str(figures), "figures-decoded": str(figures), "tables": "6"}, attrs
    # the page's self-test clicked the method header twice, expanded the top row and filtered by a method's name
    assert attrs["sorted-asc"] == "ns" and attrs["sorted-desc"] == "ns+ttur", attrs
    assert attrs["expanded"] == "1" and attrs["seed-rows"] == "3" and attrs["visible-rows"] == "1", attrs
    assert "ns+sn" in out.stdout and "Leaderboard: " in out.stdout
