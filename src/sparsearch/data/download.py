"""The optional download of file datasets, through torchvision (imported only here, only when needed)."""

from __future__ import annotations

from pathlib import Path

from ..errors import SparsearchError
from ..extras import install_hint

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"


def fetch_mnist_family(root: Path, dataset: str) -> None:
    """Download torchvision's `MNIST` or `FashionMNIST` into `<root>/<dataset>/raw` (IDX files)."""
    datasets = _torchvision_datasets()
    _run(lambda: getattr(datasets, dataset)(str(root), train=True, download=True), dataset)


def fetch_cifar10(root: Path) -> None:
    """Download and unpack the CIFAR-10 binary release into `<root>/cifar-10-batches-bin`."""
    utils = _torchvision_datasets().utils
    _run(lambda: utils.download_and_extract_archive(CIFAR10_URL, str(root), md5=CIFAR10_MD5), "CIFAR-10")


def _torchvision_datasets():
    try:
        import torchvision.datasets
        import torchvision.datasets.utils
    except ImportError:
        raise SparsearchError(
            f"data.download needs torchvision: {install_hint('torchvision')} "
            "(or put the files under data.root yourself)"
        ) from None
    return torchvision.datasets


def _run(download, title: str) -> None:
    try:
        download()
    except (OSError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SparsearchError(
            f"data.download: could not download {title} ({reason}); check the network or put the files under data.root"
        ) from None
