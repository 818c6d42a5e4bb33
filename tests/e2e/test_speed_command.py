"""`ganbench speed` end to end: it reports both throughputs, and refuses in one line a spec the textbook loop cannot
run. Timings are measured by the command, never asserted here."""
from helpers import gb


def test_speed_command(tmp_path):
    from test_cli import gb

    r = gb("speed", "-d", "digits", "--set", "arch_options.width=8", "--steps", "3", "--repeats", "1")
    assert r.returncode == 0, r.stderr
    assert "ratio reference / ganbench" in r.stdout and "evaluation images/s" in r.stdout
    r = gb("speed", "-d", "digits", "--set", "tricks=[sn]", "--steps", "3")
    assert r.returncode == 2 and "textbook loop" in r.stderr and "Traceback" not in r.stderr
