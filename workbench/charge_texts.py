"""Charge-line texts, printed on the customer's next invoice in the customer's language.

The texts come from the message catalogue in the customer's language (French, German, Italian
or English), whatever the language of the screens. Dates are written the Swiss way in every
language: `Solde facture 2019-1234 du 03.10.2019`.
"""

from __future__ import annotations

import datetime as dt

from .dates import format_date
from .i18n import gettext_for

CUSTOMER_LANGUAGES = ("fr", "de", "it", "en")
DEFAULT_LANGUAGE = "fr"


def customer_language(lang: object) -> str:
    """Return a supported customer language, French for unknown or missing ones."""
    if isinstance(lang, str) and lang.strip().lower() in CUSTOMER_LANGUAGES:
        return lang.strip().lower()
    return DEFAULT_LANGUAGE


def _template(lang: str, credit: bool, several: bool, dated: bool) -> str:
    # Whole sentences per case, so that each language can order its words freely.
    if several:
        if credit:
            if dated:
                return gettext_for(lang, "Balance of {count} items, incl. credit note {document} of {date}")
            return gettext_for(lang, "Balance of {count} items, incl. credit note {document}")
        if dated:
            return gettext_for(lang, "Balance of {count} items, incl. invoice {document} of {date}")
        return gettext_for(lang, "Balance of {count} items, incl. invoice {document}")
    if credit:
        if dated:
            return gettext_for(lang, "Balance of credit note {document} of {date}")
        return gettext_for(lang, "Balance of credit note {document}")
    if dated:
        return gettext_for(lang, "Balance of invoice {document} of {date}")
    return gettext_for(lang, "Balance of invoice {document}")


def charge_text(
    lang: object,
    document_no: str,
    document_date: dt.date | None,
    open_cents: int,
    count: int = 1,
) -> str:
    """Return the text of a charge line for one source document, or for `count` netted ones.

    `open_cents` is the source document's own open amount: negative means a credit note.
    """
    lang = customer_language(lang)
    template = _template(lang, open_cents < 0, count > 1, document_date is not None)
    return template.format(document=document_no, count=count, date=format_date(document_date))
