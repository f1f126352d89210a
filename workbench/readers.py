"""Reading extract files into raw text tables: CSV with a sniffed delimiter and encoding, or XLSX.

Every value stays the text of the file ('' when empty) so that validation can report it as the
user wrote it. Excel cells that hold numbers or dates become the text that parses back to the
same value: `1234.5`, `2026-12-31`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import logging
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InvalidInput, Problem
from .i18n import _

log = logging.getLogger(__name__)

DELIMITERS = (";", ",", "\t")
XLSX_DELIMITER = ";"  # used for the rejected-rows file of an XLSX input
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the binary .xls format of Excel 97-2003
_BAD_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


@dataclass(frozen=True)
class RawTable:
    """An extract file's header and data rows, every value as the text of the file."""

    file_name: str
    headers: tuple[str, ...]
    # One column per header position (labels 0, 1, ...), str values, '' when empty; rows that
    # are empty in every column are left out.
    frame: pd.DataFrame
    # The row number of each frame row as a spreadsheet shows it: the header row is row 1.
    row_numbers: np.ndarray
    delimiter: str
    encoding: str


def read_bytes(path: str | Path) -> bytes:
    """Return a file's content; raise `InvalidInput` when it is missing or cannot be read."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _file_error(path, _("file not found")) from None
    except IsADirectoryError:
        raise _file_error(path, _("this is a folder, not a file")) from None
    except OSError as error:
        raise _file_error(
            path, _("file is not readable: {error}").format(error=error.strerror or error)
        ) from None


def parse_table(data: bytes, path: str | Path) -> RawTable:
    """Read the content of a CSV or XLSX file into a `RawTable`.

    Raises `InvalidInput` when the file is empty, has no data rows, is in a format other than
    CSV or XLSX, or has rows with more fields than the header.
    """
    path = Path(path)
    if not data or data.isspace():
        raise _file_error(path, _("file is empty"))
    if data.startswith(_ZIP_MAGIC):
        table = _parse_xlsx(data, path)
    elif data.startswith(_OLE2_MAGIC):
        raise _file_error(path, _("old Excel format (.xls). Save the file as XLSX or CSV"))
    else:
        table = _parse_csv(data, path)

    if table.frame.empty:
        raise _file_error(path, _("file has a header row but no data rows"))
    log.info("read %s: %d rows, %d columns, delimiter %r, encoding %s", path.name,
             len(table.frame), len(table.headers), table.delimiter, table.encoding)
    return table


def read_table(path: str | Path) -> RawTable:
    """Read a CSV or XLSX extract file into a `RawTable`."""
    return parse_table(read_bytes(path), path)


def _parse_csv(data: bytes, path: Path) -> RawTable:
    encoding = _detect_encoding(data, path)
    first_line = _first_line(data, encoding)
    delimiter = _sniff_delimiter(first_line)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                io.BytesIO(data),
                sep=delimiter,
                header=None,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,  # keeps the index equal to the row number minus one
                encoding=encoding,
                on_bad_lines="warn",
                engine="c",
            )
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise _file_error(
                path, _("file is not a readable CSV file: {error}").format(error=error)
            ) from None

    bad_lines = [
        match.groups()
        for warning in caught
        for match in _BAD_LINE.finditer(str(warning.message))
    ]
    if bad_lines:
        raise InvalidInput(
            _("{file}: some rows have more fields than the header row").format(file=path.name),
            [
                Problem(path.name, int(line), None, None,
                        _("row has {found} fields, the header row has {expected}").format(
                            found=found, expected=expected))
                for line, expected, found in bad_lines
            ],
        )

    # With na_filter off, pandas gives '' for every empty or missing field, never NaN.
    return _split_header(frame, path, delimiter, encoding)


def _detect_encoding(data: bytes, path: Path) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if b"\x00" in data:
        raise _file_error(
            path, _("file is binary or UTF-16, not a CSV file. Save it as CSV in UTF-8")
        )
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError as error:
        raise _file_error(
            path,
            _("file is neither UTF-8 nor Windows-1252 text (byte {position})").format(
                position=error.start
            ),
        ) from None


def _first_line(data: bytes, encoding: str) -> str:
    for line in data[:1_000_000].decode(encoding, errors="replace").splitlines():
        if line.strip():
            return line
    return ""


def _sniff_delimiter(line: str) -> str:
    # Delimiters are counted outside quotes in the header row, where no value can hide one.
    # Ties go to the first of `DELIMITERS`, and a one-column header reads with any of them.
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else DELIMITERS[0]


def _parse_xlsx(data: bytes, path: Path) -> RawTable:
    import openpyxl  # only XLSX files need it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, zlib.error, EOFError, KeyError, OSError,
            ValueError, SyntaxError) as error:
        raise _file_error(
            path, _("file is not a readable XLSX file: {error}").format(error=error)
        ) from None

    try:
        if not workbook.worksheets:
            raise _file_error(path, _("workbook has no worksheet"))
        sheet = workbook.worksheets[0]
        rows = [
            [_cell_text(value) for value in values]
            for values in sheet.iter_rows(values_only=True)
        ]
    # Read-only mode inflates and parses the sheet only while iterating, so a damaged archive
    # fails here: zlib.error for bad compressed data, SyntaxError (ParseError) for broken XML.
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, ValueError,
            SyntaxError) as error:
        raise _file_error(
            path, _("file is not a readable XLSX file: {error}").format(error=error)
        ) from None
    finally:
        workbook.close()

    width = max((len(row) for row in rows), default=0)
    frame = pd.DataFrame(
        [row + [""] * (width - len(row)) for row in rows], columns=range(width), dtype=str
    )
    return _split_header(frame, path, XLSX_DELIMITER, "xlsx")


def _cell_text(value: object) -> str:
    """Return an Excel cell's value as the text that validation parses back to it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        # A date cell is a datetime at midnight; a time of day stays visible, and is then
        # rejected as a date.
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        # Excel keeps 15 significant digits, so this is the number the cell shows: a stored
        # 0.30000000000000004 reads as 0.3, and 1234.0 as 1234.
        return format(value, ".15g")
    return str(value)


def _split_header(frame: pd.DataFrame, path: Path, delimiter: str, encoding: str) -> RawTable:
    blank = _blank_rows(frame)
    filled = np.flatnonzero(~blank)
    if len(filled) == 0:
        raise _file_error(path, _("file is empty"))

    header_index = filled[0]
    headers = tuple(str(value) for value in frame.iloc[header_index])
    data_rows = filled[1:]
    body = frame.iloc[data_rows].reset_index(drop=True)
    return RawTable(
        file_name=path.name,
        headers=headers,
        frame=body,
        row_numbers=frame.index.to_numpy()[data_rows] + 1,
        delimiter=delimiter,
        encoding=encoding,
    )


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    blank = np.ones(len(frame), dtype=bool)
    for column in frame.columns:
        candidates = np.flatnonzero(blank)
        if len(candidates) == 0:
            break
        values = frame[column].to_numpy(dtype=object)[candidates]
        blank[candidates] = np.fromiter(
            (not value.strip() for value in values), bool, len(values)
        )
    return blank


def _file_error(path: Path, reason: str) -> InvalidInput:
    return InvalidInput(
        _("{file}: {reason}").format(file=path, reason=reason),
        [Problem(path.name, None, None, None, reason)],
    )
