"""Bad input on the command line and in files: one line, exit 2, and nothing written (no ledger, no cache)."""

from __future__ import annotations

import os
import stat

import pytest

from .conftest import TINY_SEARCH, assert_one_line_failure, listing

EXPORT_LINES = {
    "format": '"nas-export/1"',
    "space": '"x3d"',
    "space_version": '"1"',
    "settings": "{}",
    "point": '{"frames": 4, "stride": 12, "crop": 160, "width": 1, "bottleneck": 2.25, "depth": 2.2}',
}


def tiny_search_with_option(item: str) -> list[str]:
    """TINY_SEARCH with one --space-option replaced (a key given twice is refused)."""
    key = item.partition("=")[0]
    argv = list(TINY_SEARCH)
    for i, value in enumerate(argv[:-1]):
        if argv[i] == "--space-option" and argv[i + 1].startswith(key + "="):
            del argv[i : i + 2]
            break
    return [*argv, "--space-option", item]


COMMAND_LINE = [
    (["search", "--space", "x4d"], "unknown space 'x4d'"),
    (["search", "--strategy", "annealing"], "unknown strategy 'annealing'"),
    (["flops", "--space", "x3d", "--preset", "XXL"], "unknown preset 'XXL'"),
    (["flops", "--space", "x3d", "--point", "colour=3"], "unknown axis 'colour'"),
    (["flops", "--space", "x3d", "--point", "frames=99"], "outside the valid range"),
    (["flops", "--space", "x3d", "--point", "width=-1"], "outside the valid range"),
    (["flops", "--space", "x3d", "--point", "frames16"], "malformed point"),
    ([*TINY_SEARCH, "--target-gflops", "0.0001"], "below the base network"),
    ([*TINY_SEARCH, "--target-gflops", "100000"], "above this space's largest network"),
    ([*TINY_SEARCH, "--target-gflops", "-1"], "argument --target-gflops: -1 is out of range"),
    ([*TINY_SEARCH, "--budget", "0"], "argument --budget: 0 is out of range"),
    ([*TINY_SEARCH, "--lr", "0"], "argument --lr: 0 is out of range"),
    ([*TINY_SEARCH, "--time-limit", "soon"], "argument --time-limit: 'soon' is not a duration"),
    ([*TINY_SEARCH, "--device", "tpu"], "unknown device 'tpu'"),
    (tiny_search_with_option("base_crop=["), "not valid YAML"),
    (tiny_search_with_option("head_width=nan"), "setting head_width must be a whole number"),
    ([*TINY_SEARCH, "--space-option", "stage_blocks=3"], "setting stage_blocks must be a list"),
    ([*TINY_SEARCH, "--space-option", "colour=3"], "has no setting 'colour'"),
    (["search", "--data", "synth:colours=3"], "unknown setting 'colours'"),
    (["search", "--data", "synth:classes=99"], "classes must be a whole number in [2, 12]"),
    (["worker", "--study", "s", "--storage", "nothing-here.db", "--wait", "0"], "no ledger at"),
    (["report", "--storage", "nothing-here.db"], "no ledger at"),
    ([*TINY_SEARCH, "--space-option", "head_width=64"], "'head_width' is given twice"),
    (["search", "--data", "synth:"], "nothing after the colon"),
    (["search", "--storage", "sqlite://"], "in-memory database"),
    (["search", "--study", "../escape"], "is not a study name"),
    (["search", "--threads", "0"], "argument --threads: 0 is out of range"),
    (["worker", "--study", "s", "--storage", "x.db", "--wait", "nan"], "argument --wait: nan is out of range"),
    (["data", "synth", "--out", "c", "--seed", "-1"], "argument --seed: -1 is out of range"),
    (["data", "synth", "--out", ""], "argument --out: the path is empty"),
    (["bench", "build", "--out", "t.h5", "--target-gflops", "inf"], "argument --target-gflops: inf is out of range"),
    (
        [
            "bench",
            "build",
            "--out",
            "t.h5",
            "--target-gflops",
            "0.00001",
            "--data",
            "synth:classes=4,clips_per_class=6,frames=16,size=32",
        ],
        "below the base network",
    ),
]


@pytest.mark.parametrize("argv, message", COMMAND_LINE, ids=[" ".join(a[-2:]) for a, _ in COMMAND_LINE])
def test_bad_command_line_input(nas, argv, message):
    assert_one_line_failure(nas(*argv), message, code=2)
    assert listing(nas.folder) == {}, "bad input wrote something"


def test_an_output_is_never_written_over_a_device(nas):
    before = os.stat("/dev/full")
    outcome = nas("space", "export", "x3d", "--format", "json", "--out", "/dev/full")
    assert_one_line_failure(outcome, "/dev/full is a character device", "never replaced", code=2)
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_a_binary_file_as_an_export(nas):
    (nas.folder / "best.yaml").write_bytes(bytes(range(256)) * 4)
    assert_one_line_failure(nas("flops", "--exported", "best.yaml"), "is not UTF-8 text", code=2)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda lines: lines | {"point": '{"frames": 4'}, "line 5, is not a nas export line"),
        (lambda lines: {k: v for k, v in lines.items() if k != "point"}, "it lacks point"),
        (lambda lines: lines | {"format": '"nas-export/9"'}, "has format 'nas-export/9'"),
        (lambda lines: lines | {"space": '"x4d"'}, "unknown space 'x4d'"),
        (lambda lines: lines | {"point": '{"frames": 999}'}, "outside the valid range"),
        (lambda lines: lines | {"settings": '{"head_width": "wide"}'}, "setting head_width must be a whole number"),
    ],
    ids=["truncated YAML", "missing key", "newer format", "unknown space", "bad point", "bad setting"],
)
def test_bad_export_files(nas, edit, message):
    text = "".join(f"{key}: {value}\n" for key, value in edit(dict(EXPORT_LINES)).items())
    (nas.folder / "best.yaml").write_text(text)
    assert_one_line_failure(nas("flops", "--exported", "best.yaml"), message, code=2)
    assert listing(nas.folder) == {"best.yaml": text.encode()}


def test_a_good_export_file_reads(nas):
    (nas.folder / "best.yaml").write_text("".join(f"{key}: {value}\n" for key, value in EXPORT_LINES.items()))
    done = nas("flops", "--exported", "best.yaml", "--json")
    assert done.code == 0 and '"preset": null' in done.out and "frames=4,stride=12,crop=160" in done.out
