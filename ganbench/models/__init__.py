"""Architectures: registered builders of a (generator, discriminator) pair."""
from ganbench.models.base import ARCHS, arch_defaults, build_models

__all__ = ["ARCHS", "arch_defaults", "build_models"]
