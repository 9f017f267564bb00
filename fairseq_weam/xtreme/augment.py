"""Randomized smoothing with data augmentation (Robust-XLT): n synonym-substituted copies per training pair."""
import random
from typing import Iterable, Iterator

from fairseq_weam.xtreme.io import PairExample
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter


class AugmentStats:
    def __init__(self):
        self.examples = 0
        self.written = 0
        self.changed = 0
        self.examples_changed = 0

    @property
    def changed_share(self):
        return self.changed / self.written if self.written else 0.0

    def as_dict(self):
        return {"examples": self.examples, "written": self.written, "perturbed_written": self.changed,
                "changed_share": round(self.changed_share, 4),
                "examples_changed_share": round(self.examples_changed / self.examples, 4) if self.examples else 0.0}


def augment(examples: Iterable[PairExample], substituter: SynonymSubstituter, copies: int, seed: int,
            keep_clean: bool = False, stats: AugmentStats = None) -> Iterator[PairExample]:
    """Yield ``copies`` perturbed copies of each pair (after the clean pair with ``keep_clean``).

    The two sentences are perturbed independently (a single sentence when ``sentence2`` is None); the label
    is copied. ``stats.changed`` counts the
    perturbed copies that differ from the original (a copy can equal it by chance),
    ``stats.examples_changed`` the input pairs with at least one differing copy.
    """
    if copies < 1 and not keep_clean:
        raise ValueError("--copies must be >= 1 (or use --keep-clean)")
    rng = random.Random(seed)
    stats = stats if stats is not None else AugmentStats()
    for ex in examples:
        stats.examples += 1
        if keep_clean:
            stats.written += 1
            yield ex
        original = tuple(s if s is None else " ".join(s.split()) for s in (ex.sentence1, ex.sentence2))
        any_changed = False
        for _ in range(copies):
            new = PairExample(substituter.perturb(ex.sentence1, rng),
                              None if ex.sentence2 is None else substituter.perturb(ex.sentence2, rng), ex.label)
            changed = (new.sentence1, new.sentence2) != original
            stats.written += 1
            stats.changed += changed
            any_changed |= changed
            yield new
        stats.examples_changed += any_changed
