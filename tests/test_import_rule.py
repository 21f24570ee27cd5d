"""The import rule of the README's Layout, as `make test` checks it with import-linter: the apps'
rules import in one direction (parcels -> stations -> partners -> config) and never a face."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_apps_rules_import_in_one_direction_and_never_a_face(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert kept == 0, capsys.readouterr().out
