"""Training-health signals and verdicts: the detectors on planted failures, and the signals against their definitions."""
import math

import pytest
import torch
from torch import nn

from ganbench import health, monitor, store
from ganbench.execute import execute
from ganbench.spec import build_spec
from ganbench.execution import ExecOptions


def history(n=20, **cols):
    """Logged rows every 50 steps; each keyword is a function of the row index."""
    return [{"step": str(50 * i), **{k: str(f(i)) for k, f in cols.items()}} for i in range(n)]


def record(modes=None, num_modes=8, diverged_at=None):
    rec = {"metrics": {}, "protocol": {}, "diverged_at": diverged_at}
    if modes is not None:
        rec["metrics"]["modes"] = modes
        rec["protocol"]["modes"] = {"num_modes": num_modes}
    return rec


def test_without_modes_coverage_or_recall_judges_collapse():
    """A data set without modes (CIFAR, an image folder): precision 1.0 with recall or coverage near 0 is a
    collapse, not "ok"; coverage is preferred to recall; a set with modes keeps its own rule."""
    calm = history(loss_d=lambda i: 1.3, loss_g=lambda i: 0.8)
    rec = {"metrics": {"precision [vgg16@1]": 1.0, "recall [vgg16@1]": 0.0}, "protocol": {}, "diverged_at": None}
    v = health.verdict(rec, calm)
    assert v["verdict"] == "mode-collapse" and "0% of the real samples (recall [vgg16@1]" in v["evidence"]
    rec["metrics"]["coverage [vgg16@1]"] = 0.35  # coverage decides where it was measured
    assert health.verdict(rec, calm)["verdict"] == "ok"
    rec["metrics"]["coverage [vgg16@1]"] = 0.1
    assert health.verdict(rec, calm)["verdict"] == "mode-collapse"
    with_modes = record(modes=8)
    with_modes["metrics"]["recall"] = 0.0
    assert health.verdict(with_modes, calm)["verdict"] == "ok"  # spread samples (no diversity ratio): its own rule
    # every mode counted, yet bunched noise that reaches almost no real sample (WGAN on MNIST): collapsed
    noise = record(modes=10, num_modes=10)
    noise["metrics"].update({"diversity [feat@1]": 0.2, "coverage [feat@1]": 0.001})
    v = health.verdict(noise, calm)
    assert v["verdict"] == "mode-collapse" and "0.1% of the real samples" in v["evidence"]
    noise["metrics"]["coverage [feat@1]"] = 0.3  # bunched but reaching the data: blurry, not collapsed
    assert health.verdict(noise, calm)["verdict"] == "ok"
    noise["metrics"].update({"diversity [feat@1]": 0.7, "coverage [feat@1]": 0.01})  # spread: a quality failure
    assert health.verdict(noise, calm)["verdict"] == "ok"


def test_verdict_rules_on_synthetic_runs():
    calm = history(loss_d=lambda i: 1.3, loss_g=lambda i: 0.8, d_acc_real=lambda i: 0.6, d_acc_fake=lambda i: 0.5,
                   grad_norm_g=lambda i: 1.0, sigma0_d=lambda i: 5.0, sigma0_g=lambda i: 5.0)
    assert health.verdict(record(modes=8), calm) == {"verdict": "ok", "step": None, "evidence": ""}
    v = health.verdict(record(diverged_at=350), calm)
    assert v["verdict"] == "diverged" and v["step"] == 350
    # a collapse is at most a quarter of the modes: 2 of 8 is one, 3 of 8 is not
    v = health.verdict(record(modes=2), calm)
    assert v["verdict"] == "mode-collapse" and "2 of 8" in v["evidence"]
    assert health.verdict(record(modes=3), calm)["verdict"] == "ok"
    assert health.verdict(record(modes=250, num_modes=1000), calm)["verdict"] == "mode-collapse"
    # with a diversity ratio, concentration decides too: few modes within 3 std but spread samples is a quality
    # failure, not a collapse; samples bunched together over half the modes or fewer is one, over more is not
    spread, bunched, blurry = record(modes=1), record(modes=4), record(modes=7, num_modes=10)
    spread["metrics"]["diversity"], bunched["metrics"]["diversity [feat@1]"] = 0.9, 0.2
    blurry["metrics"]["diversity [feat@1]"] = 0.42
    assert health.verdict(spread, calm)["verdict"] == "ok" and health.verdict(blurry, calm)["verdict"] == "ok"
    v = health.verdict(bunched, calm)
    assert v["verdict"] == "mode-collapse" and "0.20" in v["evidence"] and v["step"] == 950
    # the largest singular value of D 100x its value at initialisation (spectra rows at step -1)
    grows = [dict(r, sigma0_d=str(5.0 * 1.5 ** i)) for i, r in enumerate(calm)]
    init = [{"step": "-1", "net": "D", "layer": "0", "s0": "5.0"}, {"step": "-1", "net": "G", "layer": "0", "s0": "5"}]
    v = health.verdict(record(modes=8), grows, init)
    first = next(50 * i for i in range(20) if 5.0 * 1.5 ** i > 500)
    assert v["verdict"] == "diverged" and v["step"] == first and "singular value of D" in v["evidence"]
    # a loss 100x its first logged value
    boom = [dict(r, loss_g=str(0.8 if i < 7 else 150.0)) for i, r in enumerate(calm)]
    v = health.verdict(record(modes=8), boom)
    assert v["verdict"] == "diverged" and v["step"] == 350 and "loss_g" in v["evidence"]
    # stalled: D right about everything in the last quarter while G's gradient fades below 1% of its peak
    stall = [dict(r, d_acc_real="1.0", d_acc_fake="1.0", grad_norm_g=str(10.0 * 0.1 ** i)) if i >= 10 else r
             for i, r in enumerate(calm)]
    v = health.verdict(record(modes=1), stall)
    assert v["verdict"] == "stalled" and v["step"] == 750  # the stall is the cause, reported before the collapse
    # D winning alone, with G still getting gradients (the non-saturating loss), is not a stall
    winning = [dict(r, d_acc_real="1.0", d_acc_fake="1.0") for r in calm]
    assert health.verdict(record(modes=8), winning)["verdict"] == "ok"
    # a collapse is dated by the probes' mode counts: the first probe from which coverage stayed collapsed
    probes = [{"step": str(100 * (i + 1)), "modes": str(m)} for i, m in enumerate([6, 8, 3, 7, 4, 2, 1, 1])]
    v = health.verdict(record(modes=1), calm, probes=probes)
    assert v["verdict"] == "mode-collapse" and v["step"] == 500 and "from step 500" in v["evidence"]
    assert health.collapse_onset(probes[:4], 4) is None  # recovered by the last probe: no onset
    assert health.collapse_onset([{"step": "5", "modes": "nan"}], 4) is None  # data without modes
    assert health.verdict(record(modes=1), calm)["step"] == 950  # without probes: the last logged step
    # runs recorded before the health signals existed: judged on what they have
    old = [{k: r[k] for k in ("step", "loss_d", "loss_g", "d_acc_real", "d_acc_fake")} for r in calm]
    assert health.verdict(record(modes=8), old)["verdict"] == "ok"


def test_grad_norm_is_the_global_l2_norm():
    a, b = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2, 2))
    a.grad, b.grad = torch.tensor([1.0, 2.0, 2.0]), torch.full((2, 2), 2.0)
    assert monitor.grad_norm([a, b]).item() == pytest.approx(math.sqrt(9 + 16))
    assert monitor.grad_norm([nn.Parameter(torch.zeros(1))]).item() == 0  # no gradient yet


def test_spectra_are_the_top_singular_values_and_leave_spectral_norm_untouched():
    torch.manual_seed(0)
    conv_t = nn.ConvTranspose2d(4, 3, 4)
    sn = nn.utils.parametrizations.spectral_norm(nn.Linear(6, 5))
    net = nn.Sequential(nn.Linear(4, 6), conv_t, sn)
    u = sn.parametrizations.weight[0]._u.clone()
    rows = monitor.spectra({"G": net})
    assert [r["layer"] for r in rows] == ["0", "1", "2"]
    want = torch.linalg.svdvals(net[0].weight.detach())
    assert [rows[0][f"s{i}"] for i in range(3)] == pytest.approx(want[:3].tolist())
    want = torch.linalg.svdvals(conv_t.weight.detach().transpose(0, 1).flatten(1))  # outputs x inputs
    assert rows[1]["s0"] == pytest.approx(want[0].item())
    assert torch.equal(sn.parametrizations.weight[0]._u, u)  # reading ran no power iteration
    assert rows[2]["s0"] == pytest.approx(1.0, abs=0.02)  # W / sigma: spectral norm sets up its estimate with 15 iterations


def test_reevaluation_adds_new_metrics_and_reproduces_the_old_ones(tmp_path):
    from ganbench.errors import ResultsError
    from ganbench.execute import reevaluate

    spec = build_spec({"dataset": "ring8", "loss": "ns", "steps": 60, "batch_size": 64, "seed": 1,
                       "arch_options": {"g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 2, "d_act": "lrelu"}})
    path = tmp_path / "r"
    full = execute(spec, path, ExecOptions(progress=False))
    assert reevaluate(spec, path) == "current" and store.read_json(path / store.METRICS) == full  # untouched
    # a run evaluated before the diversity ratio existed
    old = dict(full, metrics={k: v for k, v in full["metrics"].items() if k != "diversity"})
    del old["health"], old["metrics_version"]
    store.write_json(path / store.METRICS, old)
    assert reevaluate(spec, path) == "added"
    again = store.read_json(path / store.METRICS)
    assert again["metrics"] == full["metrics"] and again["cost"] == full["cost"] and again["health"] == full["health"]
    # a recorded number the checkpoint no longer reproduces: refused, the file left as it was
    wrong = dict(old, metrics={**old["metrics"], "fd [coords]": 123.0})
    store.write_json(path / store.METRICS, wrong)
    with pytest.raises(ResultsError, match="does not reproduce fd"):
        reevaluate(spec, path)
    assert store.read_json(path / store.METRICS) == wrong


def test_top_singular_values_of_a_large_matrix_match_the_exact_ones():
    """Above EXACT_SPECTRUM_MAX entries the leading singular values come from randomized subspace iteration: on a
    matrix with a known spectrum (10, 9, 8, then a tail below 1) they agree with svdvals, and the global random
    stream is left as it was."""
    from ganbench.monitor import EXACT_SPECTRUM_MAX, top_singular_values

    g = torch.Generator().manual_seed(0)
    m, n = EXACT_SPECTRUM_MAX // 512 + 64, 512
    u, _ = torch.linalg.qr(torch.randn(m, n, generator=g))
    v, _ = torch.linalg.qr(torch.randn(n, n, generator=g))
    sigma = torch.cat([torch.tensor([10.0, 9.0, 8.0]), torch.linspace(0.9, 0.01, n - 3)])
    w = (u * sigma) @ v.T
    assert w.numel() > EXACT_SPECTRUM_MAX
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    top = top_singular_values(w, 3)
    assert torch.equal(torch.rand(3), before)
    assert torch.allclose(top[:3], torch.tensor([10.0, 9.0, 8.0]), rtol=1e-4)
