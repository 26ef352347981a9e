"""The clip loader: shapes, determinism, augmentation, flip relabelling, workers, and limits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from estimators.data.cache import ClipCache
from estimators.data.dataset import ClipDataset, ClipSampling, normalise_batch
from estimators.data.errors import CacheError


def test_items_are_uint8_clips_of_the_point(tiny_cache):
    data = ClipDataset(tiny_cache, "train", ClipSampling(frames=4, stride=3, crop=24))
    clip, label = data[0]
    assert clip.dtype == torch.uint8 and clip.shape == (4, 3, 24, 24) and 0 <= label < 4
    batch = normalise_batch(torch.stack([clip, data[1][0]]))
    assert batch.shape == (2, 3, 4, 24, 24) and batch.dtype == torch.float32
    assert abs(float(batch.mean())) < 3 and float(batch.max()) <= (1 - 0.45) / 0.225 + 1e-5


def test_validation_is_the_centre_clip_and_crop(tiny_cache):
    cache = ClipCache(tiny_cache)
    data = ClipDataset(cache, "val", ClipSampling(frames=4, stride=2, crop=28, mode="val"))
    first, again = data[0][0], data[0][0]
    assert torch.equal(first, again)
    data.set_epoch(5)
    assert torch.equal(first, data[0][0])

    # centre in time: a 7-frame window in 16 frames starts at (16 - 7) // 2 = 4; in space: eval short side
    # 28 * 128 / 112 = 32 = the source's, so a 28-pixel square from (32 - 28) // 2 = 2, not resized
    def cut(start: int, offset: int) -> torch.Tensor:
        frames = cache.read(int(data.positions[0]), np.arange(start, start + 7, 2))
        return torch.from_numpy(np.ascontiguousarray(frames[:, offset : offset + 28, offset : offset + 28])).permute(
            0, 3, 1, 2
        )

    assert first.shape == (4, 3, 28, 28) and torch.equal(first, cut(4, 2))
    assert not torch.equal(first, cut(3, 2)) and not torch.equal(first, cut(4, 0))  # the check tells other cuts apart


def test_training_augmentation_is_reproducible_and_varies(tiny_cache):
    data = ClipDataset(tiny_cache, "train", ClipSampling(frames=4, stride=2, crop=24), seed=1)
    epoch0 = [data[i][0] for i in range(4)]
    assert all(torch.equal(a, data[i][0]) for i, a in enumerate(epoch0))
    data.set_epoch(1)
    assert not all(torch.equal(a, data[i][0]) for i, a in enumerate(epoch0))


def test_flip_relabels_direction_classes(tiny_cache):
    cache = ClipCache(tiny_cache)
    assert cache.flip_map == [0, 1, 3, 2]  # slide_right <-> slide_left
    data = ClipDataset(cache, "train", ClipSampling(frames=2, stride=1, crop=16))
    right = [i for i, p in enumerate(data.positions) if cache.label(int(p)) == 2]
    seen = set()
    for epoch in range(8):
        data.set_epoch(epoch)
        seen |= {data[i][1] for i in right}
    assert seen == {2, 3}


def test_test_mode_gives_views(tiny_cache):
    data = ClipDataset(
        tiny_cache, "test", ClipSampling(frames=2, stride=2, crop=16, mode="test", temporal_views=3, spatial_views=3)
    )
    assert len(data) == 9 * len(data.positions)
    starts = {tuple(data[i][0].flatten()[:8].tolist()) for i in range(9)}
    assert len(starts) > 1


def test_workers_give_the_same_items_as_one_process(tiny_cache):
    data = ClipDataset(tiny_cache, "train", ClipSampling(frames=4, stride=2, crop=16), seed=2)
    data[0]  # the parent opens the environment before the workers fork
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=2, shuffle=False)
    batches = torch.cat([clips for clips, _ in loader])
    assert torch.equal(batches, torch.stack([data[i][0] for i in range(len(data))]))


def test_too_short_videos_are_a_clear_error(tiny_cache):
    with pytest.raises(CacheError, match="span 31 frames, but its shortest 'train' video has 16"):
        ClipDataset(tiny_cache, "train", ClipSampling(frames=16, stride=2, crop=16))


def test_bad_sampling_is_refused():
    with pytest.raises(CacheError, match="mode"):
        ClipSampling(frames=1, stride=1, crop=8, mode="eval")
    with pytest.raises(CacheError, match="frames"):
        ClipSampling(frames=0, stride=1, crop=8)
