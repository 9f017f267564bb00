"""Reading a user's UTF-8 text file line by line, with errors that name file:line.

The one reader behind every line-oriented input (raw corpora, XTREME task files, prediction files): a missing
file, bytes that are not UTF-8 and a byte order mark are handled here once, the same way everywhere.
"""
import json
from pathlib import Path
from typing import Iterator, Optional, Tuple, Type

from fairseq_weam.errors import WeamError

BOM = "\ufeff"
UTF8_FIX = "re-encode the file as UTF-8"


def numbered_lines(path, error: Type[WeamError] = WeamError, on_bad_utf8: str = "error",
                   fix: str = UTF8_FIX) -> Iterator[Tuple[int, Optional[str]]]:
    """(line number, text without its newline) of every line of ``path``.

    A byte order mark at the start of the file is dropped (an invisible first character otherwise).
    A line that is not UTF-8 raises ``error`` naming file:line and the byte, with ``fix`` as what to do;
    with ``on_bad_utf8="skip"`` it is yielded as None instead, for the caller to count and drop.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            yield number, decoded_line(raw, path, number, error, on_bad_utf8, fix)


def decoded_line(raw: bytes, path, number: int, error: Type[WeamError] = WeamError, on_bad_utf8: str = "error",
                 fix: str = UTF8_FIX) -> Optional[str]:
    """Line ``number`` of ``path`` as :func:`numbered_lines` gives it, from its bytes (for readers that hand
    blocks of raw lines to other processes)."""
    try:
        text = raw.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError as err:
        if on_bad_utf8 == "skip":
            return None
        raise error(f"{path}:{number}: bytes that are not UTF-8 ({err.reason} at byte {err.start}: "
                    f"{raw[err.start:err.start + 4]!r}); {fix}") from None
    return text[1:] if number == 1 and text.startswith(BOM) else text


def json_object_lines(path, error: Type[WeamError] = WeamError) -> Iterator[Tuple[int, dict]]:
    """(line number, object) of every line of a JSON-lines file; an empty line or a line that is not a JSON
    object raises ``error`` naming file:line."""
    for number, line in numbered_lines(path, error):
        if not line.strip():
            raise error(f"{path}:{number}: empty line; remove it")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"{path}:{number}: not a JSON object ({err.msg}, column {err.colno})") from None
        if not isinstance(row, dict):
            raise error(f"{path}:{number}: not a JSON object")
        yield number, row
