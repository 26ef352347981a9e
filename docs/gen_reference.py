"""Writes the command-line reference page from the ``nas`` parsers when the site is built (mkdocs-gen-files)."""

import mkdocs_gen_files

from nas.cli_reference import render

with mkdocs_gen_files.open("reference/cli.md", "w") as page:
    page.write(render())
