"""Build raw bitext ``RAW/{train,valid}.{l1}-{l2}.{l1,l2}`` from the gettext catalogs of the machine.

The output is exactly the raw input layout of ``weam-prepare``. Pairs are de-duplicated (the same
English string with the same translation appears in many programs), shuffled with a fixed seed and
split into train and valid, so two runs with the same catalogs and seed write the same files.
"""
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from fairseq_weam.atomic import write_lines_atomic
from fairseq_weam.corpus.gettext_catalogs import (
    DEFAULT_LOCALE_DIR,
    GettextCatalogError,
    catalog_paths,
    iter_catalog_messages,
    require_catalogs,
)

ENGLISH = "en"


@dataclass
class PairSummary:
    """What was found for one language pair: catalogs, raw/kept pairs, drops by reason, split sizes."""

    pair: str
    catalogs: int = 0
    entries: int = 0
    cleaned: int = 0
    unique: int = 0
    train: int = 0
    valid: int = 0
    drops: Dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        drops = ", ".join(f"{k}={v}" for k, v in sorted(self.drops.items())) or "none"
        return (
            f"{self.pair}: {self.catalogs} catalogs, {self.entries} entries, {self.cleaned} clean pairs, "
            f"{self.unique} unique, kept train={self.train} valid={self.valid}; drops: {drops}"
        )


def parse_pairs(spec: str) -> List[tuple]:
    """``"en-de,en-zh_CN"`` -> ``[("en", "de"), ("en", "zh_CN")]``; one side of each pair must be English."""
    pairs = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        langs = item.split("-")
        if len(langs) != 2 or not all(langs):
            raise GettextCatalogError(f"bad language pair '{item}': expected l1-l2, e.g. en-de")
        if ENGLISH not in langs or langs[0] == langs[1]:
            raise GettextCatalogError(
                f"bad language pair '{item}': gettext catalogs translate from English, so one side must be 'en'"
            )
        pairs.append(tuple(langs))
    if not pairs:
        raise GettextCatalogError("no language pairs given (e.g. --pairs en-de,en-fr)")
    return pairs


def collect_pairs(lang: str, locale_dir=DEFAULT_LOCALE_DIR, drops: Optional[Counter] = None):
    """Unique (english, translation) pairs of one language, in first-seen order (catalogs sorted by domain)."""
    drops = Counter() if drops is None else drops
    seen = {}
    for message in iter_catalog_messages(lang, locale_dir, drops):
        key = (message.english, message.translation)
        if key in seen:
            drops["duplicate"] += 1
        else:
            seen[key] = None
    return list(seen)


def build_gettext_bitext(
    pairs: Sequence[tuple],
    out_dir,
    valid_size: int = 500,
    max_pairs: Optional[int] = None,
    seed: int = 0,
    locale_dir=DEFAULT_LOCALE_DIR,
    log=print,
) -> List[PairSummary]:
    """Write ``out_dir/{train,valid}.{l1}-{l2}.{l1,l2}`` for each pair; return what was found.

    ``max_pairs`` caps train + valid together (after the shuffle). The valid split gets ``valid_size``
    pairs, or half the pairs when there are fewer than ``2 * valid_size``. Every language is checked for
    catalogs before anything is written.
    """
    out_dir = Path(out_dir)
    for pair in pairs:
        for lang in pair:
            if lang != ENGLISH:
                require_catalogs(lang, locale_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    for l1, l2 in pairs:
        other = l2 if l1 == ENGLISH else l1
        drops = Counter()
        unique = collect_pairs(other, locale_dir, drops)
        rng = random.Random(seed)
        rng.shuffle(unique)
        if max_pairs is not None:
            unique = unique[:max_pairs]
        n_valid = min(valid_size, len(unique) // 2)
        splits = {"valid": unique[:n_valid], "train": unique[n_valid:]}
        summary = PairSummary(
            pair=f"{l1}-{l2}",
            catalogs=len(catalog_paths(other, locale_dir)),
            entries=drops.pop("seen", 0),
            train=len(splits["train"]),
            valid=len(splits["valid"]),
            drops=dict(drops),
        )
        summary.cleaned = summary.entries - sum(v for k, v in drops.items() if k != "duplicate")
        summary.unique = summary.cleaned - drops.get("duplicate", 0)  # before the --max-pairs cap
        for split, items in splits.items():
            for lang in (l1, l2):
                side = 0 if lang == ENGLISH else 1
                write_lines_atomic(out_dir / f"{split}.{l1}-{l2}.{lang}", [item[side] for item in items])
        if n_valid < valid_size:
            log(f"note: {l1}-{l2} has only {len(unique)} pairs; valid split reduced to {n_valid}")
        log(summary.describe())
        summaries.append(summary)
    return summaries
