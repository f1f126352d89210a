"""The message catalogues: complete in French and German, compiled, and chosen as documented."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from workbench import i18n

PACKAGE = Path(i18n.__file__).parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "gettext_for": (2,)}


def _source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        PACKAGE, [("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(lang: str) -> Catalog:
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "workbench.po").open("rb") as handle:
        return read_po(handle, locale=lang)


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_catalogue_translates_every_message(lang):
    catalogue = _catalogue(lang)
    missing = sorted(
        message for message in _source_messages()
        if not (catalogue.get(message) and catalogue.get(message).string)
    )
    assert missing == [], f"untranslated in {lang}: run python -m workbench.i18n update"


@pytest.mark.parametrize("lang", ["fr", "de", "en", "it"])
def test_compiled_catalogue_matches_source(lang):
    po_path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "workbench.po"
    with po_path.open("rb") as handle:
        catalogue = read_po(handle)
    expected = io.BytesIO()
    write_mo(expected, catalogue, use_fuzzy=False)
    assert po_path.with_suffix(".mo").read_bytes() == expected.getvalue(), (
        "stale .mo file: run python -m workbench.i18n compile"
    )


def test_french_is_the_default(monkeypatch):
    monkeypatch.delenv("WORKBENCH_LANG", raising=False)
    i18n.set_language(None)
    assert i18n.current_language() == "fr"
    assert i18n._("Database schema is up to date.") == "Le schéma de la base de données est à jour."


def test_environment_chooses_language(monkeypatch):
    monkeypatch.setenv("WORKBENCH_LANG", "de")
    i18n.set_language(None)
    assert i18n._("Database schema is up to date.") == "Das Datenbankschema ist aktuell."


def test_unknown_language_is_rejected():
    with pytest.raises(ValueError, match="unknown language"):
        i18n.set_language("xx")


def test_cli_help_in_each_language(cli):
    french = cli("--help")
    german = cli("--help", lang="de")
    assert "créer ou mettre à jour le schéma" in french.out
    assert "Datenbankschema anlegen oder aktualisieren" in german.out
