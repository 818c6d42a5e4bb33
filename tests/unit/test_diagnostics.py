"""Run diagnostics: samples regenerated from kept checkpoints, mode histograms and nearest training images."""
import torch

from ganbench import diagnostics, store
from ganbench.build import build
from ganbench.spec import build_spec


def test_regenerated_samples_are_the_evaluated_ones(digits_run):
    path, rec = digits_run
    s, fake, step = diagnostics.run_samples(path)
    assert step == 60 and fake.shape == (500, 1, 8, 8)
    hist = diagnostics.mode_histogram(s, fake)
    modes = next(v for k, v in rec["metrics"].items() if k.startswith("modes"))
    assert hist.covered == modes and int(hist.generated.sum()) == 500 and int(hist.data.sum()) == len(s.data)
    s_best, _, best_step = diagnostics.run_samples(path, store.BEST)
    assert best_step == rec["checkpoints"]["selection"]["best"]["step"]


def test_mode_histogram_of_a_mixture_counts_samples_within_three_std(tiny_mlp):
    s = build(build_spec({"dataset": "ring8", "loss": "ns", "arch_options": tiny_mlp}))
    centres, std = s.data.info["centres"].float(), s.data.info["std"]
    fake = torch.cat([centres[2].expand(30, 2), centres[5].expand(10, 2), centres[5] + 10 * std * torch.ones(5, 2)])
    hist = diagnostics.mode_histogram(s, fake)
    assert hist.generated.tolist() == [0, 0, 30, 0, 0, 10, 0, 0] and hist.covered == 2  # the far 5 on no mode
    assert abs(float(hist.data.double().std() / hist.data.double().mean())) < 0.05  # the data: balanced


def test_nearest_training_images_of_copies_are_themselves(digits_run):
    path, _ = digits_run
    s, _, _ = diagnostics.run_samples(path)
    copies = s.data.x[[3, 700, 1500]]
    nb = diagnostics.neighbours(s, copies)
    assert nb.pixel_index.tolist() == [3, 700, 1500] and float(nb.pixel_distance.max()) == 0.0
    assert nb.feature_index.tolist() == [3, 700, 1500] and float(nb.feature_distance.max()) < 0.05 and (nb.pixel_distance < nb.pixel_threshold).all()
    noise = torch.rand(2, 1, 8, 8) * 2 - 1
    assert (diagnostics.neighbours(s, noise).pixel_distance > nb.pixel_threshold).all()
