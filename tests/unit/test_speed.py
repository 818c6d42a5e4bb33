"""`ganbench speed`: the hand-written reference loop is the same GAN as ganbench's (same models, same start), it
trains, and the command reports both throughputs. Timings are measured by the command, never asserted here."""
import pytest
import torch

from ganbench.errors import SpecError
from ganbench.spec import build_spec
from ganbench.speed import check_comparable, ganbench_loop, measure, reference_loop


def spec_of(tiny_mlp, **kw):
    return build_spec({"dataset": "ring8", "loss": "ns", "steps": 100, "arch_options": tiny_mlp, **kw})


def test_both_loops_start_from_the_same_networks_and_train(tiny_mlp):
    spec = spec_of(tiny_mlp)
    ours, ref = ganbench_loop(spec), reference_loop(spec)
    for a, b in ((ours.G, ref.G), (ours.D, ref.D)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    before = [p.detach().clone() for p in ref.G.parameters()]
    ref.train(5)
    ours.train(5)
    assert all(not torch.equal(p, q) for p, q in zip(before, ref.G.parameters()))
    assert all(torch.isfinite(p).all() for p in ref.G.parameters())
    assert all(not torch.equal(p, q) for p, q in zip(before, ours.G.parameters()))


@pytest.mark.parametrize("fields", [{"loss": "wgan-gp"}, {"tricks": ["sn"]}, {"optimizer": "rmsprop"}])
def test_only_the_plain_gan_is_compared(tiny_mlp, fields):
    with pytest.raises(SpecError, match="textbook loop"):
        check_comparable(spec_of(tiny_mlp, **fields))


def test_measure_reports_both_loops(tiny_mlp):
    r = measure(spec_of(tiny_mlp), steps=4, repeats=2, warmup=1)
    assert len(r.ganbench_s) == len(r.reference_s) == 2 and r.ratio > 0 and r.eval_images_per_s > 0
    assert [k for k, _ in r.rows()][-2].startswith("ratio reference / ganbench")
