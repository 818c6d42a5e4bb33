"""ganbench's own feature extractors (classifiers it trains), registered in torch-fidelity's registry so that its
metrics and command line can use them; and the weights of torch-fidelity's downloaded extractors (Inception-v3,
VGG16): where they are, what to do offline, and the hash every metric value records."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from torch_fidelity.utils import create_feature_extractor  # noqa: F401 - ganbench.metrics.features builds through here

from ganbench.env import INCEPTION_WEIGHTS_ENV, VGG16_WEIGHTS_ENV
from ganbench.errors import MetricError
from ganbench.metrics import labels, mnist, pinned
from ganbench.metrics.classifier import DigitNet, dequantize, load_classifier
from ganbench.files import load_torch
from ganbench.data.files import DOWNLOAD_ENV, downloads_allowed


class _DigitsBase(FeatureExtractorBase):
    """Shared loading: weights from `feature_extractor_weights_path`, else ganbench's cached classifier (`load`,
    which also gives its metadata: held-out accuracy, weights hash)."""

    net_class = DigitNet
    load = staticmethod(load_classifier)

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path:
            self.net = self.net_class()
            self.net.load_state_dict(load_torch(feature_extractor_weights_path))
        else:
            self.net, _ = self.load()
        self.net.eval().requires_grad_(False)

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

    def _select(self, feats: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = {"features": feats, "logits": logits}
        return tuple(out[f] for f in self.features_list)


class DigitsExtractor(_DigitsBase):
    """Digit classifier features (128-d) and logits (10) of grayscale 8x8 images given as uint8 3x8x8."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats, logits = self.net(dequantize(x[:, :1]))
        return self._select(feats, logits)


class StackedDigitsExtractor(_DigitsBase):
    """Per-channel digit features (3x128-d, concatenated) and joint log-probabilities of the 1,000 digit triples."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = x.shape[0]
        feats, logits = self.net(dequantize(x.reshape(n * 3, 1, 8, 8)))
        logp = logits.log_softmax(dim=1).view(n, 3, 10)
        joint = logp[:, 0, :, None, None] + logp[:, 1, None, :, None] + logp[:, 2, None, None, :]
        return self._select(feats.view(n, -1), joint.reshape(n, 1000))


class MnistExtractor(_DigitsBase):
    """MNIST classifier features (128-d) and logits (10) of images of any size and channels (averaged to grey;
    32 x 32 cropped to the centre 28 x 28, other sizes resized)."""

    net_class = mnist.MnistNet
    load = staticmethod(mnist.load_classifier)

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 28, 28, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats, logits = self.net(mnist.to_input(x))
        return self._select(feats, logits)


class StackedMnistExtractor(MnistExtractor):
    """Per-channel MNIST features (3x128-d, concatenated) and joint log-probabilities of the 1,000 digit triples of
    Stacked MNIST (each channel classified on its own, as PacGAN and VEEGAN count modes)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n, c = x.shape[:2]
        feats, logits = self.net(mnist.to_input(x.reshape(n * c, 1, *x.shape[2:])))
        logp = logits.log_softmax(dim=1).view(n, 3, 10)
        joint = logp[:, 0, :, None, None] + logp[:, 1, None, :, None] + logp[:, 2, None, None, :]
        return self._select(feats.view(n, -1), joint.reshape(n, 1000))


class ClassifierExtractor(_DigitsBase):
    """A labelled set's trained mode counter (ganbench.metrics.labels): its 128-d features and class logits of
    images of any size (resized to 32 x 32; grey and RGB matched to the set). Subclassed per data set by
    `registered`."""

    dataset = ""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        FeatureExtractorBase.__init__(self, name, features_list)
        self.net, _ = labels.load_classifier(self.dataset)
        self.channels = labels.shape_of(self.net.state_dict())[0]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats, logits = self.net(labels.to_input(x, self.channels))
        return self._select(feats, logits)


EXTRACTORS = {"ganbench-digits": DigitsExtractor, "ganbench-stacked-digits": StackedDigitsExtractor,
              "ganbench-mnist": MnistExtractor, "ganbench-stacked-mnist": StackedMnistExtractor}
OWN_META = {name: cls.load for name, cls in EXTRACTORS.items()}  # the trained classifier behind each
for _name, _cls in EXTRACTORS.items():
    if _name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(_name, _cls)


# torch-fidelity extractors with downloaded weights: the variable that names a local copy, and the download address
# (the file name under $TORCH_HOME/hub/checkpoints/ is the address's last part, as torch.hub caches it).
DOWNLOADED = {
    "inception-v3-compat": (INCEPTION_WEIGHTS_ENV,
                            "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                            "weights-inception-2015-12-05-6726825d.pth"),
    "vgg16": (VGG16_WEIGHTS_ENV, "https://download.pytorch.org/models/vgg16-397923af.pth"),
}


def registered(name: str) -> type | None:
    """The registered extractor class `name`; a labelled set's trained classifier (ganbench-classifier:<set>) is
    registered on first use, in whichever process needs it."""
    dataset = labels.dataset_of(name)
    if dataset is not None and name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, type("ClassifierExtractor", (ClassifierExtractor,), {"dataset": dataset}))
    return FEATURE_EXTRACTORS_REGISTRY.get(name)


def is_own(name: str) -> bool:
    """Whether `name` is one of ganbench's own (trained) extractors."""
    return name in OWN_META or labels.dataset_of(name) is not None


def meta(name: str) -> dict:
    """What a ganbench-trained extractor records about itself (held-out accuracy, weights hash); {} otherwise."""
    dataset = labels.dataset_of(name)
    if dataset is not None:
        return labels.load_classifier(dataset)[1]
    return OWN_META[name]()[1] if name in OWN_META else {}


@functools.lru_cache(maxsize=8)
def _checked(path: str) -> str:
    """sha256 of a weights file after checking that it loads as plain tensors (torch.load(weights_only=True)):
    torch-fidelity itself unpickles it without that restriction."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise MetricError(f"feature-extractor weights {path} do not load as a plain state dict "
                          f"(torch.load(weights_only=True): {type(e).__name__}); give a .pth state dict") from None
    return pinned.sha256_of(Path(path))


def weights_file(name: str) -> Path | None:
    """The local weights file of a downloaded extractor (None for ganbench's own): the path in its variable, else
    torch.hub's cached copy, downloaded there first when downloads are allowed. Offline without a copy: a
    MetricError that says what to download and where to put it."""

    if name not in DOWNLOADED:
        return None
    env, url = DOWNLOADED[name]
    given = os.environ.get(env)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise MetricError(f"${env}={given} is not a file; point it at the {name} weights ({url})")
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[1]
    if path.is_file():
        return path
    flag = " / --feature-weights" if env == INCEPTION_WEIGHTS_ENV else ""
    what = (f"the {name} weights are not on this machine: download {url} and place it at {path} "
            f"(or anywhere, and set ${env}{flag} to its path)")
    if not downloads_allowed():
        raise MetricError(f"{what}; downloads are off (${DOWNLOAD_ENV}=0)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), progress=False)
    except Exception as e:
        reason = " ".join(str(e).split())[:120]
        raise MetricError(f"{what}; the download failed: {reason}") from None
    return path


def weights_digest(name: str) -> str:
    """sha256 of the weights an extractor computes with: the feature space a metric value belongs to."""
    if is_own(name):
        return meta(name)["sha256"]
    path = weights_file(name)
    return _checked(str(path)) if path is not None else "unversioned"


def tag(name: str) -> str:
    """Extractor name with a short hash of its weights, e.g. inception-v3-compat@6726825d..."""
    return f"{name}@{weights_digest(name)[:8]}"
