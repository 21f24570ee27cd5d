"""English, Simplified Chinese and Malay: picked from the browser or the switcher."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOCALE = Path(__file__).resolve().parent.parent / "locale"


@pytest.mark.parametrize(
    ("accept", "check_in", "shelf_full"),
    [
        ("en", "Check in", "On the shelf"),
        ("zh-CN,zh;q=0.9", "入库", "货架"),
        ("ms-MY,ms;q=0.9", "Daftar masuk", "rak"),
    ],
)
def test_the_browser_language_is_used(login, station, owner, accept, check_in, shelf_full):
    client = login(owner)
    page = client.get(
        reverse("stations:dashboard", args=[station.slug]), headers={"accept-language": accept}
    )
    assert check_in in page.text
    assert shelf_full.lower() in page.text.lower()


def test_the_switcher_changes_the_language(client):
    client.post(reverse("set_language"), {"language": "ms", "next": "/"})
    assert "Log masuk" in client.get("/").text
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "登录" in client.get("/").text


def translations(po: str) -> list[tuple[str, str]]:
    """(msgid, first msgstr) for every live entry of a .po file."""
    quoted = re.compile(r'"((?:[^"\\]|\\.)*)"')
    found = []
    for block in po.split("\n\n")[1:]:  # the first block is the header
        text = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
        if "msgstr" not in text:
            continue
        msgid_part, msgstr_part = text.split("msgstr", 1)
        msgid_part = msgid_part.split("msgid_plural", 1)[0]
        first_str = msgstr_part.split("msgstr", 1)[0]
        found.append(("".join(quoted.findall(msgid_part)), "".join(quoted.findall(first_str))))
    return found


@pytest.mark.parametrize("language", ["zh_Hans", "ms"])
def test_every_message_is_translated_and_compiled(language):
    folder = LOCALE / language / "LC_MESSAGES"
    entries = translations((folder / "django.po").read_text())
    assert len(entries) > 300
    assert [msgid for msgid, msgstr in entries if not msgstr] == []
    # The compiled catalogue holds the same translations (compilemessages was run).
    with (folder / "django.mo").open("rb") as f:
        catalog = gettext.GNUTranslations(f)
    singular = [(i, s) for i, s in entries if "%(" not in i and "\\" not in i][:50]
    assert all(catalog.gettext(i) == s for i, s in singular)
