"""Averaging tricks (ganbench/tricks/averaging.py): an exponential moving average of G and historical averaging, each
checked against its paper's mechanism, not merely that it runs."""
import pytest
import torch

from ganbench.build import build
from trickspecs import family_names, spec_with


def ema_after(trick: str, values: list[float]):
    s = build(spec_with([trick]))
    ema = s.tricks.tricks[0]
    with torch.no_grad():
        for p in s.G.parameters():
            p.zero_()
        for p in ema.G_ema.parameters():
            p.zero_()
        for v in values:
            for p in s.G.parameters():
                p.fill_(v)
            s.tricks.after_g_step(s.G, s.D)
    return s, ema


def mech_ema():
    history = [1.0, 2.0, 3.0, 4.0, 5.0]
    s, ema = ema_after("ema:beta=0.9,warmup=0", history)
    expected = sum((1 - 0.9) * 0.9 ** (5 - i) * v for i, v in enumerate(history, start=1))  # analytic EMA from 0
    for p in ema.G_ema.parameters():
        assert torch.allclose(p, torch.full_like(p, expected), atol=1e-6)
    assert s.eval_generator() is ema.G_ema and s.eval_generator() is not s.G
    # with the default warm-up the decay is min(beta, (1+t)/(10+t)): 2/11, 3/12, ... then beta
    _, ema = ema_after("ema:beta=0.3", history)
    expected = 0.0
    for t, v in enumerate(history, start=1):
        b = min(0.3, (1 + t) / (10 + t))
        expected = b * expected + (1 - b) * v
    assert [ema.decay(t) for t in (1, 2, 3)] == [2 / 11, 0.25, 0.3]
    for p in ema.G_ema.parameters():
        assert torch.allclose(p, torch.full_like(p, expected), atol=1e-6)
    assert ema.state_dict()["updates"] == 5


def mech_historical_averaging():
    s = build(spec_with(["historical-averaging:lam=0.5"]))
    ha = s.tricks.tricks[0]
    assert s.tricks.g_penalty(s.G, s.D, torch.zeros(1), torch.zeros(1)) is None  # no history yet
    values = [1.0, 2.0, 6.0]
    with torch.no_grad():
        for v in values:
            for p in s.G.parameters():
                p.fill_(v)
            ha.after_g_step(s.G, s.D)
        for p in s.G.parameters():
            p.fill_(0.0)
    n = sum(p.numel() for p in s.G.parameters())
    assert s.tricks.g_penalty(s.G, s.D, torch.zeros(1), torch.zeros(1)).item() == pytest.approx(0.5 * n * 3.0 ** 2)  # mean 3


MECHANISMS = {
    "ema": mech_ema,
    "historical-averaging": mech_historical_averaging,
}


@pytest.mark.parametrize("name", family_names("averaging"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
