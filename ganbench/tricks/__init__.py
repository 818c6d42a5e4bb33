"""Tricks: training techniques that override only the hooks of the training step they need."""
from ganbench.tricks.base import TRICKS, DBatch, Trick, TrickStack, register_trick

__all__ = ["TRICKS", "DBatch", "Trick", "TrickStack", "register_trick"]
