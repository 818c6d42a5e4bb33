"""Tricks against mode collapse: feature matching, minibatch discrimination, minibatch standard deviation, and
unrolled D (PacGAN's packing lives with the other input tricks in inputs.py)."""
from __future__ import annotations

from torch.func import functional_call
import contextlib
import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganbench.models.base import Discriminator
from ganbench.tricks.base import TRICKS, Trick, has_batch_norm, register_trick, require


def needs_feature_d(name: str, D: nn.Module) -> Discriminator:
    if not isinstance(D, Discriminator):
        raise TypeError(f"{name} needs a ganbench Discriminator (body, features, head); got {type(D).__name__}")
    return D


@register_trick("feature-matching")
@dataclass
class FeatureMatching(Trick):
    """Feature matching: G minimises ||E f(x) - E f(G(z))||^2 over D's last hidden features f instead of the loss's
    G objective; D keeps its loss (Salimans et al. 2016)."""

    order: ClassVar[int] = 55

    def g_objective(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        D = needs_feature_d(self.name, D)
        with torch.no_grad():
            target = D.features(real).flatten(1).mean(0)
        return ((D.features(fake).flatten(1).mean(0) - target) ** 2).sum()


class MinibatchDiscriminationLayer(nn.Module):
    """Salimans et al.'s layer: M = f T (B x C per sample), o_b(x_i) = sum_j exp(-||M_ib - M_jb||_L1), concatenated."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Linear(in_features, kernels * kernel_dim, bias=False)
        nn.init.normal_(self.T.weight, 0.0, 0.02)

    def forward(self, f: Tensor) -> Tensor:
        flat = f.flatten(1)
        m = self.T(flat).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)  # B x N x C
        l1 = torch.cdist(m, m, p=1)  # B x N x N, without the N x N x B x C difference tensor (2.6x faster)
        o = torch.exp(-l1).sum(2).T - 1.0  # N x B; minus each sample's own term exp(0) = 1
        return torch.cat([flat, o], 1)


@register_trick("minibatch-discrimination")
@dataclass
class MinibatchDiscrimination(Trick):
    """Minibatch discrimination: D's last features gain, per kernel b, the closeness sum_j exp(-||M_ib - M_jb||_1)
    of each sample to the rest of its batch, so D can spot a batch without variety (Salimans et al. 2016)."""

    kernels: int = 50
    kernel_dim: int = 5
    order: ClassVar[int] = 25

    def check(self, spec, loss) -> None:
        require(self.kernels >= 1 and self.kernel_dim >= 1, "minibatch-discrimination: kernels and kernel_dim must be >= 1")

    def d_joint(self, joint: bool) -> bool:
        return False  # batch statistics must come from all-real or all-fake batches, as in the paper

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        n = math.prod(D.feature_shape)
        device = D.head.weight.device
        D.append_features(MinibatchDiscriminationLayer(n, self.kernels, self.kernel_dim).to(device), (n + self.kernels,))
        return G, D


class MinibatchStdDevLayer(nn.Module):
    """ProGAN's layer: the standard deviation of each feature over a group of samples, averaged to one number per
    group, appended as one more channel (or unit)."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, f: Tensor) -> Tensor:
        n = f.shape[0]
        g = self.group if n % self.group == 0 else n  # a batch the group does not divide uses one group
        y = f.reshape(g, n // g, *f.shape[1:])  # group members are n//g apart, as in ProGAN
        std = (y.var(0, unbiased=False) + 1e-8).sqrt()  # (n/g) x features
        spread = std.flatten(1).mean(1)  # one number per group
        spread = spread.repeat(g)  # back to every sample of its group
        extra = spread.view(n, 1, *([1] * (f.dim() - 2))).expand(n, 1, *f.shape[2:])
        return torch.cat([f, extra], 1)


@register_trick("minibatch-stddev")
@dataclass
class MinibatchStdDev(Trick):
    """Minibatch standard deviation: D's last feature map gains a channel holding the features' standard deviation
    over groups of `group` samples (Karras et al. 2018, ProGAN)."""

    group: int = 4
    order: ClassVar[int] = 25

    def check(self, spec, loss) -> None:
        require(self.group >= 2, "minibatch-stddev: group must be at least 2")

    def d_joint(self, joint: bool) -> bool:
        return False  # batch statistics must come from all-real or all-fake batches, as in the paper

    def wrap_models(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        D = needs_feature_d(self.name, D)
        c, *rest = D.feature_shape
        D.append_features(MinibatchStdDevLayer(self.group), (c + 1, *rest))
        return G, D


@register_trick("unrolled")
@dataclass
class Unrolled(Trick):
    """Unrolled GAN: G is updated against D after k look-ahead D updates, then D returns to its weights from before
    the look-ahead (Metz et al. 2017).

    second_order=False (default): the look-ahead runs k real D updates on fresh batches and G's gradient is taken at
    the unrolled D, not through its updates (the second-order term dropped, as in most reimplementations).
    second_order=True: the paper's surrogate loss f(theta_G, theta_D^k(theta_G, theta_D)): the k Adam updates of D
    are unrolled in the graph on G's batch (as in the authors' reference implementation) and G's gradient flows
    through them. The unroll uses the loss's D objective only, so it is refused beside tricks that change D's
    objective, labels or optimizer, and for a D with batch norm."""

    k: int = 5
    second_order: bool = False
    order: ClassVar[int] = 70
    late_params: ClassVar[dict] = {"second_order": False}  # added later: left out of run ids when at this default

    def check(self, spec, loss) -> None:
        require(self.k >= 1, "unrolled: k must be at least 1")
        if not self.second_order:
            return

        require(spec.optimizer == "adam", f"unrolled(second_order) differentiates through Adam updates of D; "
                                          f"the run's optimizer is {spec.optimizer!r}")
        hooks = ("d_penalty", "d_targets", "g_objective", "fake_labels", "configure_optim", "g_context")
        for t in spec.tricks:
            other = TRICKS.get(t.name)
            changed = [h for h in hooks if getattr(other, h) is not getattr(Trick, h)]
            require(t.name == self.name or not changed or changed == ["configure_optim"] and t.name == "ttur",
                    f"unrolled(second_order) unrolls the loss's own D objective with Adam; it cannot be combined "
                    f"with {t.name} (changes {', '.join(changed)})")

    def extra_cost(self) -> float:
        return float(self.k) * (3.0 if self.second_order else 1.0)

    @contextlib.contextmanager
    def g_context(self, D, opt_d, loss, d_update):
        if self.second_order:  # the unroll happens inside G's objective, which needs D's optimizer and loss
            require(not has_batch_norm(D), "unrolled(second_order) cannot unroll a D with batch norm")
            self._unroll = (opt_d, loss)
            try:
                yield
            finally:
                self._unroll = None
            return
        d_state = {k: v.detach().clone() for k, v in D.state_dict().items()}
        opt_state = copy.deepcopy(opt_d.state_dict())
        for _ in range(self.k):
            d_update()
        try:
            yield
        finally:
            D.load_state_dict(d_state)
            opt_d.load_state_dict(opt_state)

    def g_objective(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        if not self.second_order:
            return None
        opt_d, loss = self._unroll
        return unrolled_g_loss(D, opt_d, loss, real, fake, self.k)


def unrolled_g_loss(D: nn.Module, opt: torch.optim.Adam, loss, real: Tensor, fake: Tensor, k: int) -> Tensor:
    """G's loss at D's parameters after k differentiable Adam updates of D's loss on (real, fake), continuing from
    `opt`'s state (Metz et al. 2017, eq. 4-5). D's own parameters and the optimizer are left untouched; the result's
    gradient w.r.t. G includes the path through the updates (fake enters every one of them)."""
    trainable = {id(p): g for g in opt.param_groups for p in g["params"]}
    names = [n for n, p in D.named_parameters() if id(p) in trainable]
    originals = dict(D.named_parameters())
    theta = {n: originals[n].detach().requires_grad_() for n in names}
    moments = []
    for n in names:
        st, g = opt.state.get(originals[n], {}), trainable[id(originals[n])]
        if g.get("weight_decay") or g.get("amsgrad") or g.get("maximize"):
            raise ValueError("unrolled(second_order) unrolls plain Adam (no weight decay, amsgrad or maximize)")
        zeros = torch.zeros_like(originals[n])
        moments.append([st.get("exp_avg", zeros), st.get("exp_avg_sq", zeros), float(st.get("step", 0))])

    def d_out(params: dict, x: Tensor) -> Tensor:
        return functional_call(D, params, (x,))

    joint = torch.cat([real, fake])
    for _ in range(k):
        out = d_out(theta, joint)
        l_d = loss.d_loss(out[: len(real)], out[len(real):])
        grads = torch.autograd.grad(l_d, [theta[n] for n in names], create_graph=True)
        new = {}
        for n, g, mom in zip(names, grads, moments):
            group = trainable[id(originals[n])]
            (b1, b2), lr, eps = group["betas"], float(group["lr"]), group["eps"]
            m, v, t = b1 * mom[0] + (1 - b1) * g, b2 * mom[1] + (1 - b2) * g * g, mom[2] + 1
            mom[:] = [m, v, t]
            v_hat = (v / (1 - b2 ** t)).clamp_min(1e-30)  # clamp: no infinite sqrt slope where a gradient is exactly 0
            new[n] = theta[n] - lr * (m / (1 - b1 ** t)) / (v_hat.sqrt() + eps)
        theta = new
    d_fake = d_out(theta, fake)
    d_real = d_out(theta, real) if loss.g_needs_real else None
    return loss.g_loss(d_real, d_fake)
