"""Tricks: training techniques that override only the hooks of the training step they need."""
from ganbench.tricks.base import TRICKS, Trick, TrickStack

__all__ = ["TRICKS", "Trick", "TrickStack"]
