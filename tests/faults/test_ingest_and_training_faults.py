"""Videos that do not decode, annotations that do not parse, trainings that diverge."""

from __future__ import annotations

import optuna
import pytest
import torch

from estimators.data.synthetic import SynthSettings, render_job
from estimators.training import DivergedError, TrainSettings, train
from tests.estimators.data.test_ingest import write_mp4

from .conftest import TINY_SEARCH, assert_one_line_failure, listing


@pytest.fixture
def videos(nas):
    """Two classes of real H.264 videos, one good file each, and one class with a truncated and a garbage file."""
    job = render_job(SynthSettings(classes=2, clips_per_class=3, frames=12, size=32), 0, 0)
    for label in ("wave", "clap"):
        (nas.folder / "videos" / label).mkdir(parents=True)
        write_mp4(nas.folder / "videos" / label / "good.mp4", job)
    whole = (nas.folder / "videos" / "wave" / "good.mp4").read_bytes()
    (nas.folder / "videos" / "clap" / "cut.mp4").write_bytes(whole[: len(whole) // 2])  # a download cut short
    (nas.folder / "videos" / "clap" / "noise.mp4").write_bytes(bytes(range(256)) * 20)
    return nas.folder / "videos"


@pytest.mark.slow
def test_corrupt_videos_during_ingestion(nas, videos):
    line = assert_one_line_failure(
        nas("data", "build", "--videos", videos, "--out", "cache", "--short-side", "32"),
        "2 videos could not be decoded",
        "--allow-skipped",
        "--retry-skipped",
        code=2,
    )
    assert "the other 2" in line
    inspected = nas("data", "inspect", "cache", "--verify")
    assert inspected.code == 0 and "videos 2:" in inspected.out and "cut.mp4" in inspected.out, inspected.err


def test_nothing_decodes_and_nothing_stays_behind(nas):
    (nas.folder / "videos" / "wave").mkdir(parents=True)
    (nas.folder / "videos" / "wave" / "noise.mp4").write_bytes(b"\x00" * 500)
    assert_one_line_failure(
        nas("data", "build", "--videos", "videos", "--out", "cache"), "no video could be stored", code=2
    )
    assert not (nas.folder / "cache").exists(), "an empty cache was left behind"


def test_annotations_missing_a_column(nas, videos):
    (nas.folder / "k.csv").write_text("label,youtube_id,time_start\nwave,good,0\n")
    assert_one_line_failure(
        nas("data", "build", "--videos", videos, "--csv", "k.csv", "--out", "cache"),
        "not a Kinetics-style CSV",
        "column 'time_end' missing",
        code=2,
    )
    assert not (nas.folder / "cache").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ("label,youtube_id,time_start,time_end,split\nwave,good,0\n".encode(), "k.csv:2: too few fields"),
        (
            "label,youtube_id,time_start,time_end,split\nw\xe4ve,good,0,10,train\n".encode("latin-1"),
            "k.csv is not UTF-8",
        ),
        (b"label,youtube_id,time_start,time_end,split\nwave,good,0,inf,train\n", "must be finite numbers"),
    ],
    ids=["too few fields", "not UTF-8", "infinite time"],
)
def test_malformed_annotation_rows(nas, content, message):
    (nas.folder / "videos" / "wave").mkdir(parents=True)
    (nas.folder / "k.csv").write_bytes(content)
    assert_one_line_failure(
        nas("data", "build", "--videos", "videos", "--csv", "k.csv", "--out", "cache"), message, code=2
    )
    assert not (nas.folder / "cache").exists()


class _Poisoned(torch.nn.Module):
    """A classifier whose output turns NaN at its second batch (as a blown-up activation does)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 4)
        self.calls = 0

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        logits = self.linear(clips.mean(dim=(2, 3, 4)))
        return logits * float("nan") if self.calls > 1 else logits


def test_a_nan_loss_stops_the_training_with_the_step(tiny_cache):
    from estimators.data.dataset import ClipDataset, ClipSampling

    train_set = ClipDataset(tiny_cache, "train", ClipSampling(2, 2, 16, "train"))
    with pytest.raises(DivergedError, match="training loss became nan at step 1"):
        train(_Poisoned(), train_set, None, TrainSettings(epochs=3, batch_size=4, threads=1, channels_last=False))


@pytest.mark.slow
def test_a_search_whose_trainings_diverge(nas):
    search = [*TINY_SEARCH, "--epochs", "4", "--lr", "100", "--storage", "ledger.db", "--study", "s"]
    assert_one_line_failure(nas(*search), "the search finished without a model", "diverged", "lower --lr", code=1)
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{nas.folder / 'ledger.db'}").trials
    assert trials and all(t.state == optuna.trial.TrialState.FAIL for t in trials)
    assert all(t.user_attrs["retry"] is False and "diverged" in t.user_attrs["fail_reason"] for t in trials)
    assert "final" not in {t.user_attrs["role"] for t in trials}, "a failed model was trained on"
    again = nas(*search)  # the same command: nothing retrained, the same one line
    assert_one_line_failure(again, "the search finished without a model", code=1)
    assert len(optuna.load_study(study_name="s", storage=f"sqlite:///{nas.folder / 'ledger.db'}").trials) == len(trials)
    assert "ledger.db" in listing(nas.folder)
