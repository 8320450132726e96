"""Score a model on a data set in several modes at once: top-1, top-5, agreement with float, images/s.

`evaluate(references, data, indices, batch)` decodes each batch once and runs
it through every mode's `BatchedReference` (float, fake-quant, int), timing
each mode's work on its own. Under torchrun each process scores its share of
the images (`quant.data.shard_indices`, no padding) and the counts are summed
over processes (`quant.distributed.all_reduce_sum`), as `vaqf train` evaluates.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp.batched import BatchedReference
from vaqf_compiler.progress import Progress
from vaqf_compiler.quant.data import Images, batches
from vaqf_compiler.quant.distributed import DistEnv, all_reduce_sum

TOP_K = 5
REFERENCE_MODE = "float"  # agreement is measured against this mode's top-1


@dataclass
class ModeResult:
    mode: str
    top1: float  # fraction of images
    top5: float  # top-min(5, classes)
    agreement: float | None  # top-1 equal to float's; None without a float run
    images_per_s: float
    seconds: float  # summed over processes


@dataclass
class Evaluation:
    images: int
    k: int  # the "top-5" k (fewer with fewer classes)
    results: list[ModeResult]


def evaluate(references: Mapping[str, BatchedReference], data: Images, indices: list[int], batch: int,
             env: DistEnv, progress: Progress | None = None, total: int | None = None) -> Evaluation:
    """Score this process's `indices` of `data` in every mode; counts summed over processes."""
    modes = list(references)
    correct1, correct5, agree = (dict.fromkeys(modes, 0) for _ in range(3))
    seconds = dict.fromkeys(modes, 0.0)
    seen, k = 0, TOP_K
    total = len(indices) if total is None else total
    if progress is not None:
        progress.bar(0, total)
    for images, labels in batches(data, indices, batch):
        labels = labels.numpy()
        top1: dict[str, np.ndarray] = {}
        for mode in modes:
            start = time.perf_counter()
            logits = references[mode].run(images)
            seconds[mode] += time.perf_counter() - start
            if logits.ndim != 2:
                raise VaqfError(f"the model returns {list(logits.shape[1:])} per image; vaqf eval scores class "
                                "logits [classes]")
            if labels.max(initial=0) >= logits.shape[1]:
                raise VaqfError(f"class index {int(labels.max())} in the data, but the model has "
                                f"{logits.shape[1]} outputs")
            k = min(TOP_K, logits.shape[1])
            ranked = np.argsort(-logits, axis=1, kind="stable")[:, :k]
            top1[mode] = ranked[:, 0]
            correct1[mode] += int((ranked[:, 0] == labels).sum())
            correct5[mode] += int((ranked == labels[:, None]).any(axis=1).sum())
        for mode in modes:
            if REFERENCE_MODE in top1:
                agree[mode] += int((top1[mode] == top1[REFERENCE_MODE]).sum())
        seen += len(labels)
        if progress is not None:
            progress.bar(min(seen * env.world, total), total, "images")
    flat = [float(seen)] + [float(d[m]) for d in (correct1, correct5, agree, seconds) for m in modes]
    summed = all_reduce_sum(env, flat)
    n, rest = summed[0], summed[1:]
    c1, c5, ag, secs = (dict(zip(modes, rest[i * len(modes):(i + 1) * len(modes)])) for i in range(4))
    results = []
    for mode in modes:
        rate = n / secs[mode] * env.world if secs[mode] > 0 else float("inf")  # the processes run side by side
        results.append(ModeResult(mode, c1[mode] / max(n, 1), c5[mode] / max(n, 1),
                                  ag[mode] / max(n, 1) if REFERENCE_MODE in modes else None, rate, secs[mode]))
    return Evaluation(int(n), k, results)
