"""Tricks in a run spec: meaningless combinations and bad parameters refused when the spec is built, a canonical order
(and run id) whatever the order written, and many tricks composed in one run."""
import pytest
import torch

from ganbench.build import build
from ganbench.data.base import BatchSampler
from ganbench.errors import SpecError
from ganbench.spec import build_spec
from ganbench.step import gan_step
from trickspecs import digits_spec, spec_with


def test_conflicting_tricks_fail_at_spec_time():
    with pytest.raises(SpecError, match="cannot be combined"):
        spec_with(["gp", "clip"], loss="wasserstein")


@pytest.mark.parametrize("fields,match", [
    ({"dataset": "ring8", "loss": "hinge", "tricks": ["label-smoothing"]}, "has none; use ns, mm or ls"),
    ({"dataset": "ring8", "loss": "wasserstein", "tricks": ["label-flip"]}, "has none"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["diffaugment"]}, "not an image data set"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["consistency", "diffaugment"]}, "cannot be combined"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["patch-d", "minibatch-discrimination"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["sn", "sn-g"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["ortho-init", "xavier-init"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["truncation", "latent"]}, "cannot be combined"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["upsample-conv"]}, "option of dcgan"),
    ({"dataset": "ring8", "loss": "wgan", "tricks": ["adam-beta1"]}, "needs the adam optimizer"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["self-attention:res=16"]}, "attention resolution"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["large-batch:factor=64"]}, "lower batch_size"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["cgan", "pac"]}, "packs of samples"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["cgan", "infogan"]}, "one conditioning trick per run"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["cgan", "feature-matching"]}, "depend on the labels"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["projection", "patch-d"]}, "cannot be combined"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["infogan:categories=1"]}, "at least 2 categories"),
    ({"dataset": "digits", "loss": "ns", "tricks": ["msg", "diffaugment"]}, "stacks along the channels"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["msg"]}, "option of dcgan"),
])
def test_meaningless_combinations_fail_when_the_spec_is_built(fields, match):
    with pytest.raises(SpecError, match=match):
        build_spec(fields)


def test_tricks_compose_in_one_run():
    s = build(digits_spec(["sn", "ttur", "ema", "instance-noise", "label-smoothing", "minibatch-stddev", "r1",
                           "diffaugment", "pac"]))
    assert s.tricks.d_steps(1) == 1 and s.batch_size == 32 and not s.d_joint
    assert [t.name for t in s.tricks.tricks] == ["ttur", "minibatch-stddev", "sn", "diffaugment", "instance-noise",
                                                 "pac", "label-smoothing", "r1", "ema"]
    sampler = BatchSampler(s.data.x, s.batch_size, 0)
    for _ in range(3):
        out = gan_step(s, sampler, 0.5)
    assert all(torch.isfinite(v).all() for v in out.values()) and out["penalty_d"] > 0


def test_bad_trick_parameters_are_refused():
    with pytest.raises(SpecError, match="has no parameter"):
        spec_with(["gp:lambda=5"])
    with pytest.raises(SpecError, match="must be at least 1"):
        spec_with(["d-steps:k=0"])


def test_trick_order_is_canonical():
    a = spec_with(["sn", "ttur", "d-steps"])
    b = spec_with(["d-steps", "sn", "ttur"])
    assert a.run_id == b.run_id and a.method == "ns+ttur+d-steps+sn"
    assert [t.name for t in a.tricks] == ["ttur", "d-steps", "sn"]
