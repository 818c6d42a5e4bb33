"""Feature extractors registered in torch-fidelity's registry, so its metrics and command line can use them."""
from __future__ import annotations

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from ganbench.metrics.classifier import DigitNet, dequantize, load_classifier
from ganbench.store import load_torch


class _DigitsBase(FeatureExtractorBase):
    """Shared loading: weights from `feature_extractor_weights_path`, else ganbench's cached classifier."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path:
            self.net = DigitNet()
            self.net.load_state_dict(load_torch(feature_extractor_weights_path))
        else:
            self.net, _ = load_classifier()
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


EXTRACTORS = {"ganbench-digits": DigitsExtractor, "ganbench-stacked-digits": StackedDigitsExtractor}
for _name, _cls in EXTRACTORS.items():
    if _name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(_name, _cls)
