"""One way to translate what Ayiq shows people: gettext catalogs (Babel) for templates and Python strings.

Every page and report (network, phone, cell, case, targets, dashboard, case form) renders through
:func:`environment`, which installs jinja2's i18n extension with the catalog of the chosen language. Templates
write whole sentences as ``{% trans %}...{% endtrans %}`` or ``{{ _("...") }}``, never sentences assembled from
fragments, so each can be translated as a whole. Python code that builds text for people uses
:func:`translator`. Catalogs live in ``ayiq/locale/<lang>/LC_MESSAGES/ayiq.po`` (compiled ``.mo`` beside
them); a language missing a catalog falls back to English. Languages: English (``en``, the source),
Azerbaijani in Latin script (``az``) and Russian (``ru``).
"""

from __future__ import annotations

import gettext
import os
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import jinja2

LANGUAGES = ("en", "az", "ru")
DEFAULT_LANGUAGE = "en"
DOMAIN = "ayiq"


def locale_dir() -> Path:
    """The folder of the packaged catalogs."""
    return Path(str(files("ayiq") / "locale"))


def normalise(lang: str | None) -> str:
    """``az_AZ.UTF-8``, ``ru-RU``, ``AZ`` -> ``az``, ``ru``; unknown or empty -> English."""
    if not lang:
        lang = os.environ.get("AYIQ_LANG") or DEFAULT_LANGUAGE
    code = lang.replace("-", "_").split(".")[0].split("_")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def from_accept_language(header: str | None) -> str:
    """The first supported language of an HTTP ``Accept-Language`` header, by quality."""
    if not header:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, str]] = []
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = name.strip().replace("-", "_").split("_")[0].lower()
        if code in LANGUAGES:
            ranked.append((quality, code))
    return max(ranked)[1] if ranked else DEFAULT_LANGUAGE


@lru_cache(maxsize=8)
def translations(lang: str | None = None) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English and missing catalogs: the source strings as they are)."""
    code = normalise(lang)
    if code == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(locale_dir()), languages=[code], fallback=True)


def translator(lang: str | None = None) -> gettext.NullTranslations:
    """For Python code: ``_ = translator(lang).gettext``; ``ngettext`` for plurals."""
    return translations(lang)


def environment(package: str, folder: str = "templates", lang: str | None = None, **options: object) -> jinja2.Environment:
    """A jinja2 environment for ``package``'s templates, autoescaping, with ``lang``'s catalog installed.

    ``lang`` is also available to templates as the global ``lang`` (for ``<html lang=...>`` and formatting).
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        autoescape=jinja2.select_autoescape(["html", "j2", "xml"]),
        extensions=["jinja2.ext.i18n"],
        **options,  # type: ignore[arg-type]
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = normalise(lang)
    return env
