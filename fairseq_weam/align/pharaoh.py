"""Pharaoh alignment lines (``"0-0 1-2 ..."``): parsing, validation against sentence lengths, writing.

A link ``i-j`` joins token ``i`` of the source line to token ``j`` of the target line (0-based). Bad
links come from user files (``--aligner precomputed``) or from tokenization mismatches; each one is an
error naming file and line, unless the caller asks to skip and count them.
"""
import warnings
from typing import FrozenSet, Iterable, List, Optional, Tuple

import numpy as np

from fairseq_weam.errors import WeamError

Link = Tuple[int, int]


class AlignmentError(WeamError, ValueError):
    """A Pharaoh file has a malformed link or a link outside its sentence."""


def parse_links(line: str, where: str = "<line>") -> FrozenSet[Link]:
    """``"0-0 1-2"`` -> ``{(0, 0), (1, 2)}``; raises :class:`AlignmentError` naming ``where`` on a malformed token."""
    links = set()
    for token in line.split():
        left, sep, right = token.partition("-")
        if not sep or not left.isdigit() or not right.isdigit():
            raise AlignmentError(f"{where}: malformed link '{token}' (expected i-j with 0-based integers i, j)")
        links.add((int(left), int(right)))
    return frozenset(links)


_DIGITS = str.maketrans("", "", "0123456789")


def parse_link_block(text: str) -> Optional[Tuple[np.ndarray, List[int]]]:
    """Pharaoh lines (``text``: lines ending in ``\\n``) at once: the numbers ``i j i j ...`` of all links (int64)
    and the links of each line; None where a token is not ``i-j``.

    Checked without a pattern per link: with the digits removed every token is one ``-``, and there are two
    numbers per token (so both sides of each ``-`` have digits).
    """
    tokens = text.translate(_DIGITS).split()
    with warnings.catch_warnings():  # numpy warns where the text does not parse: the check below says so
        warnings.simplefilter("ignore", DeprecationWarning)
        numbers = np.fromstring(text.replace("-", " "), dtype=np.int64, sep=" ")
    if tokens.count("-") != len(tokens) or len(numbers) != 2 * len(tokens):
        return None
    lines = text.split("\n")
    if lines[-1] == "":  # the text ends with a newline, or is empty
        lines.pop()
    return numbers, [line.count("-") for line in lines]


USER_FILE_FIX = "the alignment file does not match the text (or pass --on-bad-link skip)"


def check_links(links: Iterable[Link], src_len: int, tgt_len: int, where: str = "<line>", fix: str = USER_FILE_FIX):
    """Raise :class:`AlignmentError` when a link points past the end of either sentence; ``fix`` ends the message."""
    for i, j in sorted(links):
        if i >= src_len or j >= tgt_len:
            raise AlignmentError(
                f"{where}: link {i}-{j} is outside the sentence pair ({src_len} source and {tgt_len} target "
                f"words); {fix}"
            )


def read_valid_links(
    line: str, src_len: int, tgt_len: int, where: str, on_bad_link: str = "error"
) -> Optional[FrozenSet[Link]]:
    """Parse and check one line. With ``on_bad_link="skip"`` a bad line gives None instead of an error."""
    if on_bad_link not in ("error", "skip"):
        raise ValueError(f"on_bad_link must be 'error' or 'skip', not {on_bad_link!r}")
    try:
        links = parse_links(line, where)
        check_links(links, src_len, tgt_len, where)
    except AlignmentError:
        if on_bad_link == "skip":
            return None
        raise
    return links


def format_links(links: Iterable[Link]) -> str:
    """Links as one Pharaoh line, sorted by source then target index."""
    return " ".join(f"{i}-{j}" for i, j in sorted(links))


def read_pharaoh_file(path) -> List[FrozenSet[Link]]:
    """Every line of a Pharaoh file (no length check: aligner outputs), errors name file and line."""
    with open(path, encoding="utf-8") as f:
        return [parse_links(line, f"{path}:{number}") for number, line in enumerate(f, 1)]
