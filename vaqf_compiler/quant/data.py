"""Training data: scikit-learn's digits (default) or a local image folder, and per-rank sharding.

Digits (`load_digits_data`): the 1,797 8x8 grey images of `sklearn.datasets`
(shipped with scikit-learn, nothing downloaded), scaled to [0, 1], upsampled
bilinearly to `image_size`, normalised to mean 0 / std 1 with the training
split's statistics, one channel. Train/test split: a fixed seeded permutation,
20 % test.

Image folder (`load_image_folder`): one sub-folder per class (sorted names are
the class indices), images decoded with Pillow, converted to RGB, resized
bilinearly to `image_size`, normalised with the ImageNet mean/std. If the
folder holds `train/` and `val/` (or `test/`) class trees, ImageNet-style,
those are the splits; otherwise one class tree is split 80/20 by a seeded
permutation. Images are decoded lazily, batch by batch (DataLoader workers).

Sharding (`shard_indices`): like torch's DistributedSampler. Each epoch the
training indices are permuted with a generator seeded by (seed, epoch),
padded by repeating the first ones to a multiple of the world size, and rank
r takes every world-th index from r. Test sets are split without padding
(rank r takes r, r + world, ...) so all-reduced counts are exact.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vaqf_compiler.errors import VaqfError

TEST_FRACTION = 0.2
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class TensorImages:
    """Images held in memory: `images` [N, C, H, W] float32, `labels` [N] int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.images[idx], self.labels[idx]


class FolderImages(torch.utils.data.Dataset):
    """(path, label) pairs decoded with Pillow on access."""

    def __init__(self, samples: list[tuple[Path, int]], image_size: int):
        self.samples = samples
        self.image_size = image_size
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.samples[i]
        try:
            with Image.open(path) as im:
                im = im.convert("RGB").resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
                a = np.asarray(im, dtype=np.float32) / 255.0
        except (OSError, ValueError) as e:
            raise VaqfError(f"cannot decode image {path}: {' '.join(str(e).split())}") from None
        x = torch.from_numpy(a.copy()).permute(2, 0, 1)
        return (x - self.mean) / self.std, label


Images = TensorImages | FolderImages


@dataclass
class DataSplits:
    """The training and test sets of one data set."""

    name: str  # "digits" or the folder's path: recorded in checkpoints
    train: Images
    test: Images
    classes: list[str]
    channels: int
    image_size: int

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _split(n: int, seed: int) -> tuple[list[int], list[int]]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(1, round(n * TEST_FRACTION)) if n > 1 else 0
    return sorted(perm[n_test:]), sorted(perm[:n_test])


def load_digits_data(image_size: int = 32, seed: int = 0) -> DataSplits:
    """scikit-learn's digits, upsampled to `image_size`, one channel, seeded 80/20 split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise VaqfError("the default digits data set needs scikit-learn: pip install 'vaqf[train]'") from None
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    y = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = _split(len(y), seed)
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / std
    return DataSplits(
        name="digits",
        train=TensorImages(x[train_idx], y[train_idx]),
        test=TensorImages(x[test_idx], y[test_idx]),
        classes=[str(c) for c in digits.target_names],
        channels=1,
        image_size=image_size,
    )


def _class_tree(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    samples = []
    for label, name in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(root / name, followlinks=True):
            dirnames.sort()
            for f in sorted(filenames):
                if f.lower().endswith(IMAGE_EXTENSIONS):
                    samples.append((Path(dirpath) / f, label))
    return classes, samples


def load_image_folder(root: Path, image_size: int, seed: int = 0) -> DataSplits:
    """A folder of class sub-folders (or `train/` + `val/`|`test/` class trees), RGB at `image_size`."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise VaqfError("reading an image folder needs Pillow: pip install 'vaqf[train]'") from None
    root = Path(root)
    if not root.exists():
        raise VaqfError(f"data folder {root} not found")
    if not root.is_dir():
        raise VaqfError(f"--data {root} is not a folder")
    test_dir = next((root / d for d in ("val", "test") if (root / d).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        classes, train = _class_tree(root / "train")
        test_classes, test = _class_tree(test_dir)
        if test_classes != classes:
            raise VaqfError(f"data folder {root}: {test_dir.name}/ has other class folders than train/")
    else:
        classes, samples = _class_tree(root)
        if len(samples) >= 2:
            train_idx, test_idx = _split(len(samples), seed)
            train, test = [samples[i] for i in train_idx], [samples[i] for i in test_idx]
        else:
            train, test = samples, []
    if not classes:
        raise VaqfError(f"data folder {root} is empty: expected one sub-folder of images per class")
    if not train or not test:
        raise VaqfError(f"data folder {root} has too few images ({len(train) + len(test)}); need a training and a test set")
    return DataSplits(
        name=str(root.resolve()),
        train=FolderImages(train, image_size),
        test=FolderImages(test, image_size),
        classes=classes,
        channels=3,
        image_size=image_size,
    )


def shard_indices(n: int, rank: int, world: int, *, shuffle: bool, seed: int = 0, epoch: int = 0) -> list[int]:
    """Rank `rank`'s share of 0..n-1 (see the module docstring)."""
    if not shuffle:
        return list(range(rank, n, world))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
    total = -(-n // world) * world
    perm = (perm * (total // n + 1))[:total]
    return perm[rank:total:world]


def batches(
    data: Images, indices: list[int], batch_size: int, workers: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) batches of `data` in the order of `indices`; the last one may be short."""
    chunks = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    if isinstance(data, TensorImages):
        for chunk in chunks:
            yield data.batch(chunk)
        return
    loader = torch.utils.data.DataLoader(data, batch_sampler=chunks, num_workers=workers)
    try:
        yield from loader
    except VaqfError as e:
        # A worker's error comes back with its traceback in the message; keep the last line.
        last = str(e).strip().splitlines()[-1]
        raise VaqfError(last.removeprefix(f"{VaqfError.__module__}.{VaqfError.__name__}: ")) from None
