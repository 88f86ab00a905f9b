"""Every command a user can run is documented in the project's own docs."""

from pathlib import Path

import typer.main

from gauntlet.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _commands(command, prefix=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*prefix, name))
    else:
        yield " ".join(prefix)


def test_every_cli_command_appears_in_the_docs():
    docs = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 20
    missing = []
    for command in commands:
        # written in full ("gauntlet challenge publish") or as code ("`challenge publish`")
        if f"gauntlet {command}" not in docs and f"`{command}" not in docs:
            missing.append(command)
    assert not missing, f"commands missing from docs/: {missing}"


def test_the_readme_links_the_architecture_and_not_a_file_outside_the_project():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme and "../shared" not in readme
