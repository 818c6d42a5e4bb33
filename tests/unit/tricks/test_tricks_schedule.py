"""Schedule tricks (ganbench/tricks/schedule.py): TTUR, D and G steps, simultaneous updates, SGD for D, Adam's beta1,
large batches and separate real/fake batches, each checked against its paper's mechanism, not merely that it runs."""
import pytest
import torch

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.errors import SpecError
from ganbench.step import gan_step
from trickspecs import count_steps, digits_spec, family_names, spec_with


def mech_ttur():
    s = build(spec_with(["ttur"]))
    assert s.opt_d.param_groups[0]["lr"] == 4e-4 and s.opt_g.param_groups[0]["lr"] == 1e-4


def mech_d_steps():
    s = build(spec_with(["d-steps:k=3"]))
    counts = {"d": 0, "g": 0}
    s.opt_d.register_step_post_hook(lambda *a: counts.__setitem__("d", counts["d"] + 1))
    s.opt_g.register_step_post_hook(lambda *a: counts.__setitem__("g", counts["g"] + 1))
    sampler = BatchSampler(s.data.x, 16, 0)
    for _ in range(4):
        gan_step(s, sampler, 0.0)
    assert counts == {"d": 12, "g": 4} and sampler.drawn == 12


def _one_step(tricks, lr_g, lr_d):
    """G's and D's parameters after one training step from the same initial state and batch."""
    from ganbench.step import simultaneous_step

    s = build(spec_with(tricks, optimizer="sgd", lr_g=lr_g, lr_d=lr_d))
    torch.manual_seed(0)
    step = simultaneous_step if s.tricks.simultaneous else gan_step
    step(s, BatchSampler(s.data.x, 16, 0), 0.0)
    flat = lambda net: torch.cat([p.detach().flatten() for p in net.parameters()])  # noqa: E731
    return flat(s.G), flat(s.D)


def mech_simultaneous():
    # simultaneous: G's step does not depend on D's learning rate (it saw D before D's update), and D's step does
    # not depend on G's (it saw G's samples before G's update)
    g_a, d_a = _one_step(["simultaneous"], lr_g=0.1, lr_d=0.5)
    g_b, _ = _one_step(["simultaneous"], lr_g=0.1, lr_d=0.0)
    _, d_c = _one_step(["simultaneous"], lr_g=0.0, lr_d=0.5)
    assert torch.equal(g_a, g_b) and torch.equal(d_a, d_c)
    g0, d0 = _one_step(["simultaneous"], lr_g=0.0, lr_d=0.0)
    assert not torch.equal(g_a, g0) and not torch.equal(d_a, d0)  # both did move
    # alternating (the default): G's step is taken against the updated D, so it depends on D's learning rate
    g_alt, _ = _one_step([], lr_g=0.1, lr_d=0.5)
    g_alt0, _ = _one_step([], lr_g=0.1, lr_d=0.0)
    assert not torch.equal(g_alt, g_alt0)
    with pytest.raises(SpecError, match="cannot be combined"):
        spec_with(["simultaneous", "d-steps"])
    with pytest.raises(SpecError, match="second_order"):
        spec_with(["simultaneous", "unrolled"], loss="mm")


def mech_g_steps():
    s = build(spec_with(["g-steps:k=3"]))
    counts = count_steps(s)
    for _ in range(2):
        gan_step(s, BatchSampler(s.data.x, 16, 0), 0.0)
    assert counts == {"d": 2, "g": 6}


def mech_sgd_d():
    s = build(spec_with(["sgd-d:lr=0.05"]))
    assert isinstance(s.opt_d, torch.optim.SGD) and s.opt_d.param_groups[0]["lr"] == 0.05
    assert s.opt_d.param_groups[0]["momentum"] == 0.0 and isinstance(s.opt_g, torch.optim.Adam)


def mech_adam_beta1():
    s = build(spec_with(["adam-beta1"]))
    assert s.opt_d.param_groups[0]["betas"] == (0.9, 0.999) and s.opt_g.param_groups[0]["betas"] == (0.9, 0.999)
    with pytest.raises(SpecError, match="already uses beta1"):
        spec_with(["adam-beta1:beta1=0.5"])


def mech_large_batch():
    s = build(spec_with(["large-batch"]))
    seen = []
    s.G.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    sampler = BatchSampler(s.data.x, s.batch_size, 0)
    gan_step(s, sampler, 0.0)
    assert s.batch_size == 128 and seen == [128, 128]


def mech_separate_batches():
    calls = {}
    for tricks in ([], ["separate-batches"]):
        s = build(digits_spec(tricks, arch_options={"width": 8, "d_norm": "bn"}))
        sizes = []
        s.D.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
        gan_step(s, BatchSampler(s.data.x, 16, 0), 0.0)
        calls[bool(tricks)] = sizes
    assert calls[False] == [32, 16] and calls[True] == [16, 16, 16]  # mixed pass vs real-only and fake-only passes
    with pytest.raises(SpecError, match="batch norm"):
        digits_spec(["separate-batches"])


MECHANISMS = {
    "ttur": mech_ttur,
    "d-steps": mech_d_steps,
    "simultaneous": mech_simultaneous,
    "g-steps": mech_g_steps,
    "sgd-d": mech_sgd_d,
    "adam-beta1": mech_adam_beta1,
    "large-batch": mech_large_batch,
    "separate-batches": mech_separate_batches,
}


@pytest.mark.parametrize("name", family_names("schedule"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
