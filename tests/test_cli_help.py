"""`--help` of every command reads clean, and the README's command list names every command and
every option."""

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sparsearch.cli import app

COMMANDS = typer.main.get_command(app).commands
ARGUMENTS = {"run": "[CONFIG]", "show": "[EXPERIMENT]", "measure": "[EXPERIMENT]", "front": "[EXPERIMENT]",
             "rm": "EXPERIMENT", "export-model": "KEY"}  # how each command's usage line ends
README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_no_typer_artefacts(command):
    text = _help(*([command] if command else []))
    assert "<bool>" not in text and "[[" not in text
    assert not re.search(r"\{[a-zA-Z_-]+\}", text), text  # `{experiment}` for a required argument
    usage = next(line for line in text.splitlines() if "Usage:" in line).split()
    if command in ARGUMENTS:
        assert usage[-1] == ARGUMENTS[command]


def test_the_readme_lists_every_command_and_option():
    block = README[README.index("## Commands"):]
    block = block[:block.index("```\n", block.index("```sh") + 5)]
    for name, command in COMMANDS.items():
        assert f"sparsearch {name} " in block, name
        for param in command.params:
            flags = [f for f in (*param.opts, *param.secondary_opts) if f.startswith("--")]
            if flags and "--help" not in flags:
                assert any(re.search(rf"{re.escape(f)}\b", block) for f in flags), (name, flags)
    assert "sparsearch --version" in block
