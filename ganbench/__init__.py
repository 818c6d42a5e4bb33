"""ganbench: a benchmark suite for GAN training choices."""

__version__ = "0.1.0"
