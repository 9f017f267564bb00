"""Bilingual word dictionaries: FreeDict's dictd files, ``word<TAB>translation`` files, the gettext catalogs.

A dictionary maps a source key to the set of its translations' keys (:func:`~fairseq_weam.synthesis.words.word_key`),
one-word entries only (synthesis replaces one token by one token). ``--dictionary`` names one:
- a ``.tsv``/``.txt`` file of ``word<TAB>translation`` lines (repeat a word for several translations);
- a dictd ``.index`` file (its ``.dict.dz`` or ``.dict`` beside it), e.g. FreeDict's;
- ``freedict``: the installed FreeDict dictionary of the pair under ``/usr/share/dictd``
  (``apt-get install dict-freedict-eng-deu``), either direction;
- ``gettext``: one-word UI messages of the machine's gettext catalogs (English -> the other language).
"""
import gzip
import random
import re
from pathlib import Path
from typing import Dict, Set, Tuple

from fairseq_weam.synthesis.errors import SynthesisError
from fairseq_weam.synthesis.words import word_key

Dictionary = Dict[str, Set[str]]

DICTD_DIR = "/usr/share/dictd"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: k for k, c in enumerate(_B64)}
#: ISO 639-1 -> the ISO 639-3 codes FreeDict names its dictionaries with (others: pass the 3-letter code).
FREEDICT_CODES = {"en": "eng", "de": "deu", "fr": "fra", "ru": "rus", "es": "spa", "it": "ita", "nl": "nld",
                  "pt": "por", "sv": "swe", "pl": "pol", "cs": "ces", "fi": "fin", "da": "dan", "hu": "hun",
                  "tr": "tur", "el": "ell", "ja": "jpn", "ar": "ara", "hi": "hin", "bg": "bul", "uk": "ukr"}
#: Annotations in a FreeDict entry line: <gender>, [domain], (note), {cross reference}, /pronunciation/.
_ANNOTATION = re.compile(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|/[^/]*/")


def _b64(text: str, where: str) -> int:
    value = 0
    for c in text:
        if c not in _B64_VALUE:
            raise SynthesisError(f"{where}: {text!r} is not a dictd base64 number; is this a dictd .index file?")
        value = value * 64 + _B64_VALUE[c]
    return value


def _add(entries: Dictionary, source: str, target: str):
    s, t = word_key(source), word_key(target)
    if s and t and " " not in source.strip() and " " not in target.strip():
        entries.setdefault(s, set()).add(t)


def _entry_translations(text: str):
    """Translations of one dictd entry: the unindented lines after the headword line, split at , and ;."""
    for line in text.split("\n")[1:]:
        if not line.strip() or line[:1].isspace():
            continue
        line = re.sub(r"^\s*\d+\.\s*", "", _ANNOTATION.sub(" ", line))
        for item in re.split(r"[,;]", line):
            if item.strip():
                yield item.strip()


def read_dictd(index_path) -> Dictionary:
    """Parse a dictd dictionary (``X.index`` with ``X.dict.dz`` or ``X.dict`` beside it)."""
    index_path = Path(index_path)
    stem = index_path.with_suffix("")
    data_path = next((p for p in (Path(f"{stem}.dict.dz"), Path(f"{stem}.dict")) if p.is_file()), None)
    if data_path is None:
        raise SynthesisError(f"{index_path}: no {stem.name}.dict.dz or {stem.name}.dict beside it")
    opener = gzip.open if data_path.suffix == ".dz" else open  # dictzip is gzip with a random-access table
    with opener(data_path, "rb") as f:
        data = f.read()
    entries: Dictionary = {}
    with open(index_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3:
                raise SynthesisError(f"{index_path}:{number}: expected headword<TAB>offset<TAB>length")
            head = fields[0].strip()
            if not head or head.startswith("00") or " " in head:
                continue
            where = f"{index_path}:{number}"
            start, length = _b64(fields[1], where), _b64(fields[2], where)
            text = data[start : start + length].decode("utf-8", errors="replace")
            if not text.lower().startswith(head.lower()):  # an abbreviation's entry indexed under it
                continue
            for translation in _entry_translations(text):
                _add(entries, head, translation)
    return entries


def read_tsv(path) -> Dictionary:
    """Parse ``word<TAB>translation`` lines (blank lines and ``#`` comments skipped)."""
    entries: Dictionary = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2:
                raise SynthesisError(f"{path}:{number}: expected word<TAB>translation, found {len(fields)} fields")
            _add(entries, fields[0], fields[1])
    return entries


def invert(entries: Dictionary) -> Dictionary:
    inverted: Dictionary = {}
    for source, targets in entries.items():
        for target in targets:
            inverted.setdefault(target, set()).add(source)
    return inverted


def freedict_paths(l1: str, l2: str, root=DICTD_DIR) -> Tuple[Path, bool]:
    """The installed FreeDict index of the pair and whether it runs l2 -> l1 (then it is inverted)."""
    a, b = FREEDICT_CODES.get(l1, l1), FREEDICT_CODES.get(l2, l2)
    for name, reverse in ((f"freedict-{a}-{b}", False), (f"freedict-{b}-{a}", True)):
        if (Path(root) / f"{name}.index").is_file():
            return Path(root) / f"{name}.index", reverse
    raise SynthesisError(f"no FreeDict dictionary {a}-{b} (or {b}-{a}) under {root}; install it with "
                         f"`apt-get install dict-freedict-{a}-{b}`, or pass --dictionary FILE.tsv or gettext")


def gettext_dictionary(l1: str, l2: str, locale_dir=None) -> Dictionary:
    """One-word messages of the gettext catalogs and their one-word translations (identical pairs left out)."""
    from fairseq_weam.corpus.gettext_bitext import ENGLISH, collect_pairs
    from fairseq_weam.corpus.gettext_catalogs import DEFAULT_LOCALE_DIR

    if ENGLISH not in (l1, l2):
        raise SynthesisError(f"--dictionary gettext needs English on one side of the pair, not {l1}-{l2}")
    other = l2 if l1 == ENGLISH else l1
    entries: Dictionary = {}
    for english, translation in collect_pairs(other, locale_dir or DEFAULT_LOCALE_DIR):
        if word_key(english) != word_key(translation):
            _add(entries, english, translation)
    return entries if l1 == ENGLISH else invert(entries)


def load_dictionary(spec: str, l1: str, l2: str, dictd_dir=DICTD_DIR, locale_dir=None) -> Dictionary:
    """The l1 -> l2 dictionary ``spec`` names (see the module docstring); an error when it has no entry."""
    if spec == "freedict":
        path, reverse = freedict_paths(l1, l2, dictd_dir)
        entries = read_dictd(path)
        entries = invert(entries) if reverse else entries
        where = str(path)
    elif spec == "gettext":
        entries, where = gettext_dictionary(l1, l2, locale_dir), "the gettext catalogs"
    else:
        path = Path(spec)
        if not path.is_file():
            raise SynthesisError(f"dictionary not found: {spec} (give a word<TAB>translation file, a dictd .index "
                                 "file, freedict or gettext)")
        entries = read_dictd(path) if path.suffix == ".index" else read_tsv(path)
        where = spec
    if not entries:
        raise SynthesisError(f"{where}: no one-word {l1}-{l2} entries; give a dictionary with one-word translations")
    return entries


def split_dictionary(entries: Dictionary, test_share: float, seed: int) -> Tuple[Dictionary, Dictionary]:
    """(seed, test): source words shuffled with ``seed``, ``test_share`` of them held out for BLI."""
    words = sorted(entries)
    random.Random(seed).shuffle(words)
    n_test = int(round(test_share * len(words)))
    return ({w: entries[w] for w in words[n_test:]}, {w: entries[w] for w in words[:n_test]})
