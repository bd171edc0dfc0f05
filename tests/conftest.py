import pytest
import torch

from sparsearch.config import DataConfig
from sparsearch.data import load_dataset


@pytest.fixture(scope="session")
def synthetic():
    """The seeded Gaussian-cluster dataset: small, fast, learnable."""
    return load_dataset(DataConfig(name="synthetic", samples=400))


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
