"""One candidate's training, run by ``test_distributed.py`` alone or under ``torchrun`` (one JSON file per rank).

Usage: ``python ddp_job.py CACHE OUT_DIR`` (or the same under ``torchrun --nproc-per-node N``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from estimators import distributed
from estimators.data.dataset import ClipDataset, ClipSampling
from estimators.training import TrainSettings, build_seeded, train
from spaces import get_space


def main(cache: str, out: str) -> None:
    group = distributed.from_environment()
    if group is not None:
        distributed.initialise(group, "cpu")
    space = get_space("x3d", num_classes=3, base_crop=16, base_stride=1, stage_blocks=[1, 1, 1, 1], head_width=32)
    point = space.point(frames=2, stride=1, crop=16, width=0.5)
    train_set = ClipDataset(cache, "train", ClipSampling(2, 1, 16, "train"))
    val_set = ClipDataset(cache, "val", ClipSampling(2, 1, 16, "val"))
    settings = TrainSettings(
        epochs=int(os.environ.get("DDP_EPOCHS", 6)),
        batch_size=8,
        optimizer="adamw",
        lr=float(os.environ.get("DDP_LR", 1e-2)),
        seed=7,
        threads=1,
    )
    model = build_seeded(space, point, settings.seed)
    result = train(model, train_set, val_set, settings)
    rank = group.rank if group else 0
    weights = float(sum(p.detach().double().abs().sum() for p in model.parameters()))
    Path(out, f"rank{rank}.json").write_text(
        json.dumps(
            {
                "top1": result.top1,
                "loss": result.loss,
                "clips": result.clips,
                "epochs": result.epochs,
                "train_loss": [e["train_loss"] for e in result.curve],
                "weights": weights,
                "world": group.world_size if group else 1,
                "threads": torch.get_num_threads(),
            }
        )
    )
    distributed.leave(together=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
