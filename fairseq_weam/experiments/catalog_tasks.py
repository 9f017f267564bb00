"""Single-sentence classification tasks built from the gettext catalogs: "which group of catalogs does this
message come from?", each class a list of gettext domains (``iso_3166-1``, ``gtk20``, ``git``, ...).

Train and dev are English (the msgids); test sets are the human translations of held-out English messages,
one per test language, each drawn from the held-out messages that language translates (a random
``test_share`` of each class, so train, dev and test follow one distribution). Low-translation languages
(``sw``, ``yo``, ``ur``...) translate few domains (mostly ISO country names): a language's test set has up to
``test_size / classes`` rows per class it translates, and its majority-class accuracy says what chance is.
An English message found in two classes is dropped. Output: the XTREME layout of a 2-column task
(``train-en.tsv``, ``dev-en.tsv``, ``test-{lang}.tsv``: ``sentence \\t label``) and ``catalog_task.json``.
"""
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from fairseq_weam.atomic import atomic_path
from fairseq_weam.corpus.gettext_catalogs import DEFAULT_LOCALE_DIR, iter_catalog_messages, require_catalogs
from fairseq_weam.errors import WeamError

REPORT = "catalog_task.json"


class CatalogTaskError(WeamError, ValueError):
    """A catalog task that cannot be built as asked."""


@dataclass
class CatalogTaskSettings:
    classes: Dict[str, List[str]] = field(default_factory=dict,
                                          metadata={"help": "label -> gettext domains whose messages it labels"})
    test_langs: List[str] = field(default_factory=list, metadata={"help": "test languages besides English"})
    pool_langs: List[str] = field(default_factory=lambda: ["de", "fr"],
                                  metadata={"help": "languages whose catalogs give the English messages too"})
    train_size: int = field(default=1000, metadata={"help": "English training examples (balanced)"})
    dev_size: int = field(default=200, metadata={"help": "English dev examples (balanced)"})
    test_size: int = field(default=200, metadata={"help": "test examples per language, at most"})
    test_share: float = field(default=0.3, metadata={"help": "share of each class's messages held out for test"})
    max_words: int = field(default=30, metadata={"help": "longest English message kept (words)"})
    locale_dir: str = field(default=DEFAULT_LOCALE_DIR, metadata={"help": "gettext catalogs root"})
    seed: int = field(default=1, metadata={"help": "sampling seed"})


def _class_of(settings):
    owner = {}
    for label, domains in settings.classes.items():
        for domain in domains:
            if domain in owner:
                raise CatalogTaskError(f"domain {domain!r} is in classes {owner[domain]!r} and {label!r}")
            owner[domain] = label
    return owner


def collect(settings: CatalogTaskSettings):
    """(``{label: {english: {lang: translation}}}``, counts) over the test and pool languages' catalogs."""
    owner = _class_of(settings)
    langs = list(dict.fromkeys(list(settings.test_langs) + list(settings.pool_langs)))
    for lang in langs:
        require_catalogs(lang, settings.locale_dir)
    found, counts = defaultdict(lambda: defaultdict(dict)), Counter()
    for lang in langs:
        for domain, english, translation in iter_catalog_messages(lang, settings.locale_dir):
            label = owner.get(domain)
            if label is None or len(english.split()) > settings.max_words:
                continue
            english, translation = english.replace("\t", " "), translation.replace("\t", " ")
            if lang in settings.test_langs:
                found[label][english].setdefault(lang, translation)
            else:
                found[label].setdefault(english, {})
    labels_of = defaultdict(set)
    for label, messages in found.items():
        for english in messages:
            labels_of[english].add(label)
    table = {}
    for label in settings.classes:
        messages = {e: t for e, t in found.get(label, {}).items() if len(labels_of[e]) == 1}
        counts[f"dropped_ambiguous_{label}"] = len(found.get(label, {})) - len(messages)
        if len(messages) < 10:
            raise CatalogTaskError(f"class {label!r}: only {len(messages)} messages in domains "
                                   f"{', '.join(settings.classes[label])} ({settings.locale_dir}); "
                                   "check the domain names")
        table[label] = messages
    return table, counts


def split(table, settings: CatalogTaskSettings, rng):
    """Per label: (test pool, dev messages, train messages), a random split (test: ``test_share``)."""
    parts = {}
    for label, messages in table.items():
        names = sorted(messages)
        rng.shuffle(names)
        n_test = int(len(names) * settings.test_share) if settings.test_size else 0
        test, rest = names[:n_test], names[n_test:]
        n_dev = min(settings.dev_size // len(table), len(rest) // 5)
        parts[label] = (test, rest[:n_dev], rest[n_dev:])
    return parts


def _balanced(rows_of, n, rng):
    per = n // len(rows_of)
    rows = [(text, label) for label, texts in rows_of.items() for text in texts[:per]]
    rng.shuffle(rows)
    return rows


def build_catalog_task(out_dir, settings: CatalogTaskSettings) -> dict:
    """Write the task dir atomically (a temporary sibling renamed at the end); return its report."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise CatalogTaskError(f"{out_dir} exists; choose a new output dir")
    if len(settings.classes) < 2:
        raise CatalogTaskError("a catalog task needs at least two classes")
    rng = random.Random(settings.seed)
    table, counts = collect(settings)
    parts = split(table, settings, rng)
    per_class_test = max(1, settings.test_size // len(table))
    splits = {"train-en": _balanced({l: p[2] for l, p in parts.items()}, settings.train_size, rng),
              "dev-en": _balanced({l: p[1] for l, p in parts.items()}, settings.dev_size, rng),
              "test-en": _balanced({l: p[0] for l, p in parts.items()}, per_class_test * len(table), rng)}
    for lang in settings.test_langs:
        rows = []
        for label, (test, _, _) in parts.items():
            translated = [e for e in test if lang in table[label][e]]
            chosen = rng.sample(translated, min(per_class_test, len(translated)))
            rows += [(table[label][e][lang], label) for e in chosen]
        rng.shuffle(rows)
        if not rows:
            raise CatalogTaskError(f"test language {lang!r} translates no held-out message of any class "
                                   f"({', '.join(settings.classes)}): choose other classes or languages")
        splits[f"test-{lang}"] = rows
    report = {"settings": {**settings.__dict__, "classes": {k: list(v) for k, v in settings.classes.items()}},
              "labels": list(settings.classes),
              "messages": {label: len(m) for label, m in table.items()},
              "examples": {name: len(rows) for name, rows in splits.items()},
              "label_counts": {name: dict(sorted(Counter(l for _, l in rows).items()))
                               for name, rows in splits.items()},
              "counts": dict(counts)}
    with atomic_path(out_dir, directory=True) as tmp:
        for name, rows in splits.items():
            (tmp / f"{name}.tsv").write_text("".join(f"{t}\t{l}\n" for t, l in rows), encoding="utf-8")
        (tmp / REPORT).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
