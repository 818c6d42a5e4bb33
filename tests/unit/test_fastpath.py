"""The accelerator fast path on the CPU: bf16 autocast (refused for gradient penalties), channels-last networks and
batches, torch.compile in place; recorded in metrics.json and never part of the run's identity."""
import tempfile

import pytest
import torch
from torch import nn

from ganbench import execution as fastpath
from ganbench.build import build
from ganbench.execute import execute
from ganbench.spec import build_spec
from ganbench.execution import ExecOptions
from ganbench.step import next_real
from ganbench.data.base import BatchSampler

SMALL = {"dataset": "cifar10", "loss": "ns", "arch": "dcgan", "steps": 4, "eval_samples": 32, "quality_every": 0,
         "arch_options": {"width": 4}, "batch_size": 8}


def test_bf16_autocast_runs_the_step_in_bf16(monkeypatch):
    monkeypatch.setenv("GANBENCH_FEATURES", "ganbench-mnist")
    spec = build_spec(SMALL)
    s = build(spec)
    assert fastpath.fast_path(s, amp=True, channels_last=False, compile=False)["amp"] == "bf16"
    seen = []
    s.D.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with fastpath.step_context(s):
        s.D(torch.zeros(2, 3, 32, 32))
    s.D(torch.zeros(2, 3, 32, 32))
    assert seen == [torch.bfloat16, torch.float32]  # inside the step only
    rec = execute(spec, tempfile.mkdtemp(), ExecOptions(progress=False, amp=True))
    assert rec["cost"]["execution"] == {"amp": "bf16", "channels_last": False, "compile": False}
    # bf16 kept the run finite: 4 steps of a width-4 G are not a trained model (CIFAR-10's collapse statistics
    # may well call its samples collapsed), but never a diverged one
    assert rec["diverged_at"] is None and rec["health"]["verdict"] in ("ok", "mode-collapse")


@pytest.mark.parametrize("trick", ["gp", "dragan", "r1", "r2"])
def test_gradient_penalties_keep_float32(trick):
    s = build(build_spec({**SMALL, "tricks": [trick]}))
    assert fastpath.fast_path(s, amp=True, channels_last=False, compile=False)["amp"] == f"off: {trick} not bf16-safe"
    with fastpath.step_context(s):
        assert not torch.is_autocast_enabled("cpu")


def test_channels_last_converts_networks_and_batches():
    s = build(build_spec(SMALL))
    fastpath.fast_path(s, amp=False, channels_last=True, compile=False)
    conv = next(m for m in s.D.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x, _ = next_real(s, BatchSampler(s.data.x, 8, 0))
    assert x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    s2 = build(build_spec({**SMALL, "dataset": "ring8", "arch": "mlp", "arch_options": {}}))
    assert fastpath.fast_path(s2, amp=False, channels_last=True, compile=False)["channels_last"] is False  # 2-D data


def test_compile_compiles_in_place_and_keeps_checkpoint_keys(monkeypatch):
    compiled = []
    monkeypatch.setattr(nn.Module, "compile", lambda self, *a, **k: compiled.append(type(self).__name__))
    s = build(build_spec(SMALL))
    keys = list(s.G.state_dict())
    assert fastpath.fast_path(s, amp=False, channels_last=False, compile=True)["compile"] is True
    assert len(compiled) == 2 and list(s.G.state_dict()) == keys  # no _orig_mod. prefix: checkpoints stay loadable


def test_execution_options_are_not_part_of_the_run_identity():
    import json

    keys = set(json.loads(build_spec(SMALL).canonical()))
    assert not keys & {"amp", "channels_last", "compile", "device"}
