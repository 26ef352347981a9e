"""Bad input on the command line and in files: one line, exit 2, and nothing written (no ledger, no cache)."""

from __future__ import annotations

import pytest

from .conftest import TINY_SEARCH, assert_one_line_failure, listing

EXPORT_LINES = {
    "format": '"nas-export/1"', "space": '"x3d"', "space_version": '"1"', "settings": "{}",
    "point": '{"frames": 4, "stride": 12, "crop": 160, "width": 1, "bottleneck": 2.25, "depth": 2.2}',
}

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
    ([*TINY_SEARCH, "--target-gflops", "-1"], "must be positive"),
    ([*TINY_SEARCH, "--budget", "0"], "--budget must be at least 1"),
    ([*TINY_SEARCH, "--lr", "0"], "--lr must be a positive number"),
    ([*TINY_SEARCH, "--time-limit", "soon"], "not a positive duration"),
    ([*TINY_SEARCH, "--device", "tpu"], "unknown device 'tpu'"),
    ([*TINY_SEARCH, "--space-option", "base_crop=["], "not valid YAML"),
    ([*TINY_SEARCH, "--space-option", "head_width=nan"], "setting head_width must be a whole number"),
    ([*TINY_SEARCH, "--space-option", "stage_blocks=3"], "setting stage_blocks must be a list"),
    ([*TINY_SEARCH, "--space-option", "colour=3"], "has no setting 'colour'"),
    (["search", "--data", "synth:colours=3"], "unknown setting 'colours'"),
    (["search", "--data", "synth:classes=99"], "classes must be a whole number in [2, 12]"),
    (["worker", "--study", "s", "--storage", "nothing-here.db", "--wait", "0"], "no ledger at"),
    (["report", "--storage", "nothing-here.db"], "no ledger at"),
]


@pytest.mark.parametrize("argv, message", COMMAND_LINE, ids=[" ".join(a[-2:]) for a, _ in COMMAND_LINE])
def test_bad_command_line_input(nas, argv, message):
    assert_one_line_failure(nas(*argv), message)
    assert listing(nas.folder) == {}, "bad input wrote something"


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines | {"point": '{"frames": 4'}, "line 5, is not a nas export line"),
    (lambda lines: {k: v for k, v in lines.items() if k != "point"}, "it lacks point"),
    (lambda lines: lines | {"format": '"nas-export/9"'}, "has format 'nas-export/9'"),
    (lambda lines: lines | {"space": '"x4d"'}, "unknown space 'x4d'"),
    (lambda lines: lines | {"point": '{"frames": 999}'}, "outside the valid range"),
    (lambda lines: lines | {"settings": '{"head_width": "wide"}'}, "setting head_width must be a whole number"),
], ids=["truncated YAML", "missing key", "newer format", "unknown space", "bad point", "bad setting"])
def test_bad_export_files(nas, edit, message):
    text = "".join(f"{key}: {value}\n" for key, value in edit(dict(EXPORT_LINES)).items())
    (nas.folder / "best.yaml").write_text(text)
    assert_one_line_failure(nas("flops", "--exported", "best.yaml"), message)
    assert listing(nas.folder) == {"best.yaml": text.encode()}


def test_a_good_export_file_reads(nas):
    (nas.folder / "best.yaml").write_text("".join(f"{key}: {value}\n" for key, value in EXPORT_LINES.items()))
    done = nas("flops", "--exported", "best.yaml", "--json")
    assert done.code == 0 and '"preset": null' in done.out and "frames=4,stride=12,crop=160" in done.out
