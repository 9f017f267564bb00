"""Read compiled gettext catalogs (``.mo``) as English -> translation message pairs.

Every Linux machine carries thousands of human translations of short UI strings in
``/usr/share/locale/<lang>/LC_MESSAGES/*.mo``. They make a small, real, multi-domain parallel corpus
for tests and demos without any download. This module parses the binary ``.mo`` format itself (both
byte orders), decodes with the catalog's declared charset and cleans each side into plain text.
"""
import re
import struct
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from fairseq_weam.errors import WeamError

DEFAULT_LOCALE_DIR = "/usr/share/locale"

_MO_MAGIC = 0x950412DE
_CONTEXT_SEPARATOR = b"\x04"
_PLURAL_SEPARATOR = b"\x00"


class GettextCatalogError(WeamError, ValueError):
    """A catalog file or directory cannot be used (not a .mo file, truncated, no catalogs)."""


class CatalogMessage(NamedTuple):
    """One cleaned message: the program (gettext domain) it belongs to, its English text and translation."""

    domain: str
    english: str
    translation: str


def read_mo(path) -> Tuple[Dict[str, str], List[Tuple[bytes, bytes]]]:
    """Parse a ``.mo`` file into (header fields, [(msgid bytes, msgstr bytes), ...]).

    The header entry (empty msgid) is returned parsed and not included in the entries. Bytes are left
    undecoded: the header's charset says how to decode them (see :func:`catalog_charset`).
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 28:
        raise GettextCatalogError(f"{path}: too short to be a gettext .mo catalog ({len(data)} bytes)")
    for order in ("<", ">"):
        if struct.unpack(order + "I", data[:4])[0] == _MO_MAGIC:
            break
    else:
        raise GettextCatalogError(f"{path}: not a gettext .mo catalog (bad magic number)")
    _revision, count, ids_offset, strs_offset = struct.unpack(order + "4I", data[4:20])

    def table(offset):
        end = offset + 8 * count
        if end > len(data):
            raise GettextCatalogError(f"{path}: truncated catalog (string table past end of file)")
        words = struct.unpack(f"{order}{2 * count}I", data[offset:end])
        strings = []
        for length, start in zip(words[0::2], words[1::2]):
            if start + length > len(data):
                raise GettextCatalogError(f"{path}: truncated catalog (string past end of file)")
            strings.append(data[start:start + length])
        return strings

    header: Dict[str, str] = {}
    entries = []
    for msgid, msgstr in zip(table(ids_offset), table(strs_offset)):
        if msgid == b"":
            for line in msgstr.decode("ascii", errors="replace").splitlines():
                key, sep, value = line.partition(":")
                if sep:
                    header[key.strip().lower()] = value.strip()
        else:
            entries.append((msgid, msgstr))
    return header, entries


def catalog_charset(header: Dict[str, str]) -> str:
    """The charset a catalog declares in its ``Content-Type`` header (UTF-8 when absent or bogus)."""
    match = re.search(r"charset=([\w.:-]+)", header.get("content-type", ""))
    charset = match.group(1) if match else "UTF-8"
    if charset.upper() in ("CHARSET", ""):
        return "UTF-8"
    return charset


# Format specifiers, in the order they are stripped: python %(name)s, printf %1$s / %-5.2f / %lld, braces.
_PYTHON_FORMAT = re.compile(r"%\([^)\n]*\)[-+ #0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")
_PRINTF_FORMAT = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*(?:\d+\$)?)?(?:\.(?:\d+|\*(?:\d+\$)?))?"
    r"(?:hh|h|ll|l|L|q|j|z|Z|t|I64|I32|I)?[diouxXeEfFgGaAcCsSpnm%]"
)
_BRACE_FORMAT = re.compile(r"\{[\w.\[\]]*(?:![rsa])?(?::[^{}]*)?\}")
# Accelerators: "文件(_F)" / "(&F)" after CJK text, "_File", "&Open" ("&&" is a literal ampersand).
_PAREN_ACCELERATOR = re.compile(r"\s*\(\s*[_&][^\W_]\s*\)")
_UNDERSCORE_ACCELERATOR = re.compile(r"(?<![^\W_])_(?=[^\W_])")
_AMPERSAND_ACCELERATOR = re.compile(r"&(?![&\s]|#?\w+;)(?=[^\W_])")


def clean_message(text: str) -> Tuple[Optional[str], Optional[str]]:
    """Turn one side of a UI message into plain text: (cleaned, None) or (None, reason it is dropped).

    Reasons: ``multi_line`` (a newline inside the message), ``empty`` (nothing left after stripping
    format specifiers and accelerators), ``no_letters`` (only digits, punctuation or symbols left).
    """
    if "\n" in text.strip("\n") or "\r" in text.strip("\r\n"):
        return None, "multi_line"
    text = _PYTHON_FORMAT.sub(" ", text)
    text = _PRINTF_FORMAT.sub(" ", text)
    text = _BRACE_FORMAT.sub(" ", text)
    text = _PAREN_ACCELERATOR.sub("", text)
    text = _UNDERSCORE_ACCELERATOR.sub("", text)
    text = _AMPERSAND_ACCELERATOR.sub("", text)
    text = text.replace("&&", "&")
    text = " ".join(text.split())
    if not text:
        return None, "empty"
    if not any(ch.isalpha() for ch in text):
        return None, "no_letters"
    return text, None


def catalog_paths(lang: str, locale_dir=DEFAULT_LOCALE_DIR) -> List[Path]:
    """Every ``<locale_dir>/<lang>/LC_MESSAGES/*.mo``, sorted by domain (so runs are reproducible)."""
    return sorted((Path(locale_dir) / lang / "LC_MESSAGES").glob("*.mo"))


def require_catalogs(lang: str, locale_dir=DEFAULT_LOCALE_DIR) -> List[Path]:
    """The catalogs of ``lang``; a one-line :class:`GettextCatalogError` naming language and directory if none."""
    paths = catalog_paths(lang, locale_dir)
    if not paths:
        raise GettextCatalogError(
            f"no gettext catalogs for language '{lang}': {Path(locale_dir) / lang / 'LC_MESSAGES'} "
            f"has no *.mo files (check the language code, e.g. 'de' or 'zh_CN', or pass --locale-dir)"
        )
    return paths


def iter_catalog_messages(
    lang: str, locale_dir=DEFAULT_LOCALE_DIR, drops: Optional[Counter] = None
) -> Iterator[CatalogMessage]:
    """Yield ``(domain, english_msgid, translation)`` for every usable message of every catalog of ``lang``.

    Skipped: the header, untranslated entries (empty msgstr), entries whose msgid is empty once the
    msgctxt is removed. Plural entries give their singular msgid and ``msgstr[0]``. Both sides go
    through :func:`clean_message`; a message is dropped when either side is dropped. When ``drops`` is
    given, every skipped or dropped entry is counted there by reason (plus ``seen``: entries read).
    (Fuzzy entries never reach a ``.mo`` file: msgfmt leaves them out unless told otherwise.)
    Raises :class:`GettextCatalogError` when the language has no catalogs.
    """
    paths = require_catalogs(lang, locale_dir)
    drops = Counter() if drops is None else drops
    for path in paths:
        header, entries = read_mo(path)
        charset = catalog_charset(header)
        for msgid, msgstr in entries:
            drops["seen"] += 1
            msgid = msgid.split(_CONTEXT_SEPARATOR, 1)[-1].split(_PLURAL_SEPARATOR, 1)[0]
            msgstr = msgstr.split(_PLURAL_SEPARATOR, 1)[0]
            if not msgid:
                drops["context_only"] += 1
                continue
            if not msgstr:
                drops["untranslated"] += 1
                continue
            try:
                english = msgid.decode(charset)
                translation = msgstr.decode(charset)
            except (UnicodeDecodeError, LookupError):
                drops["undecodable"] += 1
                continue
            english, reason = clean_message(english)
            if english is not None:
                translation, reason = clean_message(translation)
            if reason is not None:
                drops[reason] += 1
                continue
            yield CatalogMessage(path.stem, english, translation)
