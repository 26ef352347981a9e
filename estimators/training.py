"""Short ("proxy") training of a candidate on clip-cache clips, and its evaluation.

The recipe of ``../shared/X3D.md`` shrunk to minutes: SGD with Nesterov
momentum 0.9, weight decay 5e-5 except on batch norm, a cosine learning rate
after a linear warm-up.  The schedule follows the fraction of the budget
spent, so the same code trains for a number of epochs (deterministic for a
seed and thread count) or for a wall-clock budget (equal-time comparisons).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .data.dataset import ClipDataset, normalise_batch


@dataclass(frozen=True)
class TrainSettings:
    epochs: float = 10.0
    seconds: float | None = None  # a wall-clock budget instead of epochs
    batch_size: int = 16
    lr: float = 0.1
    weight_decay: float = 5e-5
    momentum: float = 0.9
    optimizer: str = "sgd"  # "sgd" (Nesterov, the X3D recipe) or "adamw" (faster from scratch on short schedules)
    warmup_fraction: float = 0.05
    seed: int = 0
    threads: int = 2
    channels_last: bool = True
    amp: bool = True  # mixed precision (float16 autocast with loss scaling) when training on CUDA
    divergence_factor: float = 20.0  # a loss this many times the first one counts as diverged
    curve: bool = False  # also score the validation split after every epoch (a learning curve; same final result)

    def __post_init__(self) -> None:
        from spaces.errors import NasError

        if self.seconds is None and self.epochs <= 0:
            raise NasError(f"training needs epochs > 0 or a time budget, got epochs={self.epochs}")
        if self.optimizer not in ("sgd", "adamw"):
            raise NasError(f"unknown optimizer {self.optimizer!r}; choose sgd or adamw")
        if self.batch_size < 1 or self.lr <= 0 or self.threads < 1 or self.divergence_factor <= 1:
            raise NasError(
                f"invalid training settings: batch_size={self.batch_size}, lr={self.lr}, threads={self.threads}"
            )


@dataclass
class TrainResult:
    top1: float
    loss: float
    seconds: float
    clips: int
    epochs: float
    clips_per_second: float
    curve: list[dict[str, float]] = field(default_factory=list)  # per epoch: train loss, val top-1
    per_class_top1: list[float] = field(default_factory=list)
    stopped_at: int | None = None  # the epoch after which ``on_epoch`` stopped the training (a pruned trial)


def build_seeded(space, point, seed: int, num_classes: int | None = None) -> nn.Module:
    """Build a candidate with weights drawn from ``seed`` alone (the global RNG is left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return space.build(point, num_classes=num_classes)


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            (no_decay if isinstance(module, nn.modules.batchnorm._BatchNorm) else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def learning_rate(base: float, progress: float, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of the budget, then cosine to zero."""
    if progress < warmup:
        return base * (0.1 + 0.9 * progress / warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / max(1e-9, 1 - warmup))))


def _loader(dataset: ClipDataset, batch_size: int, *, shuffle: bool, seed: int, drop_last: bool):
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator, num_workers=0
    )


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite, or grew far beyond its starting value."""


@dataclass(frozen=True)
class StepReport:
    """What a progress display needs after each training step."""

    step: int
    total_steps: int | None  # None under a wall-clock budget
    epoch: int
    clips: int
    seconds: float
    loss: float

    @property
    def clips_per_second(self) -> float:
        return self.clips / max(self.seconds, 1e-9)


def _check_loss(loss: float, first: float | None, factor: float, step: int) -> None:
    if not math.isfinite(loss):
        raise DivergedError(f"training loss became {loss} at step {step}")
    if first is not None and loss > factor * max(first, 1.0):
        raise DivergedError(f"training loss diverged to {loss:.3g} at step {step} (started at {first:.3g})")


def train(
    model: nn.Module,
    train_set: ClipDataset,
    val_set: ClipDataset | None,
    settings: TrainSettings,
    device: torch.device | str = "cpu",
    on_step: Callable[[StepReport], None] | None = None,
    on_epoch: Callable[[int, float], bool] | None = None,
) -> TrainResult:
    """Train ``model`` in place and evaluate it on ``val_set`` (if given).

    On CUDA with ``settings.amp`` the forward pass runs under float16 autocast
    with a gradient scaler; on CPU everything stays float32.  ``on_epoch``
    (a pruner): the validation split is scored after every whole epoch and
    ``on_epoch(epoch, top1)`` asked whether to stop there; the result then
    holds that epoch's figures and ``stopped_at``.
    """
    from . import distributed

    ranks = distributed.current()  # launched by torchrun: this rank trains its share of every batch
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    device = torch.device(device)
    use_amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    model = model.to(device)
    if settings.channels_last:  # 2D networks on images, 3D networks on clips
        model = model.to(memory_format=torch.channels_last if train_set.sampling.image else torch.channels_last_3d)
    groups = _parameter_groups(model, settings.weight_decay)
    if settings.optimizer == "adamw":
        optimiser = torch.optim.AdamW(groups, lr=settings.lr)
    else:
        optimiser = torch.optim.SGD(groups, lr=settings.lr, momentum=settings.momentum, nesterov=True)
    trained = distributed.wrap(model, str(device)) if ranks else model  # the optimiser holds the same parameters
    # Full batches only (a last tiny batch upsets batch norm), unless the split is smaller than one batch.
    drop_last = len(train_set) >= settings.batch_size
    world = ranks.world_size if ranks else 1
    steps_per_epoch = max(1, len(train_set) // settings.batch_size)
    total_steps = None if settings.seconds else max(1, round(settings.epochs * steps_per_epoch))
    start, step, clips, curve, epoch, first_loss = time.perf_counter(), 0, 0, [], 0, None
    evaluating = 0.0  # seconds spent scoring the learning curve, left out of the training time

    def progress() -> float:
        if settings.seconds:
            spent = (time.perf_counter() - start - evaluating) / settings.seconds
            return distributed.max_over_ranks(spent) if ranks else spent  # every rank stops at the same step
        return step / total_steps

    def batches(epoch: int):
        seed = settings.seed * 100_003 + epoch
        if ranks is None:
            return _loader(train_set, settings.batch_size, shuffle=True, seed=seed, drop_last=drop_last)
        shards = list(
            distributed.shard_batches(len(train_set), settings.batch_size, seed=seed, drop_last=drop_last, group=ranks)
        )
        return torch.utils.data.DataLoader(train_set, batch_sampler=shards, num_workers=0)

    scores_epoch = (settings.curve or on_epoch is not None) and val_set is not None
    while progress() < 1.0:
        train_set.set_epoch(epoch)
        model.train()
        losses = []
        for batch, labels in batches(epoch):
            if progress() >= 1.0:
                break
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(settings.lr, progress(), settings.warmup_fraction)
            inputs = normalise_batch(batch, device=device, channels_last=settings.channels_last)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = nn.functional.cross_entropy(trained(inputs), labels.to(device))
            value = distributed.mean_over_ranks(loss.item()) if ranks else loss.item()  # ranks diverge together
            _check_loss(value, first_loss, settings.divergence_factor, step)
            first_loss = value if first_loss is None else first_loss
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            losses.append(value)
            step += 1
            clips += len(labels) * world
            if on_step is not None:
                on_step(StepReport(step, total_steps, epoch, clips, time.perf_counter() - start, value))
        epoch += 1
        curve.append({"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan")})
        if scores_epoch:
            scoring = time.perf_counter()
            scored = evaluate(model, val_set, settings, device)  # eval mode, no randomness drawn: training is unchanged
            curve[-1].update(val_top1=scored[0], val_loss=scored[1], seconds=scoring - start - evaluating)
            evaluating += time.perf_counter() - scoring
        if on_epoch is not None and val_set is not None and progress() < 1.0 and on_epoch(epoch, scored[0]):
            stopped_at = epoch
            break
    else:
        stopped_at = None
    seconds = time.perf_counter() - start - evaluating  # training time alone, as without the curve
    result = TrainResult(
        top1=float("nan"),
        loss=float("nan"),
        seconds=seconds,
        clips=clips,
        epochs=step / steps_per_epoch,
        clips_per_second=clips / max(seconds, 1e-9),
        curve=curve,
        stopped_at=stopped_at,
    )
    if val_set is not None:
        result.top1, result.loss, result.per_class_top1 = (
            scored if scores_epoch else evaluate(model, val_set, settings, device)
        )
    return result


@torch.no_grad()
def _scores(
    model: nn.Module, dataset, settings: TrainSettings, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels of every item of ``dataset``, in order."""
    model.eval()
    logits, labels = [], []
    use_amp = settings.amp and torch.device(device).type == "cuda"
    for batch, batch_labels in _loader(dataset, settings.batch_size * 2, shuffle=False, seed=0, drop_last=False):
        with torch.autocast(torch.device(device).type, dtype=torch.float16, enabled=use_amp):
            logits.append(
                model(normalise_batch(batch, device=device, channels_last=settings.channels_last)).float().cpu()
            )
        labels.append(batch_labels)
    return torch.cat(logits), torch.cat(labels)


def _scores_over_ranks(
    model: nn.Module, dataset: ClipDataset, settings: TrainSettings, device, group
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each rank scores every ``world``-th video (all its views); the scores are gathered in order on every rank."""
    from . import distributed

    distributed.share_buffers_of_rank_zero(model)
    views = dataset.sampling.views
    mine = [
        video * views + view
        for video in range(group.rank, len(dataset) // views, group.world_size)
        for view in range(views)
    ]
    scores, labels = _scores(model, torch.utils.data.Subset(dataset, mine), settings, device) if mine else (None, None)
    parts = [p for p in distributed.gather((mine, scores, labels)) if p[0]]
    order = torch.tensor([i for indices, _, _ in parts for i in indices]).argsort()
    return torch.cat([p[1] for p in parts])[order], torch.cat([p[2] for p in parts])[order]


@torch.no_grad()
def evaluate(
    model: nn.Module, dataset: ClipDataset, settings: TrainSettings, device: torch.device | str = "cpu"
) -> tuple[float, float, list[float]]:
    """Top-1 accuracy, mean loss and per-class top-1; test views of one video are averaged.

    Under torchrun the videos are shared out between the ranks and every rank gets the same figures.
    """
    from . import distributed

    group = distributed.current()
    if group is None:
        scores, targets = _scores(model, dataset, settings, device)
    else:
        scores, targets = _scores_over_ranks(model, dataset, settings, device, group)
    views = dataset.sampling.views
    loss = nn.functional.cross_entropy(scores, targets).item()
    if views > 1:
        scores = scores.softmax(-1).view(-1, views, scores.shape[-1]).mean(1)
        targets = targets.view(-1, views)[:, 0]
    correct = scores.argmax(-1) == targets
    classes = int(scores.shape[-1])
    per_class = [
        float(correct[targets == c].float().mean()) if (targets == c).any() else float("nan") for c in range(classes)
    ]
    return float(correct.float().mean()), loss, per_class
