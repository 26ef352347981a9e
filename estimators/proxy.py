"""Proxy-trained accuracy: a short training of a candidate on the clip cache.

Each candidate is trained on the cache's training split for a fixed number of
epochs (the fidelity) and scored by top-1 on its validation split, reading
clips at the candidate's own frames, stride and crop.  The weights and the
data order are seeded from the search seed *and the point*, so a candidate's
result does not depend on which candidates were trained before it: a resumed
or a parallel search measures exactly what an uninterrupted one does.

The fingerprint names everything that changes a result (data, schedule,
seed, threads, device kind, code version), so the ledger never trains the
same point twice under the same settings.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from spaces import Point, SearchSpace
from spaces.errors import NasError

from .base import Estimator, Measurement, fingerprint_of

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .data.cache import ClipCache
    from .training import StepReport, TrainSettings


class CandidateFailed(Exception):
    """This candidate cannot be measured (diverged, or the data cannot serve it); the search goes on.

    ``trained`` is False when it failed before any training (the data cannot
    serve its clips): such a failure costs nothing and no search budget.
    ``retry`` marks a failure worth one more try (a parent's checkpoint that
    could not be read): the point is proposed again.  ``attrs`` are recorded
    on the failed trial.
    """

    def __init__(
        self, message: str, *, trained: bool = True, retry: bool = False, attrs: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.trained, self.retry, self.attrs = trained, retry, attrs or {}


class CandidatePruned(Exception):
    """A pruner stopped this candidate's training after ``epoch`` whole epochs (top-1 ``accuracy`` then).

    Not a failure: the trial is recorded as pruned, at its epoch, and costs the ``seconds`` it trained.
    """

    def __init__(self, epoch: int, accuracy: float, seconds: float, info: dict[str, Any]) -> None:
        super().__init__(f"pruned after epoch {epoch} at top-1 {accuracy:.3f}")
        self.epoch, self.accuracy, self.seconds, self.info = epoch, accuracy, seconds, info


@dataclass(frozen=True)
class ProxySchedule:
    """The short training schedule of every candidate (defaults: sized for a 2-core CPU)."""

    epochs: float = 4.0
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float = 5e-3
    weight_decay: float = 0.05
    seed: int = 0
    threads: int = 2
    channels_last: bool = True
    amp: bool = True
    curve: bool = False  # score validation after every epoch too (learning curves; the results are the same)
    inherit: bool = False  # a candidate may start from its parent's trained weights (``nas search --inherit``)
    inherit_epochs: float | None = None  # epochs of a candidate that did start from its parent (None: ``epochs``)

    def train_settings(self, point_seed: int, epochs: float | None = None) -> "TrainSettings":
        from .training import TrainSettings

        return TrainSettings(
            epochs=self.epochs if epochs is None else epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=point_seed,
            threads=self.threads,
            channels_last=self.channels_last,
            amp=self.amp,
            curve=self.curve,
        )


def point_seed(seed: int, point: Point, repeat: int = 0) -> int:
    """A training seed that depends on the search seed, the point and the run, not on the order of training.

    Run 0 keeps the seed a point always had, so one run per point measures what it did before repeats existed.
    """
    digest = hashlib.sha256(f"{seed}:{point.key}{f':{repeat}' if repeat else ''}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def binomial_se(top1: float, clips: int) -> float:
    """Standard error of a top-1 over ``clips`` validation clips: ``sqrt(p (1 - p) / n)``.

    It is the validation split's sampling error alone; seed-to-seed spread is
    measured by training a point again (``--repeats``), never assumed.  Half a
    clip keeps a top-1 of exactly 0 or 1 from claiming no error at all.
    """
    p = min(max(top1, 0.5 / clips), 1 - 0.5 / clips)
    return math.sqrt(p * (1 - p) / clips)


def resolve_device(name: str | None) -> str:
    """``auto`` (or None) picks CUDA when present; an explicit device must exist."""
    import torch

    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NasError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NasError(f"device {name!r} asked for, but this machine has no usable CUDA GPU; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise NasError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    return str(device)


def data_fingerprint(cache: "ClipCache") -> dict[str, Any]:
    """What identifies a cache's contents (not its path: a copied cache gives the same results)."""
    meta = cache.meta
    return {key: meta.get(key) for key in ("source_fingerprint", "codec", "splits", "videos", "frame_size", "fps")}


class ProxyAccuracy(Estimator):
    """Validation top-1 after a short training on the clip cache (fidelity: epochs)."""

    name = "proxy"
    reports_progress = True
    prunable = True  # evaluate takes on_epoch: a pruner may stop a training after any whole epoch

    def __init__(
        self,
        cache: "ClipCache | str | os.PathLike",
        schedule: ProxySchedule = ProxySchedule(),
        *,
        device: str | None = None,
        train_split: str = "train",
        val_split: str = "val",
    ) -> None:
        from .data.cache import ClipCache

        self.cache = cache if isinstance(cache, ClipCache) else ClipCache(cache)
        self.schedule = schedule
        from .distributed import current, rank_device

        self.device = rank_device(resolve_device(device), current())  # under torchrun: this rank's GPU
        self.train_split, self.val_split = train_split, val_split
        for split in (train_split, val_split):
            if len(self.cache.positions(split)) == 0:
                raise NasError(f"clip cache {self.cache.path} has no {split!r} clips; rebuild it with that split")

    @property
    def num_classes(self) -> int:
        return len(self.cache.classes)

    def settings(self, epochs: float | None = None) -> dict[str, Any]:
        from .distributed import current

        schedule = asdict(replace(self.schedule, epochs=float(self.schedule.epochs if epochs is None else epochs)))
        device_kind = "cpu" if self.device == "cpu" else "cuda"
        schedule.pop("curve")  # scoring every epoch changes no result: must not split the fingerprint
        if not schedule["inherit"]:  # searches from scratch keep the identity they always had
            schedule.pop("inherit")
            schedule.pop("inherit_epochs")
        else:  # no --inherit-epochs trains as --inherit-epochs EPOCHS does: the same identity
            schedule["inherit_epochs"] = float(schedule["inherit_epochs"] or schedule["epochs"])
        if device_kind == "cpu":
            schedule.pop("amp")  # never used on CPU: must not split the fingerprint
        group = current()  # several processes share each batch: batch norm sees smaller ones
        return {
            "data": data_fingerprint(self.cache),
            "splits": [self.train_split, self.val_split],
            "schedule": schedule,
            "device": device_kind,
            **({"processes": group.world_size} if group else {}),
        }

    def fingerprint(self, fidelity: float | None = None) -> str:
        import torch

        from spaces.code_digest import code_digest

        return fingerprint_of(
            "proxy-accuracy",
            {**self.settings(fidelity), "torch": torch.__version__.split("+")[0], "code": code_digest()},
        )

    def shortest_clip(self) -> int:
        """Frames in the shortest video of the splits read: the longest clip window the data can serve."""
        return min(self.cache.shortest(self.train_split), self.cache.shortest(self.val_split))

    def check(self, space: SearchSpace, point: Point) -> None:
        """Raise :class:`CandidateFailed` if the cache cannot serve ``point`` (clips too short)."""
        spec = space.clip_spec(point)
        window = (spec.frames - 1) * spec.stride + 1
        shortest = self.shortest_clip()
        if window > shortest:
            raise CandidateFailed(
                f"{spec.frames} frames at stride {spec.stride} span {window} frames; "
                f"the cache's shortest clip has {shortest}",
                trained=False,
            )

    def evaluate(
        self,
        space: SearchSpace,
        point: Point,
        fidelity: float | None = None,
        on_step: "Callable[[StepReport], None] | None" = None,
        repeat: int = 0,
        start: "tuple[Point, Mapping[str, Any]] | None" = None,
        on_epoch: "Callable[[int, float], bool] | None" = None,
    ) -> Measurement:
        """Train and score run ``repeat`` of ``point`` (its own seed); under torchrun rank 0 first tells the
        other ranks to train it too.

        ``start`` (inherited weights): the trained state dict of a parent point, grown into this point's network
        by the space's rules (:meth:`SearchSpace.grow_weights`) before training; a space that has no rule for it
        trains from scratch and says so in ``info``. With the schedule's ``inherit`` on, the measurement keeps the
        trained weights, for the candidates that will start from this one.

        ``on_epoch(epoch, top1)`` (a pruner) is asked after every whole epoch whether to stop the training there;
        a stopped training raises :class:`CandidatePruned`.
        """
        from .distributed import broadcast, current

        self.check(space, point)
        group = current()
        if (start is not None or on_epoch is not None) and group is not None:
            raise NasError("inherited weights and pruning are not supported under torchrun; search without them there")
        if group is not None and group.is_main:
            broadcast({"point": point, "fidelity": fidelity, "repeat": repeat})
        return self._measure(space, point, fidelity, on_step, repeat, start, on_epoch)

    def follow(self, space: SearchSpace) -> int:
        """On a rank other than 0: train every point rank 0 announces, until it releases us; the trainings done."""
        import logging

        from .distributed import broadcast, current

        log, rank = logging.getLogger("estimators.distributed"), current().rank
        done = 0
        while (job := broadcast()) is not None:
            try:
                measured = self._measure(space, job["point"], job["fidelity"], None, job.get("repeat", 0))
                outcome = f"top-1 {measured.metrics['accuracy']:.6f}"
            except CandidateFailed as error:
                outcome = f"failed: {error}"  # rank 0 met the same failure at the same step and records it
            log.info(f"rank {rank} trained {job['point'].key} (run {job.get('repeat', 0)}): {outcome}")
            done += 1
        return done

    def release_followers(self) -> None:
        """On rank 0 under torchrun: no more trainings; the other ranks' :meth:`follow` returns."""
        from .distributed import broadcast, current

        group = current()
        if group is not None and group.is_main:
            broadcast(None)

    def _measure(
        self,
        space: SearchSpace,
        point: Point,
        fidelity: float | None,
        on_step: "Callable[[StepReport], None] | None",
        repeat: int = 0,
        start: "tuple[Point, Mapping[str, Any]] | None" = None,
        on_epoch: "Callable[[int, float], bool] | None" = None,
    ) -> Measurement:
        import torch

        from .data.dataset import ClipDataset, ClipSampling
        from .training import DivergedError, build_seeded, train

        spec = space.clip_spec(point)
        seed = point_seed(self.schedule.seed, point, repeat)
        model = build_seeded(space, point, seed, num_classes=self.num_classes)
        started = _start_from(space, point, model, start, seed)
        if started.get("inherited") and fidelity is None and self.schedule.inherit_epochs is not None:
            fidelity = self.schedule.inherit_epochs  # a candidate that starts trained needs less training
        settings = self.schedule.train_settings(seed, fidelity)
        sampling = dict(frames=spec.frames, stride=spec.stride, crop=spec.crop, image=spec.image)
        train_set = ClipDataset(self.cache, self.train_split, ClipSampling(mode="train", **sampling), seed=seed)
        val_set = ClipDataset(self.cache, self.val_split, ClipSampling(mode="val", **sampling), seed=seed)
        try:
            result = train(model, train_set, val_set, settings, device=self.device, on_step=on_step, on_epoch=on_epoch)
        except DivergedError as error:
            raise CandidateFailed(str(error)) from None
        except (MemoryError, torch.cuda.OutOfMemoryError):
            raise CandidateFailed(f"out of memory on {self.device} at batch {settings.batch_size}") from None
        clips = len(val_set) // val_set.sampling.views
        if result.stopped_at is not None:
            raise CandidatePruned(
                result.stopped_at,
                result.top1,
                result.seconds,
                {
                    "accuracy_se": binomial_se(result.top1, clips),
                    "val_clips": clips,
                    "train_seed": seed,
                    "curve": result.curve,
                    **started,
                },
            )
        return Measurement(
            point=point,
            metrics={
                "accuracy": result.top1,
                "accuracy_se": binomial_se(result.top1, clips),
                "val_clips": clips,
                "val_loss": result.loss,
                "train_loss": result.curve[-1]["train_loss"] if result.curve else float("nan"),
            },
            fidelity=settings.epochs,
            seconds=result.seconds,
            info={
                "clips": result.clips,
                "clips_per_second": result.clips_per_second,
                "epochs": result.epochs,
                "train_seed": seed,
                "device": self.device,
                "per_class_top1": result.per_class_top1,
                **({"curve": result.curve} if self.schedule.curve else {}),
                **started,
            },
            weights=_cpu_state(model) if self.schedule.inherit else None,
        )


def _start_from(
    space: SearchSpace, point: Point, model: Any, start: "tuple[Point, Mapping[str, Any]] | None", seed: int
) -> dict[str, Any]:
    """Load ``start``'s trained weights into ``model`` (grown by the space's rules); what happened, for ``info``.

    The same point (a final training from its search weights) loads them as they are. A space that cannot grow
    them into this point (a contraction that narrows, a plugin without rules) leaves the model as built: it
    trains from scratch, and ``inherit_note`` says why.
    """
    from spaces.errors import InheritanceError

    if start is None:
        return {}
    parent, state = start
    try:
        model.load_state_dict(dict(state) if parent == point else space.grow_weights(parent, state, model, seed=seed))
    except InheritanceError as error:
        return {"inherited": False, "inherit_note": f"trained from scratch: {error}"}
    except (RuntimeError, KeyError, ValueError, IndexError) as error:  # another network's checkpoint (a stale store)
        return {"inherited": False, "inherit_note": f"trained from scratch: the parent's weights do not fit ({error})"}
    return {"inherited": True}


def _cpu_state(model: Any) -> dict[str, Any]:
    """The trained state dict on the CPU, contiguous: what a checkpoint stores, whatever device trained it."""
    return {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
