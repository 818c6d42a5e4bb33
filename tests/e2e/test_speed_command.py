"""`ganbench speed` end to end: it reports ganbench's step against the minimal loop (statistics off and on), and a
whole run split by phase against the plain script (imports timed in fresh interpreters); it refuses in one line a
spec the minimal loop cannot run. Timings are measured by the command, never asserted here."""
import pytest

from helpers import gb


@pytest.mark.slow(seconds=54)
def test_speed_command(tmp_path):
    r = gb("speed", "-d", "digits", "--set", "arch_options.width=8", "--set", "quality_samples=200",
           "--set", "eval_samples=500", "--steps", "3", "--repeats", "1", "--run-steps", "12")
    assert r.returncode == 0, r.stderr
    for shown in ("ratio ganbench / minimal, statistics off", "ratio ganbench / minimal, statistics every 50 steps",
                  "evaluation images/s", "imports (a fresh interpreter)", "quality probes", "final evaluation",
                  "whole-run ratio ganbench / plain script", "final metrics equal to the plain script's: yes"):
        assert shown in r.stdout, shown
    r = gb("speed", "-d", "digits", "--set", "tricks=[sn]", "--steps", "3")
    assert r.returncode == 2 and "minimal loop" in r.stderr and "Traceback" not in r.stderr
