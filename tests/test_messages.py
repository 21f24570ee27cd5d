"""Every message the code and the templates show has a translation in each language.

`make messages` (manage.py makemessages) is run on a copy of the sources, so the tracked
catalogues are left alone; the merged catalogues must then hold no empty and no fuzzy entry. A new
`gettext_lazy("…")` that nobody translated fails here, before a Malay or Chinese reader meets it in
English.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["zh_Hans", "ms"]
# What makemessages reads (its default extensions) and the catalogues it merges into.
COPIED = {".py", ".html", ".txt", ".po"}


def make_messages_ignores() -> list[str]:
    """The --ignore options `make messages` passes, read from the Makefile so that the test checks
    exactly the messages the target extracts."""
    found = re.search(r"^MESSAGE_IGNORE\s*:=(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile's messages target lost its MESSAGE_IGNORE list"
    return shlex.split(found.group(1))


def copy_sources(destination: Path, ignores: list[str]) -> None:
    skipped = {option.split("=", 1)[1] for option in ignores} | {".git"}

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {
            name
            for name in names
            if name in skipped
            or (not (Path(folder) / name).is_dir() and Path(name).suffix not in COPIED)
        }

    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)


def entries(po_text: str) -> list[str]:
    """The msgids of a .po file (or of msgattrib's output), header left out."""
    msgids = []
    for block in po_text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        text = "\n".join(lines)
        if "msgid" not in text:
            continue
        msgid_part = text.split("msgid", 1)[1].split("msgid_plural", 1)[0].split("msgstr", 1)[0]
        msgid = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', msgid_part))
        if msgid:
            msgids.append(msgid)
    return msgids


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> dict[str, Path]:
    """language → the catalogue `make messages` would leave, made in a copy of the sources."""
    for program in ("xgettext", "msgmerge", "msgattrib"):
        if shutil.which(program) is None:
            pytest.fail(f"{program} is missing: apt-get install gettext")
    ignores = make_messages_ignores()
    copy = tmp_path_factory.mktemp("messages") / "src"
    copy_sources(copy, ignores)
    locales = [f"--locale={language}" for language in LANGUAGES]
    subprocess.run(  # noqa: S603 - our own manage.py on a copy of our sources
        [sys.executable, "manage.py", "makemessages", *locales, "--no-obsolete", *ignores],
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy), "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        capture_output=True,
        text=True,
    )
    return {
        language: copy / "locale" / language / "LC_MESSAGES" / "django.po" for language in LANGUAGES
    }


def msgattrib(po: Path, *options: str) -> list[str]:
    program = shutil.which("msgattrib")
    assert program is not None
    answer = subprocess.run(  # noqa: S603 - gettext's tool on our own file
        [program, *options, str(po)], check=True, capture_output=True, text=True
    )
    return entries(answer.stdout)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_in_the_code_is_translated(merged, language):
    po = merged[language]
    assert len(entries(po.read_text())) > 300  # the extraction found the code's messages
    assert msgattrib(po, "--untranslated", "--no-obsolete") == []
    # msgmerge guesses a translation for a new message from a similar old one and marks it fuzzy:
    # a guess is not a translation.
    assert msgattrib(po, "--only-fuzzy", "--no-obsolete") == []
