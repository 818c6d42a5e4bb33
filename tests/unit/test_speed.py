"""`ganbench speed`: the minimal loop does exactly ganbench's work (both end bit-identical, and equal to what
train() itself trains), the whole-run split accounts for the whole run phase by phase, and the command's
measurements come back complete. Timings are measured by the command, never asserted here."""
import time

import pytest
import torch

from ganbench.build import build
from ganbench.errors import SpecError
from ganbench.execution import ExecOptions
from ganbench.spec import build_spec
from ganbench.speed import (LOOPS, PHASES, check_comparable, ganbench_loop, measure, minimal_loop, textbook_loop,
                            whole_run)
from ganbench.train import train


def spec_of(tiny_mlp, **kw):
    return build_spec({"dataset": "ring8", "loss": "ns", "steps": 100, "arch_options": tiny_mlp, **kw})


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Every parameter and buffer (batch norm's running statistics too) equal bit for bit."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ring8: 4096-sample batches, so that 26 steps cross an epoch of the 100,000 points (24 batches); digits: the 8x8
# DCGAN, 30 steps of 64 cross its epoch of 1,797 images (28 batches). Both log every 10 steps.
CASES = {"ring8-mlp": {"dataset": "ring8", "batch_size": 4096, "steps": 26},
         "digits-dcgan": {"dataset": "digits", "arch_options": {"width": 8}, "steps": 30}}


@pytest.mark.parametrize("case", CASES)
def test_the_minimal_loop_trains_bit_identically_to_ganbench(tiny_mlp, tmp_path, case):
    """N steps from the same seed: the plain-PyTorch loop, ganbench's step with statistics off and on, and
    train() itself (as `ganbench run` trains, statistics, checkpoint and all) leave G and D equal bit for bit."""
    fields = {"loss": "ns", "log_every": 10, "quality_every": 0, "arch_options": tiny_mlp, **CASES[case]}
    spec = build_spec(fields)
    n = spec.steps
    minimal, off, on = minimal_loop(spec), ganbench_loop(spec, stats=False), ganbench_loop(spec, stats=True)
    for loop in (minimal, off, on):
        loop.train(n)
    s = build(spec)
    assert train(s, tmp_path, ExecOptions(progress=False))
    for loop in (off, on):
        assert same_state(loop.G, minimal.G) and same_state(loop.D, minimal.D)
    assert same_state(s.G, minimal.G) and same_state(s.D, minimal.D)
    fresh = minimal_loop(spec)  # and training moved them: the comparison is not between untouched networks
    assert not same_state(fresh.G, minimal.G) and not same_state(fresh.D, minimal.D)


def test_the_textbook_loop_starts_from_the_same_networks_and_trains(tiny_mlp):
    spec = spec_of(tiny_mlp)
    ours, ref = ganbench_loop(spec), textbook_loop(spec)
    assert same_state(ours.G, ref.G) and same_state(ours.D, ref.D)
    before = [p.detach().clone() for p in ref.G.parameters()]
    ref.train(5)
    assert all(not torch.equal(p, q) for p, q in zip(before, ref.G.parameters()))
    assert all(torch.isfinite(p).all() for p in ref.G.parameters())


@pytest.mark.parametrize("fields", [{"loss": "wgan-gp"}, {"tricks": ["sn"]}, {"optimizer": "rmsprop"}])
def test_only_the_plain_gan_is_compared(tiny_mlp, fields):
    with pytest.raises(SpecError, match="minimal loop"):
        check_comparable(spec_of(tiny_mlp, **fields))


def test_measure_reports_every_loop(tiny_mlp):
    r = measure(spec_of(tiny_mlp), steps=4, repeats=2, warmup=1)
    assert set(r.seconds) == set(LOOPS) and all(len(v) == 2 and min(v) > 0 for v in r.seconds.values())
    assert r.ratio("ganbench") > 0 and r.paired_ratio("ganbench+stats") > 0 and r.eval_images_per_s > 0
    labels = [k for k, _ in r.rows()]
    assert any(k.startswith("ratio ganbench / minimal, statistics off") for k in labels)
    assert any(k.startswith(f"ratio ganbench / minimal, statistics every {r.log_every} steps") for k in labels)


def test_the_whole_run_split_names_every_phase_and_sums_to_the_whole(tiny_mlp):
    """A 20-step run with its statistics, probes, checkpoint and evaluation: every phase is named and took time,
    the phases add up to the run's wall time as measured around it, and the plain script's final metrics equal the
    run's metrics.json bit for bit. In this process (the command runs each side in a fresh interpreter, which
    tests/e2e/test_speed_command.py covers), so the imports are not measured."""
    spec = spec_of(tiny_mlp, steps=20, log_every=5, quality_every=5, quality_samples=300, eval_samples=500)
    t = time.perf_counter()
    split = whole_run(spec, fresh=False)
    outside = time.perf_counter() - t
    assert list(split.ganbench) == list(PHASES)
    assert all(split.ganbench[p] > 0 for p in PHASES if p != "imports") and split.ganbench["imports"] == 0
    assert set(split.plain) == {"imports", "start-up", "training", "final evaluation"}
    # the phases partition the run: they add up to its wall time measured around it (to 1 ms of timer overhead)
    assert sum(split.ganbench.values()) == pytest.approx(split.whole_s, abs=1e-3)
    assert 0 < split.whole_s < outside and 0 < split.plain_s < outside - split.whole_s  # and that is the run's
    assert split.same_metrics, split.mismatched
    lines = split.lines()
    assert all(any(label in line for line in lines) for label in PHASES.values())
    assert any(line.strip().startswith("whole-run ratio ganbench / plain script") for line in lines)
