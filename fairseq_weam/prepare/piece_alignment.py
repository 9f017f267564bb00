"""The alignment stage of a pair: word links (aligner or precomputed) projected onto the piece files.

All splits of a pair are aligned in one aligner run (unsupervised aligners gain from more text), then
split back. The aligner's words are ``▁``-words, or for Chinese, Japanese and Thai the segmenter's words
made of whole pieces (:mod:`fairseq_weam.text.segmentation`); precomputed links index ``▁``-words.
``--aligner-input text`` makes the ``▁``-words from the cleaned text before there are pieces: sentencepiece's
normalization (the model's, or for a model trained here its rule) split at its ``▁``s, which is the line the
pieces join to. The aligner then reads every cleaned pair; after encoding, each kept pair (found by its line
number) has its words checked against those of its pieces, and a pair where they differ loses its links
(counted as ``words_changed``) rather than have them point at other words. The
figures returned feed the report: links, pieces and aligned pieces; per language words, linked words,
word links, the ``▁``-words they came from and segmenter boundaries that fell inside pieces.

Nothing is held per corpus: the piece files are read in chunks of lines, and each chunk is segmented (before
the aligner) or symmetrized and projected (after it) in the run's worker pool, results written in order.
"""
import itertools
import re
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Sequence

import sentencepiece as spm

from fairseq_weam.align.pharaoh import parse_links
from fairseq_weam.align.piece_projection import projected_line
from fairseq_weam.align.symmetrization import parse_atools_line, run_atools, symmetrize
from fairseq_weam.align.word_aligners import (
    BackgroundAligner, aligner_workspace, check_line_count, read_checked_links,
)
from fairseq_weam.prepare.config import PrepareError
from fairseq_weam.text.pieces import WORD_BOUNDARY, word_spans
from fairseq_weam.text.segmentation import (
    load_segmenter, segmented_spans, segmenter_name, segmenter_version, words_of_spans,
)

#: Bumped when the figures the align stage records change (an old record is then re-made, not misread).
WORD_FIGURES = 1
#: Lines per task given to a worker.
CHUNK_LINES = 2000
#: sentencepiece's normalization rule for the models weam-prepare trains (its default).
TRAINED_NORMALIZATION = "nmt_nfkc"


def pair_segmenters(cfg, langs: Sequence[str]) -> Dict[str, Optional[str]]:
    """The segmenter of each language of the pair (None: ``▁``-words; always None for precomputed links)."""
    if cfg.aligner == "precomputed":
        return {lang: None for lang in langs}
    return {lang: segmenter_name(lang, cfg.word_segmentation, cfg.ja_segmenter) for lang in langs}


def reads_text(cfg, langs: Sequence[str]) -> bool:
    """Whether the pair's aligner reads the normalized cleaned text (``--aligner-input text``) or the pieces."""
    return (cfg.aligner_input == "text" and cfg.aligner != "precomputed" and not cfg.hf_tokenizer
            and not any(pair_segmenters(cfg, langs).values()))


def segmentation_settings(cfg, langs: Sequence[str]) -> Dict:
    """Part of the align stage's signature: the segmenters (with package versions), what the aligner reads and
    the figures' version."""
    used = {lang: segmenter_version(name) for lang, name in pair_segmenters(cfg, langs).items() if name}
    return {"word_figures": WORD_FIGURES, "segmenters": used,
            "aligner_input": "text" if reads_text(cfg, langs) else "pieces"}


class TextWords(NamedTuple):
    """Where the aligner's words come from with ``--aligner-input text``, per split: the cleaned pair
    (``clean[split]``: source, target), the raw line numbers of its pairs (``clean_lines``) and of the pairs
    encoding kept (``kept_lines``); ``normalizer``: a model file, or ``rule:NAME``."""
    clean: Dict[str, Sequence]
    clean_lines: Dict[str, object]
    kept_lines: Dict[str, object]
    normalizer: str


def normalizer_source(cfg) -> str:
    """The normalization the pieces will have: the given model's, or the rule of the models trained here."""
    return str(cfg.spm_model) if cfg.spm_model else f"rule:{TRAINED_NORMALIZATION}"


_normalizers: Dict[str, object] = {}


def _normalizer(source: str):
    if source not in _normalizers:
        _normalizers[source] = (spm.SentencePieceNormalizer(rule_name=source[len("rule:"):])
                                if source.startswith("rule:") else spm.SentencePieceNormalizer(model_file=source))
    return _normalizers[source]


def text_words_line(normalized: str) -> str:
    """The aligner's line of a normalized sentence (``▁`` for spaces): its ``▁``-words, space-separated."""
    return " ".join(word for word in normalized.split(WORD_BOUNDARY) if word)


def _columns(sources: Sequence, stack: ExitStack) -> List:
    """Paths opened (closed with ``stack``), open files as they are (read on from where they are), None as a
    column of None."""
    return [itertools.repeat(None) if src is None
            else src if hasattr(src, "readline") else stack.enter_context(open(src, encoding="utf-8"))
            for src in sources]


def _batched(rows: Iterable, size: int) -> Iterator[List[tuple]]:
    rows = iter(rows)
    while True:
        chunk = list(itertools.islice(rows, size))
        if not chunk:
            return
        yield chunk


def _chunks(sources: Sequence, size: int) -> Iterator[List[tuple]]:
    """Lines of ``sources`` (see :func:`_columns`) in step, up to the first source's end, ``size`` rows at a time."""
    with ExitStack() as stack:
        yield from _batched(zip(*_columns(sources, stack)), size)


def _kept_rows(pieces: Sequence, kept_lines, clean_lines, aligner_columns: Sequence) -> Iterator[tuple]:
    """Rows ``(pieces..., aligner columns...)`` of the pairs encoding kept, for an aligner that read every
    cleaned pair: ``clean_lines`` numbers the aligner's rows of this split, ``kept_lines`` the piece rows. The
    aligner's columns (open files, or None) are read to the split's end, so the next split reads on."""
    with ExitStack() as stack:
        kept = zip(*_columns([*pieces, kept_lines], stack))
        aligner = zip(_columns([clean_lines], stack)[0], zip(*_columns(aligner_columns, stack)))
        for *piece_columns, number in kept:
            for clean_number, columns in aligner:
                if clean_number == number:
                    yield (*piece_columns, *columns)
                    break
            else:
                raise PrepareError(f"{kept_lines}: line {number.strip()} is not among the aligned pairs of "
                                   f"{clean_lines}; remove {Path(kept_lines).parent} and re-run")
        for _ in aligner:  # the split's remaining rows (pairs encoding dropped)
            pass


def _in_order(pool, fn: Callable, tasks: Iterable, ahead: int) -> Iterator:
    """``fn(task)`` for each task, in order: in the pool with at most ``ahead`` tasks in flight, or here."""
    return map(fn, tasks) if pool is None else pool.in_order(fn, tasks, ahead)


def _starts_line(spans: Sequence[range]) -> str:
    return " ".join(str(span.start) for span in spans) + "\n"


def _spans_of_starts(line: str, length: int) -> List[range]:
    starts = [int(k) for k in line.split()]
    return [range(a, b) for a, b in zip(starts, starts[1:] + [length])]


def _space_words(pieces: Sequence[str]) -> int:
    return sum(1 for k, p in enumerate(pieces) if k == 0 or p.startswith(WORD_BOUNDARY))


def _space_words_line(pieces: Sequence[str]) -> str:
    """The aligner's line of ``▁``-words: ``words_of_spans(pieces, word_spans(pieces))`` joined, made in one pass."""
    parts = []
    for k, piece in enumerate(pieces):
        if k and piece.startswith(WORD_BOUNDARY):
            parts.append(" ")
        parts.append(piece)
    line = "".join(parts).replace(WORD_BOUNDARY, "")
    if not line or line[0] == " " or line[-1] == " " or "  " in line:  # a word of ``▁`` only stays ``▁``
        return " ".join(words_of_spans(pieces, word_spans(pieces)))
    return line


def _word_starts(pieces: Sequence[str]) -> List[int]:
    """First piece of each ``▁``-word (as :func:`word_spans`), and the line's length last."""
    starts = [k for k, piece in enumerate(pieces) if piece.startswith(WORD_BOUNDARY)]
    if not starts or starts[0]:
        starts.insert(0, 0)
    starts.append(len(pieces))
    return starts


_LINKS_LINE = re.compile(r"\s*(?:[0-9]+-[0-9]+(?:\s+|$))*", re.ASCII)


def _checked_links(line: str, number: int, path, src_len: int, tgt_len: int, aligner: str) -> FrozenSet:
    """:func:`read_checked_links`, fast for well-formed lines (the others go through it for its error)."""
    if _LINKS_LINE.fullmatch(line):
        numbers = [int(n) for n in line.replace("-", " ").split()]
        sources, targets = numbers[0::2], numbers[1::2]
        if not numbers or (max(sources) < src_len and max(targets) < tgt_len):
            return frozenset(zip(sources, targets))
    return read_checked_links(line, number, path, src_len, tgt_len, aligner)


def _words_task(task):
    """Segment one chunk: the aligner's word lines of both sides, their word starts and boundaries inside pieces."""
    rows, segmenters = task
    out = []
    for side, segmenter in enumerate(segmenters):
        starts = load_segmenter(segmenter) if segmenter else None
        words, spans_text, inside = [], [], 0
        for row in rows:
            pieces = row[side].split()
            if starts is None:
                words.append(_space_words_line(pieces) + "\n")
                continue
            spans, n = segmented_spans(pieces, starts)
            inside += n
            spans_text.append(_starts_line(spans))
            words.append(" ".join(words_of_spans(pieces, spans)) + "\n")
        out.append(("".join(words), "".join(spans_text), inside))
    return len(rows), out


def _text_words_task(task):
    """The aligner's word lines of one chunk of cleaned pairs (``--aligner-input text``), both sides."""
    rows, normalizer = task
    normalize = _normalizer(normalizer).normalize
    return len(rows), [("".join(text_words_line(normalize(row[side].rstrip("\n"))) + "\n" for row in rows), "", 0)
                       for side in (0, 1)]


_COUNTS = ("sentences", "links", "src_pieces", "tgt_pieces", "src_aligned", "tgt_aligned", "piece_pairs", "word_links",
           "words_changed")
_WORD_COUNTS = ("words", "space_words", "linked_words", "word_links")


def _project_task(task):
    """Symmetrize (or parse) and project one chunk; return its ``.align`` text and figures.

    A row: source and target pieces, their word starts (None: ``▁``-words), the links (precomputed; or forward,
    reverse, atools' symmetrized or None) and, for an aligner that read the text, its two word lines."""
    rows, first_line, kind, options = task
    totals, side_totals, lines = [0] * len(_COUNTS), ([0] * len(_WORD_COUNTS), [0] * len(_WORD_COUNTS)), []
    for n, row in enumerate(rows, first_line):
        x, y = row[0].split(), row[1].split()
        spans = []
        for side, (pieces, starts) in enumerate(((x, row[2]), (y, row[3]))):
            if starts is None:
                bounds = _word_starts(pieces)
                spans.append([range(a, b) for a, b in zip(bounds, bounds[1:])])
            else:
                spans.append(_spans_of_starts(starts, len(pieces)))
        if len(row) > 7 and (row[7].rstrip("\n") != _space_words_line(x) or row[8].rstrip("\n") != _space_words_line(y)):
            links = ()  # the text's words are not those of the pieces: no links rather than misplaced ones
            totals[_COUNTS.index("words_changed")] += 1
        elif kind == "precomputed":
            links = parse_links(row[4], f"{options['path']}:{n}")
        else:
            aligner = options["aligner"]
            forward = _checked_links(row[4], n, options["forward"], len(spans[0]), len(spans[1]), aligner)
            reverse = _checked_links(row[5], n, options["reverse"], len(spans[0]), len(spans[1]), aligner)
            if options["atools"]:
                links = parse_atools_line(row[6], n, options["atools"])
            else:
                links = symmetrize(forward, reverse, options["heuristic"])
        if links:
            line, piece_links, src_aligned, tgt_aligned = projected_line(links, spans[0], spans[1],
                                                                         options["first_piece_only"])
        else:
            line, piece_links, src_aligned, tgt_aligned = "", 0, 0, 0
        lines.append(line + "\n")
        for k, value in enumerate((1, piece_links, len(x), len(y), src_aligned, tgt_aligned, len(x) * len(y),
                                   len(links))):
            totals[k] += value
        linked = (len({i for i, _ in links}), len({j for _, j in links}))
        for side, pieces in enumerate((x, y)):
            words = side_totals[side]
            words[0] += len(spans[side])
            words[1] += len(spans[side]) if row[2 + side] is None else _space_words(pieces)
            words[2] += linked[side]
            words[3] += len(links)
    side_counts = tuple(Counter(dict(zip(_WORD_COUNTS, t))) for t in side_totals)
    return "".join(lines), Counter(dict(zip(_COUNTS, totals))), side_counts


def align_pair(piece_paths: Dict[str, Sequence], out_paths: Dict[str, object], cfg, tmp_dir,
               langs: Sequence[str] = ("src", "tgt"), pool=None, chunk_lines: int = CHUNK_LINES,
               text_words: Optional[TextWords] = None) -> Dict:
    """``piece_paths[split]`` = (source pieces, target pieces[, word links]); write ``out_paths[split]``.

    ``langs`` are the pair's language codes (source first): they choose the segmenters and key the figures.
    Chunks of ``chunk_lines`` lines run in ``pool`` (a :class:`~fairseq_weam.prepare.worker_pool.WorkerPool`)
    when given; the output does not depend on either. ``text_words``: the aligner reads the normalized text
    (``--aligner-input text``). :class:`PairAlignment` does the same in steps.
    """
    with PairAlignment(piece_paths, cfg, tmp_dir, langs, pool, chunk_lines, text_words) as alignment:
        return alignment.finish(out_paths)


class PairAlignment:
    """The align stage of one pair in steps, so that pairs overlap: :meth:`write_words` (the aligner's input,
    segmented in the pool), :meth:`start_aligner` (the aligner runs in the background), :meth:`wait_aligner`,
    then :meth:`finish` (links checked, symmetrized and projected in the pool). Each step does the ones before
    it that have not run. A context manager: leaving it ends a running aligner and removes the temporary files.
    ``timeline``: ``(step, start, end)`` wall-clock times of the steps that ran.
    """

    def __init__(self, piece_paths: Dict[str, Sequence], cfg, tmp_dir, langs: Sequence[str] = ("src", "tgt"),
                 pool=None, chunk_lines: int = CHUNK_LINES, text_words: Optional[TextWords] = None):
        self.piece_paths, self.cfg, self.langs, self.pool, self.chunk_lines = piece_paths, cfg, langs, pool, chunk_lines
        self.text_words = text_words
        self.tmp_dir = tmp_dir
        self.splits = list(piece_paths)
        self.segmenters = pair_segmenters(cfg, langs)
        self.side_segmenters = (self.segmenters[langs[0]], self.segmenters[langs[1]])
        if text_words is not None and any(self.side_segmenters):
            raise ValueError("the aligner reads segmented words from the pieces, not the text")
        self.ahead = 2 * (pool.workers if pool is not None else 1) + 1
        self.words = {s: {lang: Counter() for lang in langs} for s in self.splits}
        self.timeline: List[tuple] = []
        self.sentences = None  # set by write_words
        self._aligner = None
        self._aligned = cfg.aligner == "precomputed"
        self._stack = ExitStack()
        self.tmp = None

    def open(self):
        """Make the temporary directory; returns self."""
        self.tmp = Path(self._stack.enter_context(aligner_workspace(self.tmp_dir)))
        self.starts = {s: [self.tmp / f"{s}.{side}.starts" if self.side_segmenters[side] else None for side in (0, 1)]
                       for s in self.splits}
        return self

    def close(self):
        """End the aligner if it runs, remove the temporary files (again: nothing)."""
        try:
            if self._aligner is not None:
                self._aligner.stop()
        finally:
            self._stack.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def write_words(self):
        """The aligner's word files (and word starts of segmented sides), all splits one after the other."""
        if self.sentences is not None or self._aligned:
            return
        began, sentences, tmp = time.time(), 0, self.tmp
        with open(tmp / "src", "w", encoding="utf-8") as src, open(tmp / "tgt", "w", encoding="utf-8") as tgt:
            for s in self.splits:
                with ExitStack() as starts_files:
                    starts_out = [starts_files.enter_context(open(p, "w", encoding="utf-8")) if p else None
                                  for p in self.starts[s]]
                    if self.text_words is None:
                        fn = _words_task
                        tasks = ((rows, self.side_segmenters) for rows in _chunks(self.piece_paths[s][:2], self.chunk_lines))
                    else:
                        fn = _text_words_task
                        tasks = ((rows, self.text_words.normalizer)
                                 for rows in _chunks(self.text_words.clean[s][:2], self.chunk_lines))
                    for lines, chunk in _in_order(self.pool, fn, tasks, self.ahead):
                        for side, (out, (text, spans_text, inside)) in enumerate(zip((src, tgt), chunk)):
                            out.write(text)
                            if starts_out[side] is not None:
                                starts_out[side].write(spans_text)
                                self.words[s][self.langs[side]].update({"inside_pieces": inside})
                        sentences += lines
        self.sentences = sentences
        self.timeline.append(("words", began, time.time()))

    def start_aligner(self, after: Optional["PairAlignment"] = None):
        """Start the aligner on the word files (written first if need be); returns at once. ``after``: another
        pair's alignment whose aligner runs first (this one starts when it ends, see :class:`BackgroundAligner`)."""
        if self._aligner is not None or self._aligned:
            return
        self.write_words()
        cfg, tmp = self.cfg, self.tmp
        self._aligner = BackgroundAligner(tmp / "src", tmp / "tgt", tmp / "forward", tmp / "reverse", cfg.aligner,
                                          cfg.fast_align_bin, cfg.eflomal_bin, tmp,
                                          after=after._aligner if after is not None else None)

    def wait_aligner(self):
        """Wait for the aligner (started first if need be) and check its output; atools when given."""
        if self._aligned:
            return
        self.start_aligner()
        self._aligner.wait()
        self.timeline.append(("aligner", self._aligner.started, self._aligner.ended))
        cfg, tmp = self.cfg, self.tmp
        for path in (tmp / "forward", tmp / "reverse"):
            check_line_count(path, self.sentences, cfg.aligner)
        if cfg.atools_bin:
            began = time.time()
            run_atools(tmp / "forward", tmp / "reverse", cfg.symmetrize, cfg.atools_bin, tmp / "symmetrized",
                       self.sentences)
            self.timeline.append(("atools", began, time.time()))
        self._aligned = True

    def finish(self, out_paths: Dict[str, object]) -> Dict:
        """Write ``out_paths[split]`` (the piece links) and return the figures of each split."""
        self.wait_aligner()
        began, cfg, tmp, chunk_lines = time.time(), self.cfg, self.tmp, self.chunk_lines
        options = {"first_piece_only": cfg.first_piece_only}
        with ExitStack() as files:
            if cfg.aligner == "precomputed":
                links = {s: [self.piece_paths[s][2]] for s in self.splits}
            else:
                link_paths = [tmp / "forward", tmp / "reverse"] + ([tmp / "symmetrized"] if cfg.atools_bin else [])
                shared = [files.enter_context(open(p, encoding="utf-8")) for p in link_paths]  # read on across splits
                links = {s: shared + [None] * (3 - len(shared)) for s in self.splits}
                if self.text_words is not None:  # and the text's words, to check against the pieces'
                    words = [files.enter_context(open(tmp / side, encoding="utf-8")) for side in ("src", "tgt")]
                    links = {s: links[s] + words for s in self.splits}
                options.update(aligner=cfg.aligner, forward=str(tmp / "forward"), reverse=str(tmp / "reverse"),
                               atools=cfg.atools_bin, heuristic=cfg.symmetrize)
            stats, first = {}, 1
            for s in self.splits:
                counts, words = Counter(), self.words[s]
                kind = "precomputed" if cfg.aligner == "precomputed" else "aligner"
                split_options = dict(options, path=str(self.piece_paths[s][2])) if kind == "precomputed" else options
                if self.text_words is None:
                    chunks = _chunks(list(self.piece_paths[s][:2]) + self.starts[s] + links[s], chunk_lines)
                else:
                    chunks = _batched(_kept_rows([*self.piece_paths[s][:2], *self.starts[s]], self.text_words.kept_lines[s],
                                                 self.text_words.clean_lines[s], links[s]), chunk_lines)
                tasks = ((rows, first + k * chunk_lines, kind, split_options) for k, rows in enumerate(chunks))
                with open(out_paths[s], "w", encoding="utf-8") as out:
                    for text, chunk_counts, side_counts in _in_order(self.pool, _project_task, tasks, self.ahead):
                        out.write(text)
                        counts.update(chunk_counts)
                        for side in (0, 1):
                            words[self.langs[side]].update(side_counts[side])
                first += counts["sentences"]
                stats[s] = dict(counts, words={lang: dict(words[lang], segmenter=self.segmenters[lang])
                                               for lang in self.langs})
        self.timeline.append(("project", began, time.time()))
        return stats
