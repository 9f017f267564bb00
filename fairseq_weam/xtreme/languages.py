"""The languages table (``languages.tsv``, shipped with the package): ISO 639-1 code, name, family, WALS
genus, script and resource class (Joshi et al. 2020, 0-5) of XTREME-R's 50 languages and a few common
gettext languages; sources in the file. The resource column is optional in a user's own table.

Reports group per-language figures by family, by script and by resource class with it. A code with a region or variant
(``zh_CN``, ``pt-BR``) is looked up by its language part.
"""
import functools
import re
from pathlib import Path
from typing import Dict, NamedTuple, Optional

from fairseq_weam.errors import WeamError

TABLE = Path(__file__).with_name("languages.tsv")
COLUMNS = ("code", "name", "family", "genus", "script")
OPTIONAL_COLUMNS = ("resource",)
RESOURCE_CLASSES = range(6)
_CODE = re.compile(r"^[a-z]{2,3}$")


class LanguagesTableError(WeamError, ValueError):
    """A languages table that cannot be read."""


class Language(NamedTuple):
    code: str
    name: str
    family: str
    genus: str
    script: str
    resource: Optional[int] = None  # Joshi et al. 2020 class, 0 (left-behind) to 5 (winner)


def read_languages(path=TABLE) -> Dict[str, Language]:
    """``{code: Language}`` from a table in ``languages.tsv``'s format ('#' lines are comments)."""
    path = Path(path)
    if not path.is_file():
        raise LanguagesTableError(f"{path}: no such languages table")
    table, header, width = {}, None, len(COLUMNS)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            if tuple(fields) not in (COLUMNS, COLUMNS + OPTIONAL_COLUMNS):
                raise LanguagesTableError(f"{path}:{lineno}: expected the header {' '.join(COLUMNS)} "
                                          f"[{' '.join(OPTIONAL_COLUMNS)}] (tab-separated)")
            header, width = fields, len(fields)
            continue
        if len(fields) != width or not all(f.strip() for f in fields):
            raise LanguagesTableError(f"{path}:{lineno}: expected {width} non-empty tab-separated "
                                      f"fields ({', '.join(header)}), found {len(fields)}")
        if not _CODE.match(fields[0]):
            raise LanguagesTableError(f"{path}:{lineno}: {fields[0]!r} is not a lower-case ISO 639 code")
        if fields[0] in table:
            raise LanguagesTableError(f"{path}:{lineno}: language {fields[0]!r} is listed twice")
        if width > len(COLUMNS):
            if not (fields[-1].isdigit() and int(fields[-1]) in RESOURCE_CLASSES):
                raise LanguagesTableError(f"{path}:{lineno}: resource class {fields[-1]!r} is not one of "
                                          f"Joshi et al.'s classes 0-5")
            fields[-1] = int(fields[-1])
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
