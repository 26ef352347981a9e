"""Clips for training and evaluation, cut from a clip cache at a point's frames, stride and crop.

The recipe of ``../shared/X3D.md``, scaled to the cache: training clips start
at a random time, their short side is drawn from the point's range
(``128/112`` to ``160/112`` of the crop) before a random crop and a horizontal
flip (relabelled through the cache's ``flip_map``); validation clips are the
centre clip and centre crop; test clips are several views uniform in time
(and 1 or 3 crops).  Everything stays uint8 until :func:`normalise_batch`
converts a whole batch once.  Image networks read one frame as an image
(``ClipSampling(image=True)``): the same cache, cut and augmentation, without
the time axis.  Augmentations are drawn from a generator
derived from (seed, epoch, index), so DataLoader workers never repeat each
other and a rerun draws the same clips.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from .cache import ClipCache
from .errors import CacheError

MEAN = 0.45
STD = 0.225
#: Evaluation short side relative to the crop (112 crop from a 128 short side).
EVAL_SHORT_SIDE_PER_CROP = 128 / 112
#: Training short side range relative to the crop.
TRAIN_SHORT_SIDE_PER_CROP = (128 / 112, 160 / 112)
MODES = ("train", "val", "test")


@dataclass(frozen=True)
class ClipSampling:
    """How clips are cut: frames at a stride, a square crop, and the mode's augmentation."""

    frames: int
    stride: int
    crop: int
    mode: str = "train"
    temporal_views: int = 1  # test mode: clips uniform in time
    spatial_views: int = 1  # test mode: 1 (centre) or 3 (start, centre, end of the long side)
    shuffle_frames: bool = False  # ablation: the clip's frames in a random order (motion order destroyed)
    image: bool = False  # one frame as a (3, crop, crop) image, for 2D networks

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CacheError(f"unknown clip mode {self.mode!r}; choose one of {', '.join(MODES)}")
        for name in ("frames", "stride", "crop", "temporal_views"):
            if getattr(self, name) < 1:
                raise CacheError(f"clip {name} must be at least 1, got {getattr(self, name)}")
        if self.spatial_views not in (1, 3):
            raise CacheError(f"spatial_views must be 1 or 3, got {self.spatial_views}")
        if self.image and self.frames != 1:
            raise CacheError(f"an image is one frame; image sampling got frames = {self.frames}")

    @property
    def window(self) -> int:
        """Source frames one clip spans."""
        return (self.frames - 1) * self.stride + 1

    @property
    def views(self) -> int:
        return self.temporal_views * self.spatial_views if self.mode == "test" else 1


class ClipDataset(torch.utils.data.Dataset):
    """Items are ``(clip, label)``: clip is uint8 ``(frames, 3, crop, crop)``, or ``(3, crop, crop)`` for images."""

    def __init__(
        self, cache: ClipCache | str | os.PathLike, split: str, sampling: ClipSampling, *, seed: int = 0
    ) -> None:
        self.cache = cache if isinstance(cache, ClipCache) else ClipCache(cache)
        self.split = split
        self.sampling = sampling
        self.seed = seed
        self.epoch = 0
        self.positions = self.cache.positions(split)
        if len(self.positions) == 0:
            raise CacheError(f"clip cache {self.cache.path} has no {split!r} videos; rebuild it with that split")
        shortest = self.cache.shortest(split)
        if sampling.window > shortest:
            raise CacheError(
                f"clip cache {self.cache.path}: {sampling.frames} frames at stride {sampling.stride} span "
                f"{sampling.window} frames, but its shortest {split!r} video has {shortest}; "
                "use fewer frames or a smaller stride, or a cache of longer videos"
            )
        self._flip = np.asarray(self.cache.flip_map, dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        """Call once per epoch so training draws new augmentations (like DistributedSampler)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.positions) * self.sampling.views

    # -- cutting ---------------------------------------------------------------------
    def _start(self, length: int, view: int, rng: np.random.Generator) -> int:
        room = length - self.sampling.window
        if self.sampling.mode == "train":
            return int(rng.integers(0, room + 1))
        if self.sampling.mode == "val" or self.sampling.temporal_views == 1:
            return room // 2
        return round(room * view / (self.sampling.temporal_views - 1))

    def _box(self, height: int, width: int, view: int, rng: np.random.Generator) -> tuple[int, int, int]:
        """(top, left, side) of the square region, in source pixels, that becomes the crop."""
        crop = self.sampling.crop
        if self.sampling.mode == "train":
            short_side = rng.uniform(*(crop * f for f in TRAIN_SHORT_SIDE_PER_CROP))
        else:
            short_side = crop * EVAL_SHORT_SIDE_PER_CROP
        side = max(1, min(height, width, round(crop * min(height, width) / short_side)))
        if self.sampling.mode == "train":
            return int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1)), side
        top, left = (height - side) // 2, (width - side) // 2
        if self.sampling.mode == "test" and self.sampling.spatial_views == 3:
            spot = view % 3  # 0: start, 1: centre, 2: end of the longer side
            if width >= height:
                left = [0, left, width - side][spot]
            else:
                top = [0, top, height - side][spot]
        return top, left, side

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        video, view = divmod(item, self.sampling.views)
        position = int(self.positions[video])
        rng = np.random.default_rng([self.seed, self.epoch, item])
        start = self._start(self.cache.num_frames(position), view // self.sampling.spatial_views, rng)
        indices = np.arange(start, start + self.sampling.window, self.sampling.stride)
        if self.sampling.shuffle_frames:
            indices = rng.permutation(indices)
        frames = self.cache.read(position, indices)  # (T, H, W, 3) uint8
        top, left, side = self._box(frames.shape[1], frames.shape[2], view, rng)
        region = torch.from_numpy(np.ascontiguousarray(frames[:, top : top + side, left : left + side]))
        clip = region.permute(0, 3, 1, 2)  # (T, 3, side, side), channels-last in memory
        if side != self.sampling.crop:
            clip = torch.nn.functional.interpolate(
                clip,
                size=(self.sampling.crop, self.sampling.crop),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
        label = self.cache.label(position)
        if self.sampling.mode == "train" and rng.random() < 0.5:
            clip, label = clip.flip(-1), int(self._flip[label])
        return (clip[0] if self.sampling.image else clip).contiguous(), label


def normalise_batch(
    clips: torch.Tensor, *, device: torch.device | str | None = None, channels_last: bool = False
) -> torch.Tensor:
    """uint8 ``(B, T, 3, H, W)`` -> float ``(B, 3, T, H, W)`` normalised (mean 0.45, std 0.225), once per batch.

    A batch of images, uint8 ``(B, 3, H, W)``, stays in that layout (channels-last in memory if asked).
    """
    batch = clips.to(device, non_blocking=True) if device is not None else clips
    image = batch.dim() == 4
    batch = (batch if image else batch.permute(0, 2, 1, 3, 4)).float().div_(255.0).sub_(MEAN).div_(STD)
    if not channels_last:
        return batch.contiguous()
    return batch.contiguous(memory_format=torch.channels_last if image else torch.channels_last_3d)
