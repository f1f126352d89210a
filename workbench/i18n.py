"""The message catalogue: every text a user sees goes through `_` (gettext, compiled with Babel).

Source texts are English; French is the default language, German and English are complete.
The language comes from `set_language`, else `WORKBENCH_LANG`, else French.

Update the catalogues after changing texts:

    python -m workbench.i18n update    # extract, merge into fr/de/en .po files
    python -m workbench.i18n compile   # write the .mo files the package loads
"""

from __future__ import annotations

import gettext
import os
import sys
from functools import cache
from pathlib import Path

LANGUAGES = ("fr", "de", "en")
DEFAULT_LANGUAGE = "fr"
DOMAIN = "workbench"
LOCALE_DIR = Path(__file__).with_name("locale")

_current: str | None = None


def set_language(lang: str | None) -> str:
    """Choose the language of every following message; `None` falls back to the environment."""
    global _current
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    _current = lang
    return current_language()


def current_language() -> str:
    """Return the language in force: the chosen one, else `WORKBENCH_LANG`, else French."""
    if _current:
        return _current
    env = os.environ.get("WORKBENCH_LANG", "").strip().lower()
    return env if env in LANGUAGES else DEFAULT_LANGUAGE


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """Return the compiled catalogue of one language (English falls back to the source texts)."""
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    """Translate a message into the current language."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Translate a message with a count into the current language."""
    return translations(current_language()).ngettext(singular, plural, count)


def gettext_for(lang: str, message: str) -> str:
    """Translate a message into a given language (charge-line texts use the customer's)."""
    lang = lang if lang in LANGUAGES or lang == "it" else DEFAULT_LANGUAGE
    return translations(lang).gettext(message)


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet."""
    return message


def _update_catalogues() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    package_dir = Path(__file__).parent
    template = Catalog(project="workbench", charset="utf-8")
    method_map = [("**.py", "python")]
    keywords = {"_": None, "N_": None, "ngettext": (1, 2), "gettext_for": (2,)}
    for filename, lineno, message, comments, context in extract_from_dir(
        package_dir, method_map, keywords=keywords
    ):
        template.add(message, locations=[(filename, lineno)], auto_comments=comments)

    for lang in (*LANGUAGES, "it"):
        po_path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        po_path.parent.mkdir(parents=True, exist_ok=True)
        if po_path.exists():
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=lang)
        else:
            catalog = Catalog(locale=lang, project="workbench", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        with po_path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, sort_output=True,
                     include_previous=False)
        print(f"updated {po_path}")


def _compile_catalogues() -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        with po_path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        print(f"compiled {po_path.with_suffix('.mo')}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        _update_catalogues()
    elif command == "compile":
        _compile_catalogues()
    else:
        sys.exit("usage: python -m workbench.i18n update|compile")
