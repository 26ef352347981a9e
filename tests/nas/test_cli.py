"""The ``nas`` command line: every command, and one clear line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nas.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "space" in out and "flops" in out


def test_space_list_gives_one_space_per_line_name_first(capsys):
    code, out, _ = run(capsys, "space", "list")
    lines = out.strip().splitlines()
    assert code == 0 and any(line.split("\t")[0] == "x3d" for line in lines)
    assert all(line.split("\t")[0] for line in lines)


def test_space_show_overview_and_point(capsys):
    code, out, _ = run(capsys, "space", "show", "x3d")
    assert code == 0 and "X-Bottleneck" in out and "18.368 G" in out
    code, out, _ = run(capsys, "space", "show", "x3d", "--preset", "m")
    assert code == 0 and "res5" in out and "192x16x7x7" in out and "4.732 G" in out
    code, out, _ = run(
        capsys,
        "space",
        "show",
        "x3d",
        "--point",
        "frames=16,stride=5,crop=224,width=1,bottleneck=2.25,depth=2.2",
        "--json",
    )
    shown = json.loads(out)
    assert shown["macs"] == 4732468736 and [p["part"] for p in shown["parts"]] == [
        "stem",
        "res2",
        "res3",
        "res4",
        "res5",
        "head",
    ]


def test_flops_json_is_alone_on_stdout(capsys):
    code, out, err = run(capsys, "flops", "--space", "x3d", "--preset", "L", "--json")
    result = json.loads(out)
    assert code == 0 and err == ""
    assert round(result["macs"] / 1e9, 3) == 18.368
    assert round(result["params"] / 1e6, 3) == 6.153 and round(result["params_without_bn"] / 1e6, 3) == 6.087
    assert result["input_shape"] == [1, 3, 16, 312, 312]


def test_flops_num_classes_and_measure(capsys):
    code, out, _ = run(
        capsys, "flops", "--space", "x3d", "--point", "frames=2,crop=64", "--num-classes", "10", "--json", "--measure"
    )
    result = json.loads(out)
    assert code == 0 and result["measured_matches"] and result["measured"]["uncounted_ops"] == {}
    assert result["params"] == result["measured"]["params"]


@pytest.mark.parametrize("fmt", ["optuna", "nni", "json"])
def test_space_export_formats(capsys, tmp_path, fmt):
    code, out, _ = run(capsys, "space", "export", "x3d", "--format", fmt)
    exported = json.loads(out)
    assert code == 0 and ("axes" in exported if fmt == "json" else set(exported) >= {"frames", "depth"})
    target = tmp_path / f"space.{fmt}.json"
    code, _, _ = run(capsys, "space", "export", "x3d", "--format", fmt, "--full-range", "--out", str(target))
    assert code == 0 and json.loads(target.read_text())


def test_optuna_export_loads_back_into_optuna(capsys):
    from optuna.distributions import json_to_distribution

    _, out, _ = run(capsys, "space", "export", "x3d", "--format", "optuna", "--full-range")
    frames = json_to_distribution(json.dumps(json.loads(out)["frames"]))
    assert (frames.low, frames.high, frames.log) == (1, 64, True)


BAD_INPUTS = [
    (["space", "show", "x4d"], "unknown space 'x4d'"),
    (["flops", "--space", "x3d", "--preset", "XXL"], "unknown preset 'XXL'"),
    (["flops", "--space", "x3d", "--point", "colour=3"], "unknown axis 'colour'"),
    (["flops", "--space", "x3d", "--point", "frames=99"], "outside the valid range"),
    (["flops", "--space", "x3d", "--point", "frames=1.5"], "not a whole number"),
    (["flops", "--space", "x3d", "--point", "width=wide"], "not a number"),
    (["flops", "--space", "x3d", "--point", "frames16"], "malformed point"),
    (["flops", "--space", "x3d", "--point", "frames=2,frames=4"], "given twice"),
    (["flops", "--space", "x3d", "--point", ","], "malformed point"),
    (["flops", "--space", "x3d"], "--preset --point is required"),
    (["flops", "--space", "x3d", "--preset", "M", "--num-classes", "0"], "--num-classes"),
    (["space", "export", "x3d", "--format", "yaml"], "invalid choice"),
    (["space", "export", "x3d", "--format", "nni", "--out", "/no/such/folder/x.json"], "does not exist"),
    (["nonsense"], "invalid choice"),
    ([], "required"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUTS, ids=[" ".join(a) or "(nothing)" for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("nas: error: ") and message in err


def test_the_installed_console_script_reports_without_traceback():
    nas = Path(sys.executable).parent / "nas"
    assert nas.exists(), "install the project (pip install .) so that the nas console script exists"
    ok = subprocess.run(
        [str(nas), "flops", "--space", "x3d", "--preset", "XS", "--json"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and round(json.loads(ok.stdout)["macs"] / 1e9, 3) == 0.605
    bad = subprocess.run(
        [sys.executable, "-m", "nas", "flops", "--space", "x3d", "--point", "depth=0.1"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_every_argument_of_every_command_has_help_and_every_number_a_range():
    """Help cannot drift from the parser: each argument says what it is, and each number states its range."""
    from nas.cli import iter_commands

    commands = list(iter_commands())
    assert len(commands) >= 15, "iter_commands no longer finds the subcommands (argparse internals changed?)"
    for path, parser in commands:
        for action in parser._actions:
            if action.dest == "help":
                continue
            where = f"nas {' '.join(path)} {action.option_strings or action.dest}"
            assert action.help, f"{where} has no help"
            assert action.type not in (int, float), f"{where} takes a number with no range (use nas.values)"
            if hasattr(action.type, "describe"):
                shown = " ".join(parser.format_help().split())  # argparse wraps lines anywhere
                assert f"[{' '.join(action.type.describe().split())}]" in shown, f"{where}: its range is not in --help"
