"""Synonym substitution from a neighbours file (``{word: [neighbour, ...]}``, e.g. counter-fitted neighbours).

Robust-XLT's data augmentation replaces every word that has neighbours by a uniform draw from
``[word] + neighbours``. Its lookup is case-sensitive on raw space-split tokens, so capitalised words
and words with punctuation attached are never replaced; here words are looked up in lower case with
surrounding punctuation stripped, and the replacement gets the original capitalisation and punctuation
back. The same word model serves the greedy substitution attack at evaluation.
"""
import json
import random
import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence, Tuple

from fairseq_weam.errors import WeamError

_TOKEN = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE)


class NeighboursError(WeamError, ValueError):
    """A neighbours file that is not ``{word: [neighbours]}`` JSON."""


def load_neighbours(path) -> Dict[str, List[str]]:
    """Read the neighbours JSON; keys are lower-cased, empty lists dropped."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise NeighboursError(f"{path}: cannot read neighbours JSON ({err})") from None
    if not isinstance(data, dict):
        raise NeighboursError(f"{path}: expected a JSON object {{word: [neighbours]}}")
    table = {}
    for word, neighbours in data.items():
        if not isinstance(neighbours, list) or not all(isinstance(n, str) for n in neighbours):
            raise NeighboursError(f"{path}: neighbours of {word!r} must be a list of strings")
        neighbours = [n for n in neighbours if n.lower() != word.lower()]
        if neighbours:
            table.setdefault(word.lower(), [])
            table[word.lower()] += [n for n in neighbours if n not in table[word.lower()]]
    return table


class Token(NamedTuple):
    prefix: str
    core: str
    suffix: str


def split_token(token) -> Token:
    """``'(Good!'`` -> ``Token('(', 'Good', '!')``."""
    prefix, core, suffix = _TOKEN.match(token).groups()
    return Token(prefix, core, suffix)


def match_case(word, like):
    """``word`` written with the capitalisation pattern of ``like`` (UPPER, Title or as is)."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class SynonymSubstituter:
    """Word-level substitutions of a whitespace-tokenised sentence."""

    def __init__(self, neighbours: Dict[str, Sequence[str]]):
        self.neighbours = neighbours

    def candidates(self, tokens: Sequence[str]) -> List[Tuple[int, List[str]]]:
        """``[(position, [replacement tokens, ...]), ...]`` for every word with neighbours."""
        out = []
        for i, token in enumerate(tokens):
            t = split_token(token)
            options = self.neighbours.get(t.core.lower())
            if t.core and options:
                out.append((i, [t.prefix + match_case(n, t.core) + t.suffix for n in options]))
        return out

    def perturb(self, sentence: str, rng: random.Random) -> str:
        """Replace each word with neighbours by a uniform draw from [word] + neighbours."""
        tokens = sentence.split()
        for i, replacements in self.candidates(tokens):
            choice = rng.randrange(len(replacements) + 1)
            if choice:
                tokens[i] = replacements[choice - 1]
        return " ".join(tokens)
