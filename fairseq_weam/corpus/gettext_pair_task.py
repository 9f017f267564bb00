"""PAWS-X-like sentence-pair tasks made from the gettext catalogs of the machine.

Both sentences of an example are real UI messages, so every language has human translations of both,
and the test sets are parallel by row (the same English message pair, translated). Two labellings:

``shared_term`` (default): 1 when the two English messages share a content word (5+ letters, not a
function word), else 0. Positives pair a message with a random other message containing one of its terms.
Negatives (``negatives``): ``random`` (default), a random message sharing no term; ``overlap``, among
``candidates`` random term-disjoint messages the one with the most other words in common (hard negatives,
as in PAWS). The label is lexical in English, but the translations of a shared term are inflected,
compounded or rephrased, so in other languages (and in the generalized setting, sentence1 in l1, sentence2
in l2) the model must recognise the same concept across forms and languages: cross-lingual word alignment,
which is what alignment-aware pre-training claims to improve. Word overlap (any shared word of 4+ letters)
scores 99% on English test with random negatives but 69-85% on de/fr/ru; with overlap negatives a 2-layer
model trained from scratch stays near 62% on English dev.

``same_program``: 1 when both messages come from the same program (gettext domain, version and
``-properties`` suffixes folded: ``gtk20`` and ``gtk20-properties`` are one program); sentence2 is a random
message of the same program (positives) or of another program (negatives), or with ``negatives=overlap``
the most word-overlapping of ``candidates`` such messages. A topic-matching task: with ``--max-programs 10``
and overlap negatives, tf-idf + logistic regression on word products gets about 63% on English test, but
small models trained from scratch stay at chance (52-54%).

``program`` (a single-sentence task): which program does this message come from? One text column,
``sentence \t program``; the ``--max-programs`` largest programs, the same number of examples of each
(majority class 1/k). Test rows in other languages are the human translations of the English test rows.

Only messages translated in every requested language are used; English strings found in more than one
program are dropped (ambiguous program). Messages are split between train, dev and test before pairing,
so no test message is seen in training. Output: the XTREME layout of a binary task (``--task pawsx``):
English ``train-en.tsv``, ``dev-en.tsv`` and ``test-{lang}.tsv`` for English and each language, and
``labels.txt``: the label set, one per line in class-id order (the programs sorted; ``0`` and ``1``), which
``examples/finetune/finetune.sh`` reads for ``TASK=labels``.
"""
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from tqdm import tqdm

from fairseq_weam.atomic import atomic_path
from fairseq_weam.corpus.gettext_catalogs import DEFAULT_LOCALE_DIR, iter_catalog_messages

_PROGRAM_SUFFIX = re.compile(r"(-properties)$|[-_]?\d.*$")
_WORD = re.compile(r"\w+", re.UNICODE)


LABELS = ("same_program", "shared_term", "program")
NEGATIVES = ("random", "overlap")
LABELS_FILE = "labels.txt"
_FUNCTION_WORDS = frozenset("""about above after again against also been before being below between both
cannot could does doing down during each from further have having here into itself just more most must
once only other over same should some such than that their them then there these they this those through
under until very were what when where which while will with would your yours""".split())


@dataclass
class PairTaskSettings:
    label: str = "shared_term"
    langs: Sequence[str] = ("de", "fr", "ru")
    locale_dir: str = DEFAULT_LOCALE_DIR
    train_size: int = 8000
    dev_size: int = 500
    test_size: int = 500
    min_words: int = 3
    max_words: int = 40
    max_programs: int = 0
    max_per_program: int = 400
    min_per_program: int = 20
    negatives: str = "random"
    candidates: int = 30
    seed: int = 1


def program_of(domain: str) -> str:
    """``gtk20-properties`` -> ``gtk``, ``postgres-15`` -> ``postgres``, ``iso_3166-1`` -> ``iso``."""
    return _PROGRAM_SUFFIX.sub("", domain) or domain


def words(text: str) -> frozenset:
    return frozenset(w.lower() for w in _WORD.findall(text))


def terms(text: str, min_len=5) -> frozenset:
    """Content words: lower-cased, at least ``min_len`` letters, not a function word."""
    return frozenset(w for w in words(text) if len(w) >= min_len and w.isalpha() and w not in _FUNCTION_WORDS)


def _overlap(a, b):
    return len(a & b) / (len(a | b) or 1)


def collect_messages(s: PairTaskSettings, stats: Counter) -> Dict[str, Dict[str, Dict[str, str]]]:
    """``{program: {english: {lang: translation}}}`` for messages translated in every language."""
    tables = {}
    for lang in tqdm(s.langs, desc="catalogs", unit="lang"):
        table = {}
        for domain, english, translation in iter_catalog_messages(lang, s.locale_dir):
            table.setdefault((program_of(domain), english), translation.replace("\t", " "))
        tables[lang] = table
        stats[f"messages_{lang}"] = len(table)
    common = set.intersection(*(set(t) for t in tables.values()))
    stats["translated_in_all"] = len(common)
    programs_of = defaultdict(set)
    for program, english in common:
        programs_of[english].add(program)
    by_program = defaultdict(dict)
    for program, english in sorted(common):
        n = len(english.split())
        if len(programs_of[english]) > 1:
            stats["dropped_ambiguous_program"] += 1
        elif not s.min_words <= n <= s.max_words:
            stats["dropped_length"] += 1
        else:
            by_program[program][english.replace("\t", " ")] = {lang: tables[lang][(program, english)]
                                                               for lang in s.langs}
    rng = random.Random(s.seed)
    kept = {}
    largest = sorted(by_program, key=lambda p: (-len(by_program[p]), p))[:s.max_programs or None]
    for program in sorted(by_program):
        messages = sorted(by_program[program])
        if program not in largest:
            stats["dropped_other_program"] += len(messages)
            continue
        if len(messages) < s.min_per_program:
            stats["dropped_small_program"] += len(messages)
            continue
        rng.shuffle(messages)
        kept[program] = {m: by_program[program][m] for m in sorted(messages[:s.max_per_program])}
    return kept


def split_messages(programs, rng, held_out_share=0.1):
    """Split every program's messages into train/dev/test pools (dev and test: at least 2 messages each)."""
    pools = [defaultdict(list) for _ in range(3)]
    for program, messages in sorted(programs.items()):
        names = sorted(messages)
        rng.shuffle(names)
        held = max(2, int(len(names) * held_out_share))
        for pool, part in zip(pools, (names[2 * held:], names[:held], names[held:2 * held])):
            pool[program] = part
    return pools


def make_pairs(pool: Dict[str, List[str]], n: int, candidates: int, rng) -> List[Tuple[str, str, str, str, int]]:
    """``n`` balanced pairs ``(program1, english1, program2, english2, label)`` with overlap-matched sentence2."""
    programs = [p for p in sorted(pool) if len(pool[p]) >= 2]
    if len(programs) < 2:
        raise ValueError("fewer than two programs with messages: lower --min-per-program or add languages")
    everything = [(p, m) for p in programs for m in pool[p]]
    pairs, attempts = [], 0
    while len(pairs) < n and attempts < 20 * n:
        attempts += 1
        label = len(pairs) % 2
        p1 = rng.choice(programs)
        m1 = rng.choice(pool[p1])
        if label:
            options = [(p1, m) for m in rng.sample(pool[p1], min(candidates, len(pool[p1]))) if m != m1]
        else:
            options = [(p, m) for p, m in rng.sample(everything, min(candidates * 2, len(everything))) if p != p1]
            options = options[:candidates]
        if not options:
            continue
        w1 = words(m1)
        p2, m2 = max(options, key=lambda o: (len(w1 & words(o[1])) / (len(w1 | words(o[1])) or 1), -options.index(o)))
        pairs.append((p1, m1, p2, m2, label))
    rng.shuffle(pairs)
    return pairs


def make_shared_term_pairs(pool: Dict[str, List[str]], n: int, candidates: int, rng):
    """``n`` balanced pairs labelled 1 when the two messages share a content word (:func:`terms`).

    Positives pair a message with a random other message containing one of its terms; negatives take,
    among ``candidates`` random messages sharing no term, the one with the most words in common otherwise
    (short and function words), so that raw overlap does not give the label away.
    """
    everything = [(p, m) for p in sorted(pool) for m in pool[p]]
    by_term = defaultdict(list)
    for p, m in everything:
        for t in terms(m):
            by_term[t].append((p, m))
    usable = [(p, m) for p, m in everything if any(len(by_term[t]) > 1 for t in terms(m))]
    if len(usable) < 2:
        raise ValueError("fewer than two messages share a content word: add programs (--max-programs 0)")
    pairs, attempts = [], 0
    while len(pairs) < n and attempts < 20 * n:
        attempts += 1
        label = len(pairs) % 2
        p1, m1 = rng.choice(usable)
        t1 = terms(m1)
        if label:
            term = rng.choice(sorted(t for t in t1 if len(by_term[t]) > 1))
            p2, m2 = rng.choice([o for o in by_term[term] if o[1] != m1])
        else:
            options = [o for o in rng.sample(everything, min(candidates, len(everything)))
                       if not (terms(o[1]) & t1)]
            if not options:
                continue
            w1 = words(m1)
            p2, m2 = max(options, key=lambda o: _overlap(w1, words(o[1])))
        pairs.append((p1, m1, p2, m2, label))
    rng.shuffle(pairs)
    return pairs


def make_program_examples(pool: Dict[str, List[str]], n: int, rng) -> List[Tuple[str, str]]:
    """``(program, english)`` rows, the same number per program (``n // k``, fewer if a program has fewer)."""
    programs = sorted(pool)
    if len(programs) < 2:
        raise ValueError("fewer than two programs with messages: raise --max-programs or lower --min-per-program")
    per = min([n // len(programs)] + [len(pool[p]) for p in programs])
    rows = [(p, m) for p in programs for m in rng.sample(pool[p], per)]
    rng.shuffle(rows)
    return rows


def write_task(out_dir, s: PairTaskSettings) -> dict:
    """Write the task dir (atomically: a temporary sibling renamed at the end); return the report."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists; choose a new output dir")
    stats = Counter()
    programs = collect_messages(s, stats)
    rng = random.Random(s.seed)
    train_pool, dev_pool, test_pool = split_messages(programs, rng)
    if s.label not in LABELS:
        raise ValueError(f"unknown label kind {s.label!r}: expected one of {', '.join(LABELS)}")
    if s.negatives not in NEGATIVES:
        raise ValueError(f"unknown negatives {s.negatives!r}: expected one of {', '.join(NEGATIVES)}")
    sizes = {"train": (train_pool, s.train_size), "dev": (dev_pool, s.dev_size), "test": (test_pool, s.test_size)}
    if s.label == "program":
        splits = {name: make_program_examples(pool, n, rng) for name, (pool, n) in sizes.items()}
    else:
        pair_maker = make_pairs if s.label == "same_program" else make_shared_term_pairs
        candidates = s.candidates if s.negatives == "overlap" else 1   # one random candidate: no choice made
        splits = {name: pair_maker(pool, n, candidates, rng) for name, (pool, n) in sizes.items()}
    with atomic_path(out_dir, directory=True) as tmp:
        _write_task_files(tmp, s, programs, splits, stats)
    return json.loads((out_dir / "gettext_pairs_report.json").read_text(encoding="utf-8"))


def _write_task_files(tmp, s, programs, splits, stats):
    def write(name, rows):
        with open(tmp / name, "w", encoding="utf-8") as f:
            f.writelines("\t".join(map(str, row)) + "\n" for row in rows)

    if s.label == "program":
        (tmp / LABELS_FILE).write_text("".join(f"{p}\n" for p in sorted(programs)), encoding="utf-8")
        for name, lang_name in (("train", "train-en"), ("dev", "dev-en"), ("test", "test-en")):
            write(f"{lang_name}.tsv", [(m, p) for p, m in splits[name]])
        for lang in s.langs:
            write(f"test-{lang}.tsv", [(programs[p][m][lang], p) for p, m in splits["test"]])
        _write_report(tmp, s, programs, {name: len(rows) for name, rows in splits.items()}, stats,
                      {name: dict(sorted(Counter(p for p, _ in rows).items())) for name, rows in splits.items()})
        return
    (tmp / LABELS_FILE).write_text("0\n1\n", encoding="utf-8")
    write("train-en.tsv", [(m1, m2, y) for _, m1, _, m2, y in splits["train"]])
    write("dev-en.tsv", [(m1, m2, y) for _, m1, _, m2, y in splits["dev"]])
    write("test-en.tsv", [(m1, m2, y) for _, m1, _, m2, y in splits["test"]])
    for lang in s.langs:
        write(f"test-{lang}.tsv", [(programs[p1][m1][lang], programs[p2][m2][lang], y)
                                   for p1, m1, p2, m2, y in splits["test"]])
    _write_report(tmp, s, programs, {name: len(rows) for name, rows in splits.items()}, stats,
                  {name: sum(r[4] for r in rows) / max(len(rows), 1) for name, rows in splits.items()})


def _write_report(tmp, s, programs, sizes, stats, balance):
    report = {
        "settings": {**asdict(s), "langs": list(s.langs)},
        "programs": {p: len(m) for p, m in sorted(programs.items())},
        "pairs": sizes,
        ("label_counts" if s.label == "program" else "positive_share"): balance,
        "counts": dict(stats),
    }
    (tmp / "gettext_pairs_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
