"""Datasets (one file each, registered by name), their splits and the replayed augmentation."""

# each registers itself, in the order the error messages list them
from . import fashion_mnist, cifar, imagefolder, synthetic  # noqa: F401, I001  # isort: skip
from .augment import AugmentParams, apply_augment, augment_params
from .datasets import Dataset, Split, default_cache_dir, load_dataset, split_indices
from .fashion_mnist import DEBIAN_FASHION_MNIST
from .sources import DataConfig, available_datasets, register_dataset

__all__ = ["AugmentParams", "DEBIAN_FASHION_MNIST", "DataConfig", "Dataset", "Split",
           "apply_augment", "augment_params", "available_datasets", "default_cache_dir",
           "load_dataset", "register_dataset", "split_indices"]
