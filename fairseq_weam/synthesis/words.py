"""How a whitespace token of a sentence maps to the word looked up in embeddings and dictionaries.

A token is split into leading punctuation, a core and trailing punctuation; the lookup key is the core,
lower-cased. Synthesis replaces the core only, so the number of whitespace words never changes and a
link ``i-j`` keeps pointing at the same token.
"""
import re
from typing import Iterable, List, Optional, Tuple

_TOKEN = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE | re.DOTALL)


def split_token(token: str) -> Tuple[str, str, str]:
    """``"(Datei),"`` -> ``("(", "Datei", "),")``."""
    return _TOKEN.match(token).groups()


def word_key(token: str) -> Optional[str]:
    """The lookup key of a token (lower-cased core), or None when it has no letters (numbers, symbols)."""
    core = split_token(token)[1]
    return core.lower() if any(c.isalpha() for c in core) else None


def keys_of_line(line: str) -> List[str]:
    """The keys of a line's tokens, tokens without letters left out (the text embeddings are trained on)."""
    return [k for k in map(word_key, line.split()) if k is not None]


def replace_core(token: str, word: str) -> str:
    """``token`` with its core replaced by ``word``, capitalized like the core's first letter."""
    before, core, after = split_token(token)
    if core[:1].isupper() and word[:1].islower():
        word = word[:1].upper() + word[1:]
    return before + word + after


def normalized_text(lines: Iterable[str]) -> Iterable[str]:
    """Lines of keys, one line per input line (empty lines dropped)."""
    for line in lines:
        keys = keys_of_line(line)
        if keys:
            yield " ".join(keys) + "\n"
