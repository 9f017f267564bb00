"""Code-switched pseudo-translations of monolingual sentences with the exact links of the exchange.

A share ``rate`` of the tokens whose word has candidates is exchanged for a translation (rate 1.0: a
word-by-word translation of every known word). Tokens keep their positions, so the links are ``i-i``: of
every token (``links="all"``; an unchanged token is linked to itself) or of the exchanged tokens only.
Pharaoh indices count whitespace tokens, as ``weam-prepare --aligner precomputed`` reads them.
"""
from collections import Counter
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from fairseq_weam.align.pharaoh import format_links
from fairseq_weam.synthesis.words import replace_core, word_key

LINKS = ("all", "substituted")
Pair = Tuple[str, str, str]  # source line, target line, Pharaoh links


def pseudo_translate(tokens: Sequence[str], positions: Sequence[int], words: Sequence[str], links: str) -> Pair:
    """The pair of ``tokens`` with the tokens at ``positions`` exchanged for ``words``."""
    target = list(tokens)
    for pos, word in zip(positions, words):
        target[pos] = replace_core(tokens[pos], word)
    linked = range(len(tokens)) if links == "all" else positions
    return " ".join(tokens), " ".join(target), format_links((i, i) for i in linked)


def synthesize(lines: Iterable[str], candidates: Dict[str, List[str]], rate: float, rng: np.random.Generator,
               links: str = "all", chooser: Optional[Callable] = None, test: Optional[Dict[str, set]] = None,
               stats: Optional[Counter] = None) -> Iterator[Pair]:
    """Pairs of the lines that have at least one known word. ``candidates[key]``: its translations, best
    first; the first is taken unless ``chooser(tokens, positions, candidate lists)`` returns indices.
    ``stats`` counts lines in/out, skipped lines, exchanged tokens and, for words of the ``test``
    dictionary, how many exchanges were correct translations (``test_exchanged``, ``test_correct``)."""
    stats = Counter() if stats is None else stats
    for line in lines:
        stats["lines"] += 1
        tokens = line.split()
        known = [i for i, t in enumerate(tokens) if word_key(t) in candidates]
        if not known:
            stats["no_known_word"] += 1
            continue
        n = max(1, int(round(rate * len(known))))
        positions = sorted(int(p) for p in rng.choice(known, size=n, replace=False))
        lists = [candidates[word_key(tokens[p])] for p in positions]
        chosen = chooser(tokens, positions, lists) if chooser else [0] * len(positions)
        words = [cands[c] for cands, c in zip(lists, chosen)]
        for pos, word in zip(positions, words):
            gold = test.get(word_key(tokens[pos])) if test else None
            if gold is not None:
                stats["test_exchanged"] += 1
                stats["test_correct"] += word in gold
        stats["pairs"] += 1
        stats["exchanged"] += len(positions)
        stats["tokens"] += len(tokens)
        yield pseudo_translate(tokens, positions, words, links)


def mix(synthetic: Sequence[Pair], natural: Sequence[Pair], natural_share: float, total: int,
        rng: np.random.Generator) -> List[Pair]:
    """``total`` pairs, ``round(natural_share * total)`` of them natural, the rest synthetic, shuffled."""
    n_natural = min(int(round(natural_share * total)), len(natural))
    n_synthetic = min(total - n_natural, len(synthetic))
    picked = [natural[i] for i in rng.permutation(len(natural))[:n_natural]]
    picked += [synthetic[i] for i in rng.permutation(len(synthetic))[:n_synthetic]]
    return [picked[i] for i in rng.permutation(len(picked))]
