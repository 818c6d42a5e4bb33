"""K networks of one architecture as one stacked network: their parameters and buffers stacked along a leading
seed axis, a batch of K batches in (K, N, ...) out, each network computing on its own slice only (batched matrix
products; batch norm with each network's own batch statistics and running averages). Gradients of a sum of the K
networks' losses are each network's own gradient, and an elementwise optimizer on the stacked tensors (Adam) is K
separate optimizers, so K small models train as one (ganbench.batched: `--batch-seeds`).

Only the layers of the 2-D MLP have a stacked form (Linear, BatchNorm1d, elementwise activations, Maxout,
Flatten/Unflatten, the plain Discriminator head); any other layer, a parametrization (spectral norm) or a hook is
refused with its reason (`Unstackable`), and the caller trains the networks one by one."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.models.base import Discriminator
from ganbench.models.mlp import Maxout

ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Identity)
Op = Callable[["StackedNet", Tensor], Tensor]


class Unstackable(ValueError):
    """The networks have a part without a stacked form (the message says which)."""


class StackedNet(nn.Module):
    """K networks of one architecture as one module: forward maps (K, N, ...) to (K, N, ...). Parameters and
    buffers are stacked in the networks' own named_parameters / named_buffers order (`names`, `buffer_names`)."""

    def __init__(self, nets: Sequence[nn.Module]):
        super().__init__()
        if not nets:
            raise Unstackable("no networks to stack")
        self.k = len(nets)
        first = nets[0]
        self.names = [n for n, _ in first.named_parameters()]
        self.buffer_names = [n for n, _ in first.named_buffers()]
        for net in nets[1:]:
            shapes = [(n, p.shape) for n, p in net.named_parameters()]
            if shapes != [(n, p.shape) for n, p in first.named_parameters()]:
                raise Unstackable("the networks' parameters differ in names or shapes")
        self.params = nn.ParameterList([nn.Parameter(torch.stack([dict(m.named_parameters())[n].detach()
                                                                  for m in nets]).clone()) for n in self.names])
        for i, n in enumerate(self.buffer_names):
            self.register_buffer(f"buffer{i}", torch.stack([dict(m.named_buffers())[n] for m in nets]).clone())
        self.ops: list[Op] = []
        self._used: set[str] = set()
        self._compile(first, "")
        unused = set(self.names) - self._used
        if unused:
            raise Unstackable(f"parameters {', '.join(sorted(unused))} belong to no layer with a stacked form")

    # ---- the networks' state, stacked and back

    def param(self, name: str) -> Tensor:
        return self.params[self.names.index(name)]

    def buffer(self, name: str) -> Tensor:
        return getattr(self, f"buffer{self.buffer_names.index(name)}")

    def stacked_buffers(self) -> list[Tensor]:
        return [getattr(self, f"buffer{i}") for i in range(len(self.buffer_names))]

    @torch.no_grad()
    def load_from(self, nets: Sequence[nn.Module]) -> None:
        """Copy each network's parameters and buffers into its slice."""
        for k, net in enumerate(nets):
            for stacked, (_, p) in zip(self.params, net.named_parameters()):
                stacked[k].copy_(p)
            for stacked, (_, b) in zip(self.stacked_buffers(), net.named_buffers()):
                stacked[k].copy_(b)

    @torch.no_grad()
    def copy_to(self, nets: Sequence[nn.Module]) -> None:
        """Copy each slice back into its network (which then holds exactly the stacked state)."""
        for k, net in enumerate(nets):
            for stacked, (_, p) in zip(self.params, net.named_parameters()):
                p.copy_(stacked[k])
            for stacked, (_, b) in zip(self.stacked_buffers(), net.named_buffers()):
                b.copy_(stacked[k])

    # ---- the stacked forward pass, compiled from the first network's layers

    def forward(self, x: Tensor) -> Tensor:
        for op in self.ops:
            x = op(self, x)
        return x

    def _compile(self, m: nn.Module, prefix: str) -> None:
        """Append the stacked form of layer `m` (named `prefix`) to self.ops."""
        if nn.utils.parametrize.is_parametrized(m) or m._forward_hooks or m._forward_pre_hooks:
            raise Unstackable(f"layer {prefix or type(m).__name__} is parametrized or hooked (spectral norm?)")
        if isinstance(m, nn.Sequential):
            for name, child in m.named_children():
                self._compile(child, f"{prefix}{name}.")
        elif isinstance(m, Discriminator):
            self._discriminator(m, prefix)
        elif isinstance(m, nn.Linear):
            self.ops.append(self._linear(prefix))
        elif isinstance(m, Maxout):
            linear, pieces = self._linear(f"{prefix}linear."), m.pieces
            self.ops.append(lambda net, x: linear(net, x).unflatten(-1, (-1, pieces)).amax(dim=-1))
        elif isinstance(m, nn.BatchNorm1d):
            self.ops.append(self._batch_norm(m, prefix))
        elif isinstance(m, ELEMENTWISE):
            self.ops.append(lambda net, x: m(x))
        elif isinstance(m, nn.Flatten) and m.start_dim == 1 and m.end_dim == -1:
            self.ops.append(lambda net, x: x.flatten(2))
        elif isinstance(m, nn.Unflatten) and m.dim == 1:
            sizes = tuple(m.unflattened_size)
            self.ops.append(lambda net, x: x.unflatten(2, sizes))
        else:
            raise Unstackable(f"layer {prefix.rstrip('.') or '?'} ({type(m).__name__}) has no stacked form")

    def _use(self, *names: str) -> None:
        self._used.update(names)

    def _linear(self, prefix: str) -> Op:
        """x (K, N, in) -> x W_k^T + b_k for each k: one batched matrix product."""
        w, b = self.names.index(f"{prefix}weight"), (self.names.index(f"{prefix}bias")
                                                       if f"{prefix}bias" in self.names else None)
        self._use(*(self.names[i] for i in (w, b) if i is not None))
        if b is None:
            return lambda net, x: torch.bmm(x, net.params[w].transpose(1, 2))
        return lambda net, x: torch.baddbmm(net.params[b].unsqueeze(1), x, net.params[w].transpose(1, 2))

    def _batch_norm(self, m: nn.BatchNorm1d, prefix: str) -> Op:
        """Batch norm of each network over its own batch: the K networks' features side by side as one batch norm
        of K x F features (the same statistics and running averages as each network's own BatchNorm1d)."""
        if not (m.affine and m.track_running_stats) or m.momentum is None:
            raise Unstackable(f"batch norm {prefix.rstrip('.')} without affine parameters, running statistics or "
                              "a momentum has no stacked form")
        w, b = self.names.index(f"{prefix}weight"), self.names.index(f"{prefix}bias")
        self._use(self.names[w], self.names[b])
        mean, var, count = (self.buffer_names.index(f"{prefix}{n}") for n in
                            ("running_mean", "running_var", "num_batches_tracked"))
        eps, momentum = m.eps, m.momentum

        def op(net: StackedNet, x: Tensor) -> Tensor:
            k, n, f = x.shape
            buffers = net.stacked_buffers()
            if net.training:
                buffers[count].add_(1)
            y = F.batch_norm(x.transpose(0, 1).reshape(n, k * f), buffers[mean].view(-1), buffers[var].view(-1),
                             net.params[w].view(-1), net.params[b].view(-1), net.training, momentum, eps)
            return y.view(n, k, f).transpose(0, 1)

        return op

    def _discriminator(self, m: Discriminator, prefix: str) -> None:
        if m.patch or len(m.extras) or any(p is not None for p in (m.label_input, m.projection, m.aux)):
            raise Unstackable("a discriminator with extra features, labels or a patch head has no stacked form")
        self._compile(m.body, f"{prefix}body.")
        head = self._linear(f"{prefix}head.")
        self.ops.append(lambda net, x: head(net, x.flatten(2)).squeeze(-1))


def stack(nets: Sequence[nn.Module]) -> StackedNet:
    """The networks as one StackedNet on their device (Unstackable when a part has no stacked form)."""
    return StackedNet(nets)


# ---- optimizers: an elementwise optimizer over the stacked parameters is one optimizer per network

STACKED_OPTIMIZERS = (torch.optim.Adam, torch.optim.RMSprop)  # elementwise; tested equal to K separate ones


def check_optimizer(opt: torch.optim.Optimizer) -> None:
    """Only plain Adam and RMSprop (elementwise; tested equal to K separate ones) train stacked networks."""
    if type(opt) not in STACKED_OPTIMIZERS:
        raise Unstackable(f"optimizer {type(opt).__name__} has no stacked form (Adam and RMSprop have)")
    if len(opt.param_groups) != 1 or any(opt.defaults.get(k) for k in ("amsgrad", "weight_decay", "differentiable")):
        raise Unstackable("only plain Adam and RMSprop (one parameter group, no amsgrad or weight decay) have a "
                          "stacked form")


def stacked_optimizer(opt: torch.optim.Optimizer, net: StackedNet) -> torch.optim.Optimizer:
    """An optimizer of `opt`'s kind and settings over the stacked network's parameters."""
    check_optimizer(opt)
    if len(_params(opt)) != len(net.names):
        raise Unstackable("the optimizer does not hold exactly the network's parameters")
    return type(opt)(net.params.parameters(), **opt.defaults)


def _params(opt: torch.optim.Optimizer) -> list[Tensor]:
    return [p for g in opt.param_groups for p in g["params"]]


def load_optimizer_state(stacked: torch.optim.Optimizer, opts: Sequence[torch.optim.Optimizer]) -> None:
    """The K optimizers' state (e.g. Adam's moments) stacked into `stacked`'s; their step counts must agree."""
    for i, p in enumerate(_params(stacked)):
        states = [o.state.get(_params(o)[i], {}) for o in opts]
        if not any(states):
            stacked.state.pop(p, None)
            continue
        merged = {}
        for key, value in states[0].items():
            if isinstance(value, Tensor) and value.shape == p.shape[1:]:
                merged[key] = torch.stack([s[key] for s in states]).to(p.device)
            else:
                if any(not torch.equal(torch.as_tensor(s[key]), torch.as_tensor(value)) for s in states):
                    raise Unstackable(f"the optimizers' {key} differ: the networks are not at the same step")
                merged[key] = value.clone() if isinstance(value, Tensor) else value
        stacked.state[p] = merged


def copy_optimizer_state(stacked: torch.optim.Optimizer, opts: Sequence[torch.optim.Optimizer]) -> None:
    """Each optimizer's state set to its slice of `stacked`'s (so that its state_dict is an ordinary one)."""
    for i, p in enumerate(_params(stacked)):
        state = stacked.state.get(p)
        for k, o in enumerate(opts):
            q = _params(o)[i]
            if not state:
                o.state.pop(q, None)
                continue
            o.state[q] = {key: (v[k].clone() if isinstance(v, Tensor) and v.shape == p.shape else
                                v.clone() if isinstance(v, Tensor) else v) for key, v in state.items()}
