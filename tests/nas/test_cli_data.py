"""``nas data synth | build | inspect`` from the command line, including bad input."""

from __future__ import annotations

import json

import pytest

from estimators.data.synthetic import SynthSettings, render_job
from nas.cli import main
from tests.estimators.data.test_ingest import write_mp4


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def synth_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "synth"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(path),
                "--classes",
                "4",
                "--clips-per-class",
                "3",
                "--frames",
                "12",
                "--size",
                "24",
            ]
        )
        == 0
    )
    return path


def test_synth_then_inspect_with_a_contact_sheet(capsys, synth_cache, tmp_path):
    sheet = tmp_path / "sheet.png"
    code, out, _ = run(capsys, "data", "inspect", synth_cache, "--json", "--sheet", sheet, "--verify")
    info = json.loads(out)
    assert code == 0 and info["videos"] == 12 and info["splits"] == {"train": 4, "val": 4, "test": 4}
    assert info["classes"] == ["walk", "run", "slide_right", "slide_left"] and info["corrupt_records"] == []
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, "data", "inspect", synth_cache)
    assert code == 0 and "slide_right<->slide_left" in out and "skipped 0 videos" in out


def test_synth_kind_motion_writes_the_motion_only_data(tmp_path, capsys):
    path = tmp_path / "motion"
    assert (
        main(
            [
                "data",
                "synth",
                "--kind",
                "motion",
                "--out",
                str(path),
                "--classes",
                "3",
                "--clips-per-class",
                "3",
                "--frames",
                "12",
                "--size",
                "24",
            ]
        )
        == 0
    )
    capsys.readouterr()
    code, out, _ = run(capsys, "data", "inspect", path, "--json")
    assert code == 0 and json.loads(out)["classes"] == ["still", "slide_right", "slide_left"]
    assert main(["data", "synth", "--images", "--kind", "motion", "--out", str(tmp_path / "x")]) == 2
    assert "--kind motion: images have no kind" in capsys.readouterr().err


def test_synth_rerun_resumes(capsys, synth_cache):
    code, out, _ = run(
        capsys,
        "data",
        "synth",
        "--out",
        synth_cache,
        "--classes",
        "4",
        "--clips-per-class",
        "3",
        "--frames",
        "12",
        "--size",
        "24",
    )
    assert code == 0 and "stored 0 new videos" in out and "12 were already done" in out


def test_build_reports_skipped_videos_and_fails_unless_allowed(capsys, tmp_path):
    videos = tmp_path / "videos" / "waving"
    videos.mkdir(parents=True)
    job = render_job(SynthSettings(classes=2, clips_per_class=3, frames=10, size=32), 0, 0)
    write_mp4(videos / "good.mp4", job)
    (videos / "empty.mp4").write_bytes(b"")
    build = ("data", "build", "--videos", tmp_path / "videos", "--out", tmp_path / "c", "--short-side", "32")
    code, out, err = run(capsys, *build)
    assert code == 2 and "stored 1 new videos" in out and "skipped 1 videos" in out and "empty file" in out
    assert "1 videos could not be decoded" in err and "--allow-skipped" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, *build, "--allow-skipped")
    assert code == 0 and "2 were already done" in out
    write_mp4(videos / "empty.mp4", job)  # the file replaced: a retry stores it
    code, out, _ = run(capsys, *build, "--retry-skipped")
    assert code == 0 and "stored 1 new videos" in out and "2 in the cache" in out


def test_synth_images_writes_the_cache_that_synth_image_data_names(capsys, tmp_path):
    """``nas data synth --images`` is ``--data synth-image:...`` written to a folder of one's choice."""
    from estimators.data.synthetic_images import ImageSynthSettings

    code, _, _ = run(
        capsys,
        "data",
        "synth",
        "--images",
        "--out",
        tmp_path / "images",
        "--classes",
        "3",
        "--clips-per-class",
        "4",
        "--size",
        "16",
    )
    assert code == 0
    code, out, _ = run(capsys, "data", "inspect", tmp_path / "images", "--json")
    info = json.loads(out)
    assert (info["videos"], info["frames_per_video"]["max"], info["frame_size"]) == (12, 1, [16, 16])
    assert info["classes"] == ["stripes_h", "stripes_v", "disk"]
    assert info["source_fingerprint"] == ImageSynthSettings(classes=3, images_per_class=4, size=16).fingerprint()


def test_build_with_nothing_stored_fails(capsys, tmp_path):
    videos = tmp_path / "videos" / "waving"
    videos.mkdir(parents=True)
    (videos / "empty.mp4").write_bytes(b"")
    code, _, err = run(capsys, "data", "build", "--videos", tmp_path / "videos", "--out", tmp_path / "c")
    assert code == 2 and "no video could be stored" in err


BAD = [
    (
        ["data", "inspect", "/no/such/cache"],
        "/no/such/cache does not exist; build one with 'nas data synth --out /no/such/cache'",
    ),
    (["data", "build", "--videos", "/no/such/dir", "--out", "/tmp/x"], "does not exist"),
    (
        ["data", "synth", "--out", "/tmp/x", "--classes", "99"],
        "argument --classes: 99 is out of range; give a whole number from 2 to 12",
    ),
    (["data", "synth", "--out", "/tmp/x", "--codec", "png"], "invalid choice"),
    (["data", "synth", "--out", "/tmp/x", "--workers", "0"], "--workers"),
    (["data", "synth", "--images", "--out", "/tmp/x", "--frames", "16"], "images are one frame"),
    (["data", "synth", "--images", "--out", "/tmp/x", "--classes", "11"], "classes must be a whole number in [2, 10]"),
    (["data", "build", "--videos", "/tmp", "--out", "/tmp/x", "--short-side", "2"], "--short-side"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a[:2]) + f" {i}" for i, (a, _) in enumerate(BAD)])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_inspect_checks_clip_length(capsys, synth_cache):
    assert run(capsys, "data", "inspect", synth_cache, "--clip", "6x2")[0] == 0
    code, _, err = run(capsys, "data", "inspect", synth_cache, "--clip", "8x2")
    assert code == 2 and "span 15 frames, but its shortest 'train' video has 12" in err
    code, _, err = run(capsys, "data", "inspect", synth_cache, "--clip", "eight")
    assert code == 2 and "FRAMESxSTRIDE" in err


def test_inspect_of_a_bad_sheet_path(capsys, synth_cache):
    code, _, err = run(capsys, "data", "inspect", synth_cache, "--sheet", "/no/such/folder/s.png")
    assert code == 2 and "does not exist" in err
