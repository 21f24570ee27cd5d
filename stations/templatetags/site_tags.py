"""Tags of the site's frame (templates/base.html), which every page renders."""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def language_options() -> SafeString:
    """The language switcher's <option>s, the current language selected, each language named in
    itself. The same for every page in a language, so built once per language and process."""
    return _language_options(translation.get_language())


@functools.cache
def _language_options(current: str) -> SafeString:
    return format_html_join(
        "\n",
        '<option value="{}"{}>{}</option>',
        (
            (code, mark_safe(" selected") if code == current else "", info["name_local"])
            for code, info in ((c, translation.get_language_info(c)) for c, _ in settings.LANGUAGES)
        ),
    )
