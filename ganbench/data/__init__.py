"""Data sets: registered factories that return an in-memory `Dataset`."""
from ganbench.data.base import DATASETS, Dataset, get_dataset

__all__ = ["DATASETS", "Dataset", "get_dataset"]
