"""The images `vaqf eval` scores a model on: scikit-learn's digits, an image folder, or files listed in a CSV.

`load_eval_data(spec, shape, labels, seed)` returns the evaluation images and
the images to calibrate a model's scales on (when it still has to be
quantized), both decoded and normalised exactly as `vaqf train` does
(`vaqf_compiler.quant.data`):

- `digits`: the held-out test split of `vaqf train` (same seeded 80/20 split,
  same normalisation), calibration on its training split. Needs a one-channel
  model with square input.
- `DIR` with class sub-folders (class index = position of the folder name in
  sorted order, as in training); if DIR holds `train/` and `val/` (or
  `test/`) class trees, ImageNet style, the evaluation set is `val/` and
  calibration uses `train/`; otherwise every image of DIR is evaluated and a
  seeded sample of them calibrates. RGB, resized, ImageNet mean/std.
- `DIR --labels FILE.csv`: rows `path,label` (path relative to DIR; label a
  class index or a class name; a header row is skipped). Class names are the
  folder names of DIR/train (or DIR) when it has class folders, else the
  sorted distinct names of the CSV.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.quant.data import FolderImages, Images, TensorImages, _class_tree, load_digits_data

DIGITS = "digits"
SAMPLE = "a seeded sample of the scored images"


def samples_of(root: Path) -> list[tuple[Path, int]]:
    return _class_tree(root)[1]


@dataclass
class EvalData:
    name: str  # what the summary shows: "digits test split", the folder, the CSV
    images: Images
    calibration: Images
    classes: list[str]
    calibration_name: str  # where the calibration images come from


def _square_size(shape: tuple[int, ...], what: str) -> int:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise VaqfError(f"{what} needs a model that takes square images [C, N, N]; this one takes {list(shape)}")
    return shape[1]


def _sample(images: Images, count: int, seed: int) -> Images:
    """A seeded sample of `count` images (all of them if fewer): the calibration set of a single folder."""
    if len(images) <= count:
        return images
    pick = sorted(torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:count].tolist())
    if isinstance(images, TensorImages):
        return TensorImages(*images.batch(pick))
    return FolderImages([images.samples[i] for i in pick], images.image_size)


def _digits(shape: tuple[int, ...], seed: int) -> EvalData:
    size = _square_size(shape, "--data digits")
    if shape[0] != 1:
        raise VaqfError(f"--data digits holds one-channel images; the model takes {shape[0]} channels "
                        f"({list(shape)}): give an image folder, or a model trained on digits (vaqf train)")
    splits = load_digits_data(size, seed)
    return EvalData(f"digits test split (seed {seed})", splits.test, splits.train, splits.classes, "its training split")


def _is_integer(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def _csv_samples(root: Path, labels: Path, classes: list[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    try:
        with open(labels, newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise VaqfError(f"cannot read --labels {labels}: {' '.join(str(e).split())}") from None
    for i, r in enumerate(rows):
        if len(r) < 2:
            raise VaqfError(f"--labels {labels}: row {i + 1} has {len(r)} column(s); expected path,label")
    if rows and not (root / rows[0][0].strip()).is_file():  # a header row
        rows = rows[1:]
    if not rows:
        raise VaqfError(f"--labels {labels} lists no images")
    names = [r[1].strip() for r in rows]
    if not classes and not all(_is_integer(n) for n in names):
        classes = sorted(set(names))
    index = {c: i for i, c in enumerate(classes)}
    samples = []
    for i, (r, name) in enumerate(zip(rows, names)):
        path = root / r[0].strip()
        if not path.is_file():
            raise VaqfError(f"--labels {labels}: row {i + 1}: image {path} not found")
        if name in index:
            label = index[name]
        elif _is_integer(name):
            label = int(name)
        else:
            raise VaqfError(f"--labels {labels}: row {i + 1}: unknown class {name!r}"
                            + (f" (the classes are the folders of {root})" if classes else ""))
        if label < 0:
            raise VaqfError(f"--labels {labels}: row {i + 1}: negative class index {label}")
        samples.append((path, label))
    if not classes:
        classes = [str(c) for c in range(max(label for _, label in samples) + 1)]
    return samples, classes


def _folder(root: Path, shape: tuple[int, ...], labels: Path | None, calibration: int, seed: int) -> EvalData:
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise VaqfError("reading an image folder needs Pillow: pip install 'vaqf[train]'") from None
    if not root.exists():
        raise VaqfError(f"data folder {root} not found")
    if not root.is_dir():
        raise VaqfError(f"--data {root} is not a folder (or give --data digits)")
    size = _square_size(shape, f"--data {root}")
    if shape[0] != 3:
        raise VaqfError(f"image folders are read as RGB; the model takes {shape[0]} channel(s) ({list(shape)})")
    test_dir = next((root / d for d in ("val", "test") if (root / d).is_dir()), None)
    imagenet = (root / "train").is_dir() and test_dir is not None
    classes, samples = _class_tree(root / "train" if imagenet else root)
    if labels is not None:
        samples, classes = _csv_samples(root, labels, classes)
        evaluated = FolderImages(samples, size)
        if imagenet:
            return EvalData(f"{root} ({labels.name})", evaluated, FolderImages(samples_of(root / "train"), size),
                            classes, "train/")
        return EvalData(f"{root} ({labels.name})", evaluated, _sample(evaluated, calibration, seed), classes,
                        SAMPLE)
    if not classes:
        raise VaqfError(f"data folder {root} has no class sub-folders: put the images of class c in {root}/c/, "
                        "or list them with --labels FILE.csv")
    if imagenet:
        assert test_dir is not None
        test_classes, test = _class_tree(test_dir)
        if test_classes != classes:
            raise VaqfError(f"data folder {root}: {test_dir.name}/ has other class folders than train/")
        evaluated, calib, name, source = FolderImages(test, size), FolderImages(samples, size), f"{test_dir}", "train/"
    else:
        evaluated = FolderImages(samples, size)
        calib, name, source = _sample(evaluated, calibration, seed), str(root), SAMPLE
    if len(evaluated) == 0:
        raise VaqfError(f"data folder {name} holds no images (JPEG, PNG, ... in its class folders)")
    return EvalData(name, evaluated, calib, classes, source)


def load_eval_data(spec: str, shape: tuple[int, ...], labels: Path | None = None, calibration: int = 16,
                   seed: int = 0) -> EvalData:
    """The evaluation and calibration images of `--data spec` for a model taking images of `shape`."""
    if spec == DIGITS:
        if labels is not None:
            raise VaqfError("--labels is for image folders; digits come with their labels")
        return _digits(shape, seed)
    return _folder(Path(spec), shape, labels, calibration, seed)


def stack(images: Images, count: int) -> torch.Tensor:
    """The first `count` images as one tensor [N, C, H, W] (calibration)."""
    n = min(count, len(images))
    if isinstance(images, TensorImages):
        return images.images[:n]
    return torch.stack([images[i][0] for i in range(n)])
