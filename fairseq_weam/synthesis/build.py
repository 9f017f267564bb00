"""``weam-synthesize`` end to end, per language pair l1-l2: fastText vectors of both languages, the l1 -> l2
mapping (Procrustes on the seed part of the dictionary, refined), noisy CSLS candidates and their BLI
precision on the held-out part, then pseudo-translations of l1 sentences written as a RAW directory with
Pharaoh links (optionally mixed with natural pairs), and a report of what was made."""
import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from fairseq_weam.atomic import atomic_path, write_text_atomic
from fairseq_weam.synthesis.adversarial import MaskedLMChooser, cosine_choice
from fairseq_weam.synthesis.bli import bli_precision
from fairseq_weam.synthesis.dictionaries import freedict_paths, load_dictionary, split_dictionary
from fairseq_weam.synthesis.embeddings import train_vectors
from fairseq_weam.synthesis.errors import SynthesisError
from fairseq_weam.synthesis.mapping import fit_mapping, normalize, seed_pairs
from fairseq_weam.synthesis.noise import Noise, ranked_candidates
from fairseq_weam.synthesis.pairs import LINKS, mix, synthesize
from fairseq_weam.synthesis.words import replace_core

CHOICES = ("best", "adversarial")
REPORT = "synthesis_report.json"


@dataclass
class SynthesisOptions:
    pairs: List[Tuple[str, str]]
    texts: Dict[str, str]                      # language -> monolingual text (fastText, and l1's sentences)
    out: str
    dictionary: Dict[str, str]                 # "l1-l2" or "*" -> dictionary spec
    sentences: Dict[str, str] = field(default_factory=dict)  # "l1-l2" or l1 -> sentences to translate
    test_share: float = 0.2
    dim: int = 100
    epoch: int = 5
    min_count: int = 3
    refine_iterations: int = 5
    refine_max_rank: int = 10000
    csls_k: int = 10
    identical_seed: bool = False
    noise: str = "none"
    choice: str = "best"
    top_k: int = 5
    checkpoint: Optional[str] = None
    checkpoint_data: Optional[str] = None
    rate: float = 0.5
    links: str = "all"
    max_sentences: Optional[int] = None
    valid_size: int = 300
    natural: Optional[str] = None
    natural_share: float = 0.5
    natural_aligner: str = "eflomal"
    seed: int = 1
    cache_dir: Optional[str] = None
    dictd_dir: str = "/usr/share/dictd"

    def check(self):
        if self.choice not in CHOICES:
            raise SynthesisError(f"--choice must be one of {', '.join(CHOICES)}, not {self.choice!r}")
        if self.links not in LINKS:
            raise SynthesisError(f"--links must be one of {', '.join(LINKS)}, not {self.links!r}")
        if not 0 < self.rate <= 1:
            raise SynthesisError(f"--rate must be in (0, 1], not {self.rate}")
        if not 0 < self.test_share < 1:
            raise SynthesisError(f"--test-share must be in (0, 1), not {self.test_share}")
        if not 0 <= self.natural_share <= 1:
            raise SynthesisError(f"--natural-share must be in [0, 1], not {self.natural_share}")
        if (self.checkpoint is None) != (self.checkpoint_data is None):
            raise SynthesisError("--checkpoint and --checkpoint-data go together")
        if self.checkpoint and self.choice != "adversarial":
            raise SynthesisError("--checkpoint scores the adversarial choice; add --choice adversarial")
        if self.top_k < 1 or self.dim < 1 or self.epoch < 1 or self.min_count < 1 or self.csls_k < 1:
            raise SynthesisError("--top-k, --dim, --epoch, --min-count and --csls-k must be >= 1")
        Noise.parse(self.noise)
        for l1, l2 in self.pairs:
            for lang in (l1, l2):
                if lang not in self.texts:
                    raise SynthesisError(f"no --text {lang}=FILE for the pair {l1}-{l2}")
            if f"{l1}-{l2}" not in self.dictionary and "*" not in self.dictionary:
                raise SynthesisError(f"no --dictionary for the pair {l1}-{l2}")
        for path in list(self.texts.values()) + list(self.sentences.values()):
            if not os.path.isfile(path):
                raise SynthesisError(f"text not found: {path}")
        if self.natural and not os.path.isdir(self.natural):
            raise SynthesisError(f"--natural {self.natural} is not a directory (a RAW dir of weam-prepare)")
        return self


def _vectors(opts: SynthesisOptions, lang: str, log):
    """fastText vectors of ``lang`` (cached in --cache-dir by text and settings), normalized."""
    path = opts.texts[lang]
    stat = os.stat(path)
    key = json.dumps([os.path.abspath(path), stat.st_size, stat.st_mtime_ns, opts.dim, opts.epoch,
                      opts.min_count])
    cached = Path(opts.cache_dir) / f"{lang}.{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz" if opts.cache_dir else None
    if cached is not None and cached.is_file():
        data = np.load(cached)
        return list(data["words"]), data["vectors"]
    log(f"fastText vectors of {lang} from {path} (dim {opts.dim}, {opts.epoch} epochs)")
    words, vectors = train_vectors(path, opts.dim, opts.epoch, opts.min_count)
    vectors = normalize(vectors)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, words=np.array(words), vectors=vectors)
    return words, vectors


def _dictionary(opts: SynthesisOptions, spec: str, l1: str, l2: str):
    """The l1 -> l2 dictionary of ``spec``, cached in --cache-dir for a file spec (FreeDict takes a while)."""
    path = freedict_paths(l1, l2, opts.dictd_dir)[0] if spec == "freedict" else Path(spec)
    if not opts.cache_dir or not path.is_file():
        return load_dictionary(spec, l1, l2, opts.dictd_dir)
    stat = path.stat()
    key = json.dumps([spec, l1, l2, str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    cached = Path(opts.cache_dir) / f"dict.{l1}-{l2}.{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
    if cached.is_file():
        return {w: set(t) for w, t in json.loads(cached.read_text(encoding="utf-8")).items()}
    entries = load_dictionary(spec, l1, l2, opts.dictd_dir)
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cached, json.dumps({w: sorted(t) for w, t in entries.items()}, ensure_ascii=False))
    return entries


def _read_lines(path) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def _natural_pairs(opts: SynthesisOptions, pair, split: str, log) -> List[Tuple[str, str, str]]:
    """The natural pairs of ``split`` in --natural with their links: its .align file, else the aligner's."""
    from fairseq_weam.align.pharaoh import format_links, read_pharaoh_file
    from fairseq_weam.align.word_aligners import align_word_corpus

    l1, l2 = pair
    base = Path(opts.natural) / f"{split}.{l1}-{l2}"
    paths = [Path(f"{base}.{l1}"), Path(f"{base}.{l2}")]
    if not all(p.is_file() for p in paths):
        raise SynthesisError(f"--natural {opts.natural}: no {paths[0].name} and {paths[1].name}")
    with open(paths[0], encoding="utf-8") as a, open(paths[1], encoding="utf-8") as b:
        rows = [(x.strip(), y.strip()) for x, y in zip(a, b) if x.split() and y.split()]
    align = Path(f"{base}.align")
    if align.is_file():
        links = [format_links(l) for l in read_pharaoh_file(align)]
        if len(links) != len(rows):
            raise SynthesisError(f"{align}: {len(links)} lines for {len(rows)} non-empty pairs")
    else:
        log(f"aligning the natural {split} pairs of {l1}-{l2} with {opts.natural_aligner}")
        links = [format_links(l) for l in align_word_corpus([x.split() for x, _ in rows], [y.split() for _, y in rows],
                                                            aligner=opts.natural_aligner)]
    return [(x, y, l) for (x, y), l in zip(rows, links)]


def _pair_report(opts: SynthesisOptions, pair, tmp: Path, log) -> Dict:
    l1, l2 = pair
    name = f"{l1}-{l2}"
    src_words, src = _vectors(opts, l1, log)
    tgt_words, tgt = _vectors(opts, l2, log)
    spec = opts.dictionary.get(name, opts.dictionary.get("*"))
    entries = _dictionary(opts, spec, l1, l2)
    src_vocab, tgt_vocab = set(src_words), set(tgt_words)
    in_vocab = {w: t for w, t in entries.items() if w in src_vocab}
    in_vocab = {w: {x for x in t if x in tgt_vocab} for w, t in in_vocab.items()}
    in_vocab = {w: t for w, t in in_vocab.items() if t}
    if len(in_vocab) < 2:
        raise SynthesisError(f"dictionary {spec}: {len(in_vocab)} of its {len(entries)} {name} entries have both "
                             f"words in the vocabularies of {opts.texts[l1]} and {opts.texts[l2]}; give more text, "
                             "a lower --min-count, or a dictionary of these languages")
    seed_dict, test_dict = split_dictionary(in_vocab, opts.test_share, opts.seed)
    pairs = seed_pairs(src_words, tgt_words, seed_dict)
    if opts.identical_seed:  # words spelt alike (names, loanwords) as extra seed pairs, never a test word
        tgt_index = {t: j for j, t in enumerate(tgt_words)}
        pairs = sorted(set(pairs) | {(i, tgt_index[s]) for i, s in enumerate(src_words)
                                     if s in tgt_index and s not in test_dict})
    w = fit_mapping(src, tgt, pairs, opts.refine_iterations, opts.csls_k, opts.refine_max_rank)
    rng = np.random.default_rng(opts.seed)
    noise = Noise.parse(opts.noise)
    ranked = ranked_candidates(src @ w, tgt, max(5, opts.top_k), noise, rng, opts.csls_k)
    clean = ranked if noise.kind == "none" else ranked_candidates(src @ w, tgt, 5, Noise(), rng, opts.csls_k)
    bli = bli_precision(src_words, tgt_words, ranked, test_dict)
    bli_clean = bli_precision(src_words, tgt_words, clean, test_dict)
    chooser = None
    if opts.choice == "best":
        candidates = {w_: [tgt_words[ranked[i, 0]]] for i, w_ in enumerate(src_words)}
    elif opts.checkpoint is None:
        chosen = cosine_choice(ranked, tgt, opts.top_k)
        candidates = {w_: [tgt_words[chosen[i]]] for i, w_ in enumerate(src_words)}
    else:
        candidates = {w_: [tgt_words[j] for j in ranked[i, : opts.top_k]] for i, w_ in enumerate(src_words)}
        scorer = MaskedLMChooser(opts.checkpoint, opts.checkpoint_data)
        chooser = lambda tokens, positions, lists: scorer.choose(tokens, positions, lists, replace_core)  # noqa: E731
    sentences = opts.sentences.get(name, opts.sentences.get(l1, opts.texts[l1]))
    lines = _read_lines(sentences)
    if not lines:
        raise SynthesisError(f"{sentences}: no sentences to pseudo-translate")
    order = rng.permutation(len(lines))
    lines = [lines[i] for i in order]
    stats = Counter()
    wanted = (opts.max_sentences or len(lines)) + opts.valid_size
    synthetic = []
    for made in synthesize(lines, candidates, opts.rate, rng, opts.links, chooser, test_dict, stats):
        synthetic.append(made)
        if len(synthetic) >= wanted:
            break
    if len(synthetic) <= opts.valid_size:
        raise SynthesisError(f"{name}: only {len(synthetic)} sentences have a word with translation candidates "
                             f"(--valid-size {opts.valid_size}); give more text or a smaller --valid-size")
    splits = {"valid": synthetic[: opts.valid_size], "train": synthetic[opts.valid_size :]}
    natural_counts = {}
    if opts.natural:
        for split, made in list(splits.items()):
            natural = _natural_pairs(opts, pair, split, log)
            splits[split] = mix(made, natural, opts.natural_share, len(made), rng)
            natural_counts[split] = min(int(round(opts.natural_share * len(made))), len(natural))
    for split, rows in splits.items():
        for k, suffix in enumerate((l1, l2, "align")):
            with open(tmp / f"{split}.{name}.{suffix}", "w", encoding="utf-8") as f:
                f.writelines(row[k] + "\n" for row in rows)
    exchanged = stats["test_exchanged"]
    report = {
        "pair": name, "dictionary": spec, "dictionary_entries": len(entries), "in_vocabulary": len(in_vocab),
        "seed_entries": len(seed_dict), "test_entries": len(test_dict), "seed_pairs": len(pairs),
        "vocabulary": {l1: len(src_words), l2: len(tgt_words)},
        "noise": opts.noise, "choice": opts.choice + ("-mlm" if chooser else "-cosine" if opts.choice == "adversarial" else ""),
        "bli": bli, "bli_clean": bli_clean,
        "exchanged_test_precision": 100.0 * stats["test_correct"] / exchanged if exchanged else None,
        "exchanged_test_words": exchanged,
        "rate": opts.rate, "exchange_share": stats["exchanged"] / max(stats["tokens"], 1),
        "lines_read": stats["lines"], "no_known_word": stats["no_known_word"],
        "train": len(splits["train"]), "valid": len(splits["valid"]), "natural": natural_counts,
    }
    log(describe(report))
    return report


def describe(report: Dict) -> str:
    precision = report["exchanged_test_precision"]
    chosen = "n/a" if precision is None else f"{precision:.1f}"
    return (f"{report['pair']}: BLI p@1 {report['bli']['p@1']:.1f} p@5 {report['bli']['p@5']:.1f} "
            f"({report['bli']['evaluated']} test words; noise {report['noise']}, clean p@1 "
            f"{report['bli_clean']['p@1']:.1f}); exchanged-word precision {chosen} ({report['choice']}); "
            f"train {report['train']} valid {report['valid']} pairs, {100 * report['exchange_share']:.0f}% of "
            f"tokens exchanged")


def build_synthetic_corpus(opts: SynthesisOptions, log=print) -> Dict:
    """Write ``opts.out`` (a RAW directory for ``weam-prepare --aligner precomputed``) and its report."""
    opts.check()
    with atomic_path(opts.out, directory=True) as tmp:
        reports = [_pair_report(opts, pair, tmp, log) for pair in opts.pairs]
        result = {"options": {k: v for k, v in asdict(opts).items() if k != "pairs"}, "pairs": reports}
        (tmp / REPORT).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
