"""Word segmentation for scripts written without spaces (Chinese, Japanese, Thai), exact over pieces.

In these scripts a ``▁``-word (:mod:`fairseq_weam.text.pieces`) can be a whole phrase. The text the pieces
spell is segmented by the language's standard segmenter (Chinese: jieba; Japanese: MeCab through fugashi
with unidic-lite, or SudachiPy; Thai: PyThaiNLP's newmm), and every aligner word is a run of whole pieces:
a piece starts a word at a ``▁`` boundary, or where a segmenter word begins at its first character. A
segmenter boundary inside a piece is dropped (the words the piece spans are merged) and counted. The
model's pieces never change; only the words given to the aligner do.
"""
import importlib
import logging
import os
import re
from importlib import metadata
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from fairseq_weam.errors import WeamError
from fairseq_weam.text.pieces import WORD_BOUNDARY

#: Segmentation modes: ``auto`` segments the languages below, ``off`` uses ``▁``-words everywhere.
MODES = ("auto", "off")
JA_SEGMENTERS = ("fugashi", "sudachi")
#: The Python packages of each segmenter (their versions are part of the align stage's signature).
PACKAGES = {
    "jieba": ("jieba",),
    "fugashi": ("fugashi", "unidic-lite"),
    "sudachi": ("sudachipy", "sudachidict-core"),
    "pythainlp": ("pythainlp",),
}

StartFinder = Callable[[str], List[int]]


class SegmentationError(WeamError, RuntimeError):
    """A segmenter that is not installed."""


def base_language(code: str) -> str:
    """``zh_CN`` / ``zh-TW`` / ``ja`` -> ``zh`` / ``zh`` / ``ja``."""
    return re.split(r"[_\-@.]", code, maxsplit=1)[0].lower()


def segmenter_name(lang: str, mode: str = "auto", ja_segmenter: str = "fugashi") -> Optional[str]:
    """The segmenter a language code gets (None: ``▁``-words)."""
    if mode == "off":
        return None
    return {"zh": "jieba", "ja": ja_segmenter, "th": "pythainlp"}.get(base_language(lang))


def segmenter_version(name: str) -> str:
    """``"jieba 0.42.1"``; an error saying what to install when a package is missing."""
    versions = []
    for package in PACKAGES[name]:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            raise SegmentationError(_missing(name)) from None
    return ", ".join(versions)


def _missing(name: str) -> str:
    return (f"word segmentation with {name} needs the package(s) {', '.join(PACKAGES[name])}: "
            f"pip install {' '.join(PACKAGES[name])} (or pass --word-segmentation off)")


def _import(module: str, name: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SegmentationError(_missing(name)) from None


def _starts_of_surfaces(text: str, surfaces) -> List[int]:
    """Start offsets in ``text`` of the non-blank tokens, found in order (a token not found ends the search)."""
    starts, cursor = [], 0
    for token in surfaces:
        token = token.strip()
        if not token:
            continue
        at = text.find(token, cursor)
        if at < 0:
            break
        starts.append(at)
        cursor = at + len(token)
    return starts


def _jieba() -> StartFinder:
    jieba = _import("jieba", "jieba")
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    return lambda text: [start for word, start, _ in tokenizer.tokenize(text) if word.strip()]


def _fugashi() -> StartFinder:
    fugashi = _import("fugashi", "fugashi")
    unidic_lite = _import("unidic_lite", "fugashi")
    tagger = fugashi.Tagger(f'-d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"')
    return lambda text: _starts_of_surfaces(text, (node.surface for node in tagger(text)))


def _sudachi() -> StartFinder:
    """SudachiPy with its core dictionary, split mode A (short units, as UniDic's)."""
    sudachipy = _import("sudachipy", "sudachi")
    _import("sudachidict_core", "sudachi")
    tokenizer = sudachipy.Dictionary(dict="core").create(mode=sudachipy.SplitMode.A)
    return lambda text: [m.begin() for m in tokenizer.tokenize(text) if m.surface().strip()]


def _pythainlp() -> StartFinder:
    tokenize = _import("pythainlp.tokenize", "pythainlp")
    return lambda text: _starts_of_surfaces(text, tokenize.word_tokenize(text, engine="newmm"))


_LOADERS = {"jieba": _jieba, "fugashi": _fugashi, "sudachi": _sudachi, "pythainlp": _pythainlp}
_LOADED: Dict[str, StartFinder] = {}


def load_segmenter(name: str) -> StartFinder:
    """``text -> start offsets of its words`` for one segmenter (loaded once per process)."""
    if name not in _LOADED:
        _LOADED[name] = _LOADERS[name]()
    return _LOADED[name]


def segmented_spans(pieces: Sequence[str], word_starts: StartFinder) -> Tuple[List[range], int]:
    """Piece ranges of the aligner words of one line, and the segmenter boundaries that fell inside pieces.

    A piece starts a word when it is the first, begins with ``▁``, or a segmenter word begins at its first
    character after its ``▁`` and the word before it has some text (a lone ``▁`` piece joins the next word).
    Every ``▁`` boundary stays a boundary, so without segmenter boundaries this is ``word_spans``.
    """
    text = "".join(pieces).replace(WORD_BOUNDARY, " ")
    boundaries = set(word_starts(text))
    starts, inside, offset, has_text = [], 0, 0, False
    for k, piece in enumerate(pieces):
        body = piece.lstrip(WORD_BOUNDARY)
        first, end = offset + len(piece) - len(body), offset + len(piece)
        if k == 0 or piece.startswith(WORD_BOUNDARY) or (first in boundaries and has_text):
            starts.append(k)
            has_text = False
        has_text = has_text or bool(body)
        inside += sum(1 for c in range(first + 1, end) if c in boundaries and not text[c - 1].isspace())
        offset = end
    return [range(a, b) for a, b in zip(starts, starts[1:] + [len(pieces)])], inside


def words_of_spans(pieces: Sequence[str], spans: Sequence[range]) -> List[str]:
    """One aligner token per span (pieces joined, ``▁`` removed; a word of ``▁`` only stays ``▁``)."""
    return ["".join(pieces[k] for k in span).replace(WORD_BOUNDARY, "") or WORD_BOUNDARY for span in spans]
