"""The command-line reference as Markdown, generated from the ``nas`` parsers themselves.

The documentation site builds its command-line page from :func:`render` (``docs/gen_reference.py``), so
the reference lists exactly the commands and options the parser accepts, with the help text ``--help``
prints: a flag added, renamed or removed changes the page, and nothing in it is written by hand.
"""

from __future__ import annotations

from .cli import build_parser, iter_commands, options_of


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (pipes escaped, no line breaks)."""
    return " ".join(text.split()).replace("|", "\\|")


def render_command(path: tuple[str, ...], parser) -> str:
    """One command's section: its description, usage line and a table of every argument."""
    title = " ".join(("nas", *path))
    usage = " ".join(parser.format_usage().split())
    lines = [f"## `{title}`", ""]
    if parser.description:
        lines += [" ".join(parser.description.split()), ""]
    lines += ["```text", usage, "```", "", "| argument | required | what it is |", "|---|---|---|"]
    for option in options_of(parser):
        lines.append(f"| `{_cell(option.invocation)}` | {'yes' if option.required else ''} | {_cell(option.help)} |")
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole reference: every leaf command of ``nas``, in the order ``nas --help`` lists them."""
    parser = build_parser()
    header = [
        "# Command-line reference",
        "",
        "Generated from the `nas` argument parsers when the site is built (`nas/cli_reference.py`); each",
        "table lists every argument of one command with the help `--help` prints, ranges included.",
        "",
        f"{' '.join(parser.description.split())} Every command also takes `-q`/`--quiet` and `-v`/`--verbose`; "
        "exit status 0 done, 2 bad input, 1 a failure at run time, 130 interrupted.",
        "",
    ]
    return "\n".join(header) + "\n" + "\n".join(render_command(path, leaf) for path, leaf in iter_commands(parser))
