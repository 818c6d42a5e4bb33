"""The environment variables ganbench reads (the command line's data options set them, so workers inherit them)."""

DATA_ENV = "GANBENCH_DATA"  # the data root (--data-root)
DOWNLOAD_ENV = "GANBENCH_DOWNLOAD"  # "0": never download data or weights (--no-download; tests, offline clusters)
FEATURES_ENV = "GANBENCH_FEATURES"  # score paper-scale image sets in this extractor's space (--feature-extractor)
INCEPTION_WEIGHTS_ENV = "GANBENCH_INCEPTION_WEIGHTS"  # a local Inception-v3 weights file (--feature-weights)
VGG16_WEIGHTS_ENV = "GANBENCH_VGG16_WEIGHTS"  # a local VGG16 weights file (precision/recall)
