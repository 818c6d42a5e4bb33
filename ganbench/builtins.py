"""Every built-in registry entry: importing this module imports the modules that register them, in this order (data
sets, architectures, losses, tricks, presets, metrics). Explicit imports, not a list of module names: a module that
is renamed or removed fails here, at import, not at the first lookup of one of its names."""
from ganbench.data import toy2d, digits, vision, folders  # noqa: F401
from ganbench.models import mlp, dcgan, resnet, sndcgan, infogan  # noqa: F401
from ganbench import losses  # noqa: F401
from ganbench.tricks import (penalties, normalization, schedule, labels, inputs, init, latent,  # noqa: F401
                             conditioning, averaging, collapse, augment, arch)
from ganbench import presets  # noqa: F401
from ganbench.metrics import points, images, memorization, ndb, protocols  # noqa: F401
