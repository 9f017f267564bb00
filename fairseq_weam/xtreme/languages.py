"""The languages table (``languages.tsv``, shipped with the package): ISO 639-1 code, name, family, WALS
genus and script of XTREME-R's 50 languages and a few common gettext languages; sources in the file.

Reports group per-language figures by family and by script with it. A code with a region or variant
(``zh_CN``, ``pt-BR``) is looked up by its language part.
"""
import functools
import re
from pathlib import Path
from typing import Dict, NamedTuple, Optional

from fairseq_weam.errors import WeamError

TABLE = Path(__file__).with_name("languages.tsv")
COLUMNS = ("code", "name", "family", "genus", "script")
_CODE = re.compile(r"^[a-z]{2,3}$")


class LanguagesTableError(WeamError, ValueError):
    """A languages table that cannot be read."""


class Language(NamedTuple):
    code: str
    name: str
    family: str
    genus: str
    script: str


def read_languages(path=TABLE) -> Dict[str, Language]:
    """``{code: Language}`` from a table in ``languages.tsv``'s format ('#' lines are comments)."""
    path = Path(path)
    if not path.is_file():
        raise LanguagesTableError(f"{path}: no such languages table")
    table, header = {}, None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            if tuple(fields) != COLUMNS:
                raise LanguagesTableError(f"{path}:{lineno}: expected the header {' '.join(COLUMNS)} "
                                          "(tab-separated)")
            header = fields
            continue
        if len(fields) != len(COLUMNS) or not all(f.strip() for f in fields):
            raise LanguagesTableError(f"{path}:{lineno}: expected {len(COLUMNS)} non-empty tab-separated "
                                      f"fields ({', '.join(COLUMNS)}), found {len(fields)}")
        if not _CODE.match(fields[0]):
            raise LanguagesTableError(f"{path}:{lineno}: {fields[0]!r} is not a lower-case ISO 639 code")
        if fields[0] in table:
            raise LanguagesTableError(f"{path}:{lineno}: language {fields[0]!r} is listed twice")
        table[fields[0]] = Language(*fields)
    if not table:
        raise LanguagesTableError(f"{path}: no languages (a header line {' '.join(COLUMNS)} and one line each)")
    return table


@functools.lru_cache(maxsize=None)
def languages() -> Dict[str, Language]:
    """The shipped table."""
    return read_languages(TABLE)


def lookup(code: str, table: Optional[Dict[str, Language]] = None) -> Optional[Language]:
    """The language of ``code`` (``zh_CN`` -> ``zh``), or None when the table does not have it."""
    table = languages() if table is None else table
    return table.get(code) or table.get(re.split(r"[_-]", code, maxsplit=1)[0].lower())
