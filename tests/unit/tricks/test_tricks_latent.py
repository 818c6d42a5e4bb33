"""Latent tricks (ganbench/tricks/latent.py): a uniform latent and the truncation trick with its fidelity/variety curve,
each checked against its paper's mechanism, not merely that it runs."""
import pytest
import torch

from ganbench.build import build
from trickspecs import family_names, spec_with


def mech_latent():
    s = build(spec_with(["latent:r=2"]))
    for train in (True, False):
        z = s.latent(20000, None, train=train)
        assert z.min() >= -2 and z.max() <= 2 and z.var().item() == pytest.approx(4 / 3, rel=0.03)


def mech_truncation():
    s = build(spec_with(["truncation:psi=0.5"], z_dim=4))
    g = torch.Generator().manual_seed(0)
    z = s.latent(5000, g, train=False)
    assert z.abs().max() <= 0.5 and z.std().item() < 0.3  # truncated normal on [-0.5, 0.5]: std 0.28
    assert s.latent(5000, train=True).abs().max() > 2  # training latents are untouched


def test_truncation_run_records_the_fidelity_variety_curve(tmp_path):
    import pandas as pd

    from ganbench.execute import execute

    from ganbench.plots import write_plots

    spec = spec_with(["truncation:psi=0.5"], steps=20, eval_samples=500)
    rec = execute(spec, tmp_path / "runs" / spec.run_id)
    curve = pd.read_csv(tmp_path / "runs" / spec.run_id / "truncation.csv")
    assert "truncation_ring8.png" in {p.name for p in write_plots(tmp_path, [spec.run_id])}
    assert list(curve.psi) == [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0] and "recall [coords]" in curve.columns
    assert curve.loc[curve.psi == 0.5, "fd [coords]"].item() == pytest.approx(rec["metrics"]["fd [coords]"])
    assert rec["sampling"]["latent"] == {"trick": "truncation", "psi": 0.5}


MECHANISMS = {
    "latent": mech_latent,
    "truncation": mech_truncation,
}


@pytest.mark.parametrize("name", family_names("latent"))
def test_trick_mechanism(name):
    MECHANISMS[name]()
