"""Shared by the trick tests in this folder: small run specs (2-D ring and 8x8 digits), optimizer step counting, and
the tricks that each ganbench/tricks/<family>.py module registers (each test_tricks_<family>.py tests those)."""
from ganbench.spec import build_spec
from ganbench.tricks import TRICKS


def spec_with(tricks, loss="ns", **kw):
    fields = {"dataset": "ring8", "loss": loss, "tricks": tricks, "batch_size": 16,
              "arch_options": {"g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 2, "d_act": "lrelu"}}
    return build_spec({**fields, **kw})


def digits_spec(tricks, loss="ns", **kw):
    fields = {"dataset": "digits", "loss": loss, "tricks": tricks, "batch_size": 16, "z_dim": 8,
              "arch_options": {"width": 8}}
    return build_spec({**fields, **kw})


def count_steps(s):
    counts = {"d": 0, "g": 0}
    s.opt_d.register_step_post_hook(lambda *a: counts.__setitem__("d", counts["d"] + 1))
    s.opt_g.register_step_post_hook(lambda *a: counts.__setitem__("g", counts["g"] + 1))
    return counts


def family_of(name: str) -> str:
    """The ganbench.tricks module that registers trick `name`, without its package: "penalties" for gp."""
    return TRICKS.get(name).__module__.removeprefix("ganbench.tricks.")


def family_names(family: str) -> list[str]:
    """The registered tricks of one family (module), in the registry's order."""
    return [n for n in TRICKS.names() if family_of(n) == family]
