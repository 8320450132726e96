"""The three-stage training recipe of the VAQF paper (Section IV-B).

1. FP:     full-precision DeiT trained from scratch.
2. W1A32:  progressive binary fine-tuning from FP: binary encoder weights,
           the binarized fraction p growing linearly from 0 to 1 over the
           stage's optimizer steps (see `progressive`), float activations.
3. W1Ak:   activation fine-tuning from W1A32, separately for each requested
           precision k: binary weights, k-bit activations (see `qmodel`);
           step sizes initialised on the stage's first batch.

The mixed scheme (ours, after Auto-ViT-Acc; `scheme` "mixed", or "both" for
the two schemes from one FP stage) replaces stages 2 and 3, once per PoT
ratio r, with the same epochs and learning rates:

2'. WbA32 (mixed, r): b-bit mixed fixed-point/PoT encoder weights
           (`mixed_linear`), float activations, fine-tuned from FP directly.
           No progressive schedule: progressive binarization exists because
           1-bit weights are far from the real ones (a sudden switch loses
           most of the accuracy); b-bit weights (b >= 2; 4 by default, 15
           levels fixed or 7 octaves PoT per row, scaled by the row's max)
           stay close to them, so plain quantization-aware training with the
           straight-through estimator starts near the FP accuracy.
3'. WbAk (mixed, r): activation fine-tuning from WbA32 as stage 3.

Stages are seeded by their place in their branch (FP 0, weights 1, the i-th
activation precision 2 + i), so the mixed stages see the data in the same
order as the VAQF ones, and `both` trains exactly what `vaqf` and `mixed`
train separately.

Every stage: AdamW (weight decay on matrices only), cosine learning rate with
a linear warm-up over the first `WARMUP_FRACTION` of the steps, cross
entropy. Everything random is seeded from `RecipeConfig.seed` (weights, data
order per stage and epoch, progressive rankings), so a run is deterministic
on the CPU for a given seed and number of processes, and resuming at an
epoch boundary continues exactly. Each stage ends with the top-1 accuracy on
the test split and a checkpoint (`checkpoint`); `partial.pt` keeps the
unfinished stage after every epoch for `resume`.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.models.deit import BUILTIN_CONFIGS, DeiT, DeiTConfig
from vaqf_compiler.quant import checkpoint as ckpt_io
from vaqf_compiler.quant.data import DataSplits, batches, load_digits_data, load_image_folder, shard_indices
from vaqf_compiler.quant.distributed import DistEnv, all_reduce_sum, barrier, broadcast_object
from vaqf_compiler.quant.progress import Progress
from vaqf_compiler.quant.progressive import schedule_fraction, set_binary_fraction
from vaqf_compiler import mixed
from vaqf_compiler.quant.qmodel import RANKING_SEED, QuantDeiT, config_dict, quant_spec, quantize_deit
from vaqf_compiler.quant.quantizers import ActQuant, check_bits

# The default model: a small DeiT for the 32x32 upsampled digits (16 patches of 8x8).
DIGITS_MODEL = "deit-digits"
DIGITS_CONFIG = DeiTConfig(
    image_size=(32, 32), patch_size=8, in_channels=1, dim=64, depth=4, heads=4, mlp_ratio=4.0, num_classes=10
)
MODELS: dict[str, DeiTConfig] = {DIGITS_MODEL: DIGITS_CONFIG, **BUILTIN_CONFIGS}

# Learning rate of the fine-tuning stages relative to --lr (the FP stage's).
BINARY_LR_FACTOR = 1.0
ACT_LR_FACTOR = 0.25
WARMUP_FRACTION = 0.05
WEIGHT_DECAY = 0.05
GRAD_CLIP = 5.0

# --scheme: the weight schemes a run trains after the shared FP stage.
RECIPE_SCHEMES = ("vaqf", "mixed", "both")


@dataclass(frozen=True)
class RecipeConfig:
    model: str = DIGITS_MODEL
    data: Path | None = None  # None: scikit-learn digits
    image_size: int | None = None  # None: 32 for digits with deit-digits, else the model's
    batch_size: int = 64  # per process
    epochs_fp: int = 30
    epochs_binary: int = 20
    epochs_act: int = 5
    abits: tuple[int, ...] = (8, 6, 4)
    scheme: str = "vaqf"  # vaqf | mixed | both
    wbits: int = 4  # mixed scheme
    pot_ratios: tuple[float, ...] = (0.5,)  # mixed scheme: one branch per ratio
    lr: float = 2e-3
    seed: int = 0
    workers: int = 0
    out: Path = Path("out/train")
    resume: bool = False


@dataclass(frozen=True)
class Stage:
    name: str  # fp, w1a32, w1a8, w4a8-mixed-r0.5: the checkpoint's name
    label: str  # FP, W1A32, W1A8, W4A8: the table's
    wbits: int
    abits: int | None
    epochs: int
    lr: float
    index: int  # position in its branch (FP 0, weights 1, activations 2 + i): seeds the data order
    scheme: str = "vaqf"  # float (FP) | vaqf | mixed
    pot_ratio: float | None = None
    parent: str | None = None  # the stage whose weights it starts from

    @property
    def title(self) -> str:
        """The label, with the PoT ratio for mixed stages (W4A8 r=0.5): for the log."""
        return self.label if self.pot_ratio is None else f"{self.label} r={ratio_text(self.pot_ratio)}"


@dataclass
class StageResult:
    stage: str
    label: str
    wbits: int
    abits: int | None
    top1: float
    wall_s: float
    epochs: int
    resumed: bool
    checkpoint: str
    scheme: str = "vaqf"
    pot_ratio: float | None = None


@dataclass
class RecipeResult:
    scheme: str
    model: str
    model_config: dict
    data: str
    train_images: int
    test_images: int
    world_size: int
    stages: list[StageResult] = field(default_factory=list)
    wall_s: float = 0.0


def parse_abits(text: str) -> tuple[int, ...]:
    """'8,6,4' -> (8, 6, 4); VaqfError for anything not an integer in 1..16."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            bits = int(part)
        except ValueError:
            raise VaqfError(f"--abits: {part!r} is not an integer (give e.g. 8,6,4)") from None
        try:
            check_bits(bits)
        except ValueError:
            raise VaqfError(f"--abits: {bits} is outside 1..16") from None
        if bits not in out:
            out.append(bits)
    return tuple(out)


def parse_ratios(text: str) -> tuple[float, ...]:
    """'0.25,0.5' -> (0.25, 0.5); VaqfError for anything not a number in [0, 1]."""
    out: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            ratio = float(part)
        except ValueError:
            raise VaqfError(f"--pot-ratio: {part!r} is not a number (give e.g. 0.25,0.5)") from None
        if not 0.0 <= ratio <= 1.0:
            raise VaqfError(f"--pot-ratio: {part} is outside [0, 1]")
        if ratio not in out:
            out.append(ratio)
    return tuple(out)


def ratio_text(ratio: float) -> str:
    return f"{ratio:g}"


def stages_of(cfg: RecipeConfig) -> list[Stage]:
    stages = [Stage("fp", "FP", 32, None, cfg.epochs_fp, cfg.lr, 0, scheme="float")]
    if cfg.scheme in ("vaqf", "both"):
        stages.append(Stage("w1a32", "W1A32", 1, None, cfg.epochs_binary, cfg.lr * BINARY_LR_FACTOR, 1, parent="fp"))
        for i, k in enumerate(cfg.abits):
            stages.append(
                Stage(f"w1a{k}", f"W1A{k}", 1, k, cfg.epochs_act, cfg.lr * ACT_LR_FACTOR, 2 + i, parent="w1a32")
            )
    if cfg.scheme in ("mixed", "both"):
        b = cfg.wbits
        for r in cfg.pot_ratios:
            tag = f"mixed-r{ratio_text(r)}"
            weights = Stage(f"w{b}a32-{tag}", f"W{b}A32", b, None, cfg.epochs_binary, cfg.lr * BINARY_LR_FACTOR, 1,
                            scheme="mixed", pot_ratio=r, parent="fp")
            stages.append(weights)
            for i, k in enumerate(cfg.abits):
                stages.append(Stage(f"w{b}a{k}-{tag}", f"W{b}A{k}", b, k, cfg.epochs_act, cfg.lr * ACT_LR_FACTOR,
                                    2 + i, scheme="mixed", pot_ratio=r, parent=weights.name))
    return stages


def load_data(cfg: RecipeConfig) -> DataSplits:
    base = MODELS[cfg.model]
    if cfg.data is None:
        size = cfg.image_size or (DIGITS_CONFIG.image_size[0] if cfg.model == DIGITS_MODEL else base.image_size[0])
        return load_digits_data(size, seed=cfg.seed)
    return load_image_folder(cfg.data, cfg.image_size or base.image_size[0], seed=cfg.seed)


def model_config(cfg: RecipeConfig, data: DataSplits) -> DeiTConfig:
    if cfg.model not in MODELS:
        raise VaqfError(f"unknown model {cfg.model!r}; choose one of: {', '.join(MODELS)}")
    base = MODELS[cfg.model]
    size = data.image_size
    if size <= 0 or size % base.patch_size:
        raise VaqfError(f"image size {size} is not a positive multiple of {cfg.model}'s patch size {base.patch_size}")
    return replace(
        base,
        image_size=(size, size),
        in_channels=data.channels,
        num_classes=data.num_classes,
        fused_attention=False,
    )


def init_fp_model(cfg: DeiTConfig, seed: int) -> DeiT:
    """A DeiT initialised for training from scratch (ViT style: truncated normal 0.02, zero biases)."""
    torch.manual_seed(seed)
    model = DeiT(cfg)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
    nn.init.trunc_normal_(model.pos_embed, std=0.02)
    nn.init.trunc_normal_(model.cls_token, std=0.02)
    return model


def lr_at(step: int, total: int, base: float) -> float:
    """Linear warm-up over WARMUP_FRACTION of the steps, then cosine decay to 0."""
    warmup = int(total * WARMUP_FRACTION)
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * t))


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and name not in ("pos_embed", "cls_token") else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def _calibrate(model: nn.Module, images: torch.Tensor) -> None:
    """Initialise every activation step size from one training batch."""
    if not any(isinstance(m, ActQuant) and m.bits is not None and not bool(m.initialized) for m in model.modules()):
        return
    model.train()
    with torch.no_grad():
        model(images)


@torch.no_grad()
def evaluate(model: nn.Module, data: DataSplits, cfg: RecipeConfig, env: DistEnv) -> float:
    """Top-1 accuracy on the test split; each rank takes a share, the counts are all-reduced."""
    model.eval()
    correct = seen = 0
    indices = shard_indices(len(data.test), env.rank, env.world, shuffle=False)
    for x, y in batches(data.test, indices, cfg.batch_size, cfg.workers):
        x, y = x.to(env.device), y.to(env.device)
        correct += int((model(x).argmax(dim=1) == y).sum())
        seen += len(y)
    correct, seen = all_reduce_sum(env, [correct, seen])
    return correct / max(seen, 1)


class Trainer:
    """Runs the stages of one recipe on one process (of `env.world`)."""

    def __init__(self, cfg: RecipeConfig, env: DistEnv, log: TextIO | None = None):
        self.cfg = cfg
        self.env = env
        self.log = log if log is not None else sys.stderr
        self.data = load_data(cfg)
        self.model_cfg = model_config(cfg, self.data)
        self.run_id = {
            "model": cfg.model,
            "data": self.data.name,
            "classes": self.data.classes,
            "seed": cfg.seed,
        }
        self.ranking_seed = RANKING_SEED + 1000 * cfg.seed

    def say(self, message: str) -> None:
        if self.env.is_main:
            print(message, file=self.log, flush=True)

    # ---- checkpoints (rank 0 reads and writes; the others get rank 0's copy) ----

    def _settings(self, stage: Stage) -> dict:
        return {"epochs": stage.epochs, "lr": stage.lr, "batch_size": self.cfg.batch_size, "world_size": self.env.world}

    def _read_on_main(self, name: str, check) -> dict | None:
        """Rank 0 reads and checks `name` in --out (None if absent or not wanted); shared with every rank."""
        reply: tuple[str, object] = ("ok", None)
        if self.env.is_main:
            path = self.cfg.out / name
            try:
                if path.is_file():
                    ckpt = ckpt_io.load_checkpoint(path)
                    reply = ("ok", ckpt if check(path, ckpt) else None)
            except VaqfError as e:
                reply = ("error", str(e))
        kind, value = broadcast_object(self.env, reply)
        if kind == "error":
            raise VaqfError(str(value))
        return value  # type: ignore[return-value]

    def check_resume(self) -> None:
        """Before anything is printed: every checkpoint in --out must be of this model and run."""
        reply = None
        if self.env.is_main and self.cfg.out.is_dir():
            names = [ckpt_io.stage_file(s.name) for s in stages_of(self.cfg)] + [ckpt_io.PARTIAL]
            try:
                for path in (self.cfg.out / n for n in names):
                    if path.is_file():
                        ckpt = ckpt_io.load_checkpoint(path)
                        ckpt_io.check_matches(path, ckpt, config_dict(self.model_cfg), self.run_id)
                        del ckpt
            except VaqfError as e:
                reply = str(e)
        reply = broadcast_object(self.env, reply)
        if reply is not None:
            raise VaqfError(str(reply))

    def completed(self, stage: Stage) -> dict | None:
        if not self.cfg.resume:
            return None

        def check(path: Path, ckpt: dict) -> bool:
            ckpt_io.check_matches(path, ckpt, config_dict(self.model_cfg), self.run_id)
            return bool(ckpt.get("complete")) and ckpt.get("stage") == stage.name

        return self._read_on_main(ckpt_io.stage_file(stage.name), check)

    def partial(self, stage: Stage) -> dict | None:
        if not self.cfg.resume:
            return None

        def check(path: Path, ckpt: dict) -> bool:
            if ckpt.get("stage") != stage.name:
                return False
            ckpt_io.check_matches(path, ckpt, config_dict(self.model_cfg), self.run_id, self._settings(stage))
            return True

        return self._read_on_main(ckpt_io.PARTIAL, check)

    def _payload(self, stage: Stage, model: nn.Module, **extra: object) -> dict:
        return {
            "stage": stage.name,
            "scheme": stage.scheme,
            "pot_ratio": stage.pot_ratio,
            "wbits": stage.wbits,
            "abits": stage.abits,
            "model_config": config_dict(self.model_cfg),
            "run": self.run_id,
            "settings": self._settings(stage),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "quant_spec": quant_spec(model) if isinstance(model, QuantDeiT) else None,
            **extra,
        }

    def save(self, name: str, payload: dict) -> None:
        if self.env.is_main:
            ckpt_io.save_checkpoint(self.cfg.out / name, payload)

    # ---- stages ----

    def build(self, stage: Stage, previous: dict[str, dict]) -> nn.Module:
        """The stage's starting network: new FP; W1A32 / WbA32 from FP's weights; WxAk from WxA32's."""
        if stage.parent is None:
            return init_fp_model(self.model_cfg, self.cfg.seed)
        wbits = None if stage.scheme == "vaqf" else stage.wbits
        if stage.abits is None:
            fp = DeiT(self.model_cfg)
            fp.load_state_dict(previous[stage.parent])
            return quantize_deit(fp, None, progressive=stage.scheme == "vaqf", ranking_seed=self.ranking_seed,
                                 scheme=stage.scheme, wbits=wbits, pot_ratio=stage.pot_ratio)
        parent = QuantDeiT(self.model_cfg, None, scheme=stage.scheme, wbits=wbits, pot_ratio=stage.pot_ratio)
        parent.load_state_dict(previous[stage.parent])
        return quantize_deit(parent, stage.abits, scheme=stage.scheme, wbits=wbits, pot_ratio=stage.pot_ratio)

    def train_stage(self, stage: Stage, model: nn.Module, partial: dict | None) -> float:
        """Train `model` through `stage` (from `partial` if given); returns the stage's wall time so far."""
        cfg, env = self.cfg, self.env
        t0 = time.perf_counter() - (float(partial["wall_s"]) if partial else 0.0)
        model.to(env.device)
        optimizer = make_optimizer(model, stage.lr)
        start_epoch = 0
        if partial is not None:
            model.load_state_dict(partial["state_dict"])
            optimizer.load_state_dict(partial["optimizer"])
            start_epoch = int(partial["epoch"])
        progressive = isinstance(model, QuantDeiT) and model.progressive
        n_shard = len(shard_indices(len(self.data.train), env.rank, env.world, shuffle=True, seed=0))
        steps_per_epoch = -(-n_shard // cfg.batch_size)
        total = stage.epochs * steps_per_epoch
        data_seed = cfg.seed * 64 + stage.index

        first = shard_indices(len(self.data.train), env.rank, env.world, shuffle=True, seed=data_seed, epoch=0)
        x0, _ = next(batches(self.data.train, first[: cfg.batch_size], cfg.batch_size, 0))
        _calibrate(model, x0.to(env.device))
        net: nn.Module = model
        if env.distributed:
            ids = [env.device.index] if env.device.type == "cuda" else None
            # Rank 0's parameters and buffers are copied to all at construction; the buffers
            # (step-size flags, progressive rankings) are equal on every rank after that.
            net = DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)

        progress = Progress(stage.label, stage.epochs, steps_per_epoch, self.log, enabled=env.is_main)
        step = start_epoch * steps_per_epoch
        for epoch in range(start_epoch, stage.epochs):
            net.train()
            order = shard_indices(len(self.data.train), env.rank, env.world, shuffle=True, seed=data_seed, epoch=epoch)
            for x, y in batches(self.data.train, order, cfg.batch_size, cfg.workers):
                x, y = x.to(env.device, non_blocking=True), y.to(env.device, non_blocking=True)
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total, stage.lr)
                if progressive:
                    set_binary_fraction(model, schedule_fraction(step, total))
                loss = F.cross_entropy(net(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
                optimizer.step()
                step += 1
                progress.update(epoch, step, loss.detach().item(), len(y) * env.world)
            if epoch + 1 < stage.epochs:
                self.save(
                    ckpt_io.PARTIAL,
                    self._payload(stage, model, complete=False, epoch=epoch + 1, optimizer=optimizer.state_dict(),
                                  wall_s=time.perf_counter() - t0),
                )
        progress.close()
        if progressive:
            set_binary_fraction(model, 1.0)
        return time.perf_counter() - t0

    def run(self) -> RecipeResult:
        cfg, env = self.cfg, self.env
        start = time.perf_counter()
        result = RecipeResult(
            scheme=cfg.scheme,
            model=cfg.model,
            model_config=config_dict(self.model_cfg),
            data=self.data.name,
            train_images=len(self.data.train),
            test_images=len(self.data.test),
            world_size=env.world,
        )
        if cfg.resume:
            self.check_resume()
        c = self.model_cfg
        self.say(
            f"vaqf train: {cfg.model} (image {c.image_size[0]}, patch {c.patch_size}, dim {c.dim}, depth {c.depth}, "
            f"heads {c.heads}, {c.num_classes} classes) on {self.data.name}: {len(self.data.train)} training, "
            f"{len(self.data.test)} test images; {env.world} process(es) on {env.device.type}"
        )
        self.say(f"weight scheme: {scheme_text(cfg)}")
        previous: dict[str, dict] = {}  # stage name -> state dict, for the stages that start from it
        stages = stages_of(cfg)
        for n, stage in enumerate(stages):
            # Keep only the weights a later stage starts from (one copy per branch, not per stage).
            later = {s.parent for s in stages[n:]}
            for name in [k for k in previous if k not in later]:
                del previous[name]
            path = cfg.out / ckpt_io.stage_file(stage.name)
            done = self.completed(stage)
            if done is not None:
                previous[stage.name] = done["state_dict"]
                result.stages.append(
                    StageResult(stage.name, stage.label, stage.wbits, stage.abits, float(done["top1"]),
                                float(done["wall_s"]), int(done["epoch"]), True, str(path),
                                stage.scheme, stage.pot_ratio)
                )
                self.say(f"==> {stage.title}: resumed from {path} (top-1 {100 * done['top1']:.2f} %)")
                continue
            partial = self.partial(stage)
            where = f", continuing after epoch {partial['epoch']} of {partial_path(cfg)}" if partial else ""
            self.say(f"==> {stage.title}: {stage.epochs} epoch(s), lr {stage.lr:g}{where}")
            model = self.build(stage, previous)
            t_train = self.train_stage(stage, model, partial)
            t_eval = time.perf_counter()
            top1 = evaluate(model, self.data, cfg, env)
            wall = t_train + time.perf_counter() - t_eval
            self.save(
                ckpt_io.stage_file(stage.name),
                self._payload(stage, model, complete=True, epoch=stage.epochs, top1=top1, wall_s=wall),
            )
            if env.is_main:
                (cfg.out / ckpt_io.PARTIAL).unlink(missing_ok=True)
            barrier(env)
            previous[stage.name] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            result.stages.append(
                StageResult(stage.name, stage.label, stage.wbits, stage.abits, top1, wall, stage.epochs, False, str(path),
                            stage.scheme, stage.pot_ratio)
            )
            self.say(f"    {stage.title}: top-1 {100 * top1:.2f} % ({wall:.1f} s)")
        result.wall_s = time.perf_counter() - start
        return result


def scheme_text(cfg: RecipeConfig) -> str:
    """How the run quantizes weights, in words (the report's first line)."""
    vaqf = "vaqf (binary W1, progressive)"
    ratios = ", ".join(ratio_text(r) for r in cfg.pot_ratios)
    mixed_text = f"mixed (W{cfg.wbits}: fixed-point + power-of-two rows, PoT ratio {ratios})"
    return {"vaqf": vaqf, "mixed": mixed_text, "both": f"{vaqf} and {mixed_text}"}[cfg.scheme]


def partial_path(cfg: RecipeConfig) -> Path:
    return cfg.out / ckpt_io.PARTIAL


def run_recipe(cfg: RecipeConfig, env: DistEnv, log: TextIO | None = None) -> RecipeResult:
    """Train every stage of `cfg` (skipping those already in --out with `resume`); see the module docstring."""
    for name, value in (("--batch-size", cfg.batch_size),):
        if value < 1:
            raise VaqfError(f"{name} must be >= 1, got {value}")
    for name, value in (("--epochs-fp", cfg.epochs_fp), ("--epochs-binary", cfg.epochs_binary),
                        ("--epochs-act", cfg.epochs_act), ("--workers", cfg.workers)):
        if value < 0:
            raise VaqfError(f"{name} must be >= 0, got {value}")
    if not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise VaqfError(f"--lr must be a positive number, got {cfg.lr}")
    for bits in cfg.abits:
        try:
            check_bits(bits)
        except ValueError:
            raise VaqfError(f"--abits: {bits} is outside 1..16") from None
    if cfg.scheme not in RECIPE_SCHEMES:
        raise VaqfError(f"--scheme: unknown scheme {cfg.scheme!r}; choose one of {', '.join(RECIPE_SCHEMES)}")
    if cfg.scheme != "vaqf":
        if not mixed.MIN_WEIGHT_BITS <= cfg.wbits <= mixed.MAX_WEIGHT_BITS:
            raise VaqfError(f"--wbits: {cfg.wbits} is outside {mixed.MIN_WEIGHT_BITS}..{mixed.MAX_WEIGHT_BITS}")
        if not cfg.pot_ratios:
            raise VaqfError("--pot-ratio: the mixed scheme needs at least one ratio in [0, 1]")
        for r in cfg.pot_ratios:
            if not 0.0 <= r <= 1.0:
                raise VaqfError(f"--pot-ratio: {r} is outside [0, 1]")
    return Trainer(cfg, env, log).run()
