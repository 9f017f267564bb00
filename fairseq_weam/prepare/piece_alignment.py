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

import numpy as np
import sentencepiece as spm

from fairseq_weam.align.pharaoh import parse_link_block, parse_links
from fairseq_weam.align.piece_projection import projected_block, projected_line
from fairseq_weam.align.symmetrization import parse_atools_line, run_atools, symmetrize, symmetrize_keys
from fairseq_weam.align.word_aligners import (
    BackgroundAligner, aligner_workspace, check_line_count, read_checked_links,
)
from fairseq_weam.prepare.config import PrepareError
from fairseq_weam.prepare.line_chunks import column_chunks, open_sources, read_columns
from fairseq_weam.text.pieces import WORD_BOUNDARY, word_layout, word_spans
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


def _rows(columns: Sequence[Optional[List[str]]]) -> List[tuple]:
    """The rows of a chunk's columns (None in a column that is None)."""
    return list(zip(*(itertools.repeat(None) if column is None else column for column in columns)))


def _kept_rows(pieces: Sequence, kept_lines, clean_lines, aligner_columns: Sequence,
               size: int) -> Iterator[List[Optional[List[str]]]]:
    """Columns ``(pieces..., aligner columns...)`` (as :func:`.line_chunks.column_chunks`) of the pairs encoding
    kept, ``size`` rows at a time, for an aligner that read every cleaned pair: ``clean_lines`` numbers the
    aligner's rows of this split, ``kept_lines`` the piece rows (both ascending). The aligner's columns (open
    files, or None) are read to the split's end, so the next split reads on."""
    def missing(number):
        return PrepareError(f"{kept_lines}: line {number.strip()} is not among the aligned pairs of {clean_lines}; "
                            f"remove {Path(kept_lines).parent} and re-run")

    with ExitStack() as stack:
        kept = open_sources([kept_lines, *pieces], stack)
        aligner = open_sources([clean_lines, *aligner_columns], stack)
        numbers, columns = [], [[] if f is not None else None for f in aligner[1:]]  # read, not yet matched
        while True:
            batch = read_columns(kept, size)
            if not batch[0]:
                break
            last = batch[0][-1]
            try:
                while not numbers or int(numbers[-1]) < int(last):
                    more = read_columns(aligner, size)
                    if not more[0]:
                        break
                    numbers += more[0]
                    for column, lines in zip(columns, more[1:]):
                        if column is not None:
                            column += lines
            except ValueError:
                raise missing(last) from None
            if numbers[:len(batch[0])] == batch[0]:  # encoding dropped none of these pairs
                rows = slice(0, len(batch[0]))
                matched = [None if column is None else column[rows] for column in columns]
            else:
                position = {number: k for k, number in enumerate(numbers)}
                try:
                    rows = [position[number] for number in batch[0]]
                except KeyError as err:
                    raise missing(err.args[0]) from None
                matched = [None if column is None else [column[k] for k in rows] for column in columns]
            yield batch[1:] + matched
            done = numbers.index(last) + 1
            del numbers[:done]
            for column in columns:
                if column is not None:
                    del column[:done]
        for _ in zip(*(f for f in aligner if f is not None)):  # the split's remaining rows (pairs encoding dropped)
            pass


def _in_order(pool, fn: Callable, tasks: Iterable, ahead: int) -> Iterator:
    """``fn(task)`` for each task, in order: in the pool with at most ``ahead`` tasks in flight, or here."""
    return map(fn, tasks) if pool is None else pool.in_order(fn, tasks, ahead)


def _starts_line(spans: Sequence[range]) -> str:
    return " ".join(str(span.start) for span in spans) + "\n"


def _bounds_of_starts(line: str, length: int) -> List[int]:
    """Word bounds (each word's first piece, then the line's length) of a line of segmented word starts."""
    return [int(k) for k in line.split()] + [length]


def _space_words(pieces: Sequence[str]) -> int:
    return sum(1 for k, p in enumerate(pieces) if k == 0 or p.startswith(WORD_BOUNDARY))


def _space_words_block(lines: Sequence[str]) -> Optional[str]:
    """The aligner's lines of ``▁``-words of lines of pieces joined by single spaces, joined by newlines, made by
    replacing characters (pieces hold no spaces, so a space before a ``▁`` joins a word's first piece to the word
    before); None where that does not give them (a line without pieces, a word of ``▁`` only)."""
    text = "\n".join(lines)
    if "\0" in text:
        return None
    words = text.replace(" " + WORD_BOUNDARY, "\0").replace(" ", "").replace(WORD_BOUNDARY, "").replace("\0", " ")
    if (not words or words[0] in " \n" or words[-1] in " \n"
            or any(gap in words for gap in ("  ", " \n", "\n ", "\n\n"))):
        return None
    return words


def _space_words_line(pieces: Sequence[str]) -> str:
    """The aligner's line of ``▁``-words: ``words_of_spans(pieces, word_spans(pieces))`` joined (a word of ``▁``
    only stays ``▁``)."""
    return _space_words_block([" ".join(pieces)]) or " ".join(words_of_spans(pieces, word_spans(pieces)))


def _word_starts(pieces: Sequence[str]) -> List[int]:
    """First piece of each ``▁``-word (as :func:`word_spans`), and the line's length last."""
    starts = [k for k, piece in enumerate(pieces) if piece[0] == WORD_BOUNDARY]
    if not starts or starts[0]:
        starts.insert(0, 0)
    starts.append(len(pieces))
    return starts


_LINKS_LINE = re.compile(r"\s*(?:[0-9]+-[0-9]+(?:\s+|$))*", re.ASCII)


def _checked_links(line: str, number: int, path, src_len: int, tgt_len: int, aligner: str) -> FrozenSet:
    """:func:`read_checked_links`, fast for well-formed lines (the others go through it for its error)."""
    if _LINKS_LINE.fullmatch(line):
        numbers = line.replace("-", " ").split()
        if not numbers:
            return frozenset()
        sources, targets = list(map(int, numbers[0::2])), list(map(int, numbers[1::2]))
        if max(sources) < src_len and max(targets) < tgt_len:
            return frozenset(zip(sources, targets))
    return read_checked_links(line, number, path, src_len, tgt_len, aligner)


def _words_task(task):
    """Segment one chunk: the aligner's word lines of both sides, their word starts and boundaries inside pieces."""
    columns, segmenters = task
    out = []
    for side, segmenter in enumerate(segmenters):
        starts = load_segmenter(segmenter) if segmenter else None
        words, spans_text, inside = [], [], 0
        for line in columns[side]:
            pieces = line.split()
            if starts is None:
                words.append(_space_words_line(pieces) + "\n")
                continue
            spans, n = segmented_spans(pieces, starts)
            inside += n
            spans_text.append(_starts_line(spans))
            words.append(" ".join(words_of_spans(pieces, spans)) + "\n")
        out.append(("".join(words), "".join(spans_text), inside))
    return len(columns[0]), out


def _text_words_task(task):
    """The aligner's word lines of one chunk of cleaned pairs (``--aligner-input text``), both sides."""
    columns, normalizer = task
    normalize = _normalizer(normalizer).normalize  # a list at once: one call into sentencepiece
    return len(columns[0]), [("".join(text_words_line(normalized) + "\n"
                                      for normalized in normalize([line.rstrip("\n") for line in columns[side]])),
                              "", 0) for side in (0, 1)]


_COUNTS = ("sentences", "links", "src_pieces", "tgt_pieces", "src_aligned", "tgt_aligned", "piece_pairs", "word_links",
           "words_changed")
_WORD_COUNTS = ("words", "space_words", "linked_words", "word_links")


def _link_arrays(lines: Sequence[str], rows: np.ndarray, src_words: np.ndarray, tgt_words: np.ndarray):
    """The links of ``lines`` (Pharaoh, without newlines) at ``rows`` as arrays ``(row, i, j)``; None where one is
    malformed or outside its pair (the per-line path then names it)."""
    parsed = parse_link_block("".join(line + "\n" for line in lines))
    if parsed is None:
        return None
    numbers, counts = parsed
    row = np.repeat(rows, counts)
    src, tgt = numbers[0::2], numbers[1::2]
    if (src >= src_words[row]).any() or (tgt >= tgt_words[row]).any():
        return None
    return row, src, tgt


def _row_keys(row: np.ndarray, keys: np.ndarray, rows: np.ndarray) -> List[FrozenSet[int]]:
    """The link keys of each of ``rows`` (ascending) as a set, from arrays sorted by ``row``."""
    starts, ends = np.searchsorted(row, rows, "left").tolist(), np.searchsorted(row, rows, "right").tolist()
    keys = keys.tolist()
    return [frozenset(keys[a:b]) for a, b in zip(starts, ends)]


def _project_block(columns, options) -> Optional[tuple]:
    """:func:`_project_task` of a chunk of an aligner's ``▁``-word links, in array operations (symmetrizing
    only the pairs whose two directions differ); None where a line is not as expected (the per-line path then
    gives the same result, or the error for that line)."""
    strip = lambda column: [line.rstrip("\n") for line in columns[column]]  # noqa: E731
    x_lines, y_lines = strip(0), strip(1)
    x_layout, y_layout = word_layout(x_lines), word_layout(y_lines)
    if x_layout is None or y_layout is None:
        return None
    count = len(x_lines)
    changed = np.zeros(count, dtype=bool)
    if len(columns) > 7:  # the aligner read the text: its words must be those of the pieces
        for side, lines in ((7, x_lines), (8, y_lines)):
            words = strip(side)
            if "\n".join(words) != _space_words_block(lines):
                changed |= [text != _space_words_line(line.split()) for text, line in zip(words, lines)]
    forward, reverse = strip(4), strip(5)
    kept = np.flatnonzero(~changed)
    links = _link_arrays([forward[k] for k in kept], kept, x_layout.words, y_layout.words)
    if links is None:
        return None
    same = np.array([f == r for f, r in zip(forward, reverse)], dtype=bool)
    row, src, tgt = (column[same[links[0]]] for column in links)
    differ = kept[~same[kept]]
    if differ.size:  # symmetrized line by line, both directions parsed as blocks
        reverse_links = _link_arrays([reverse[k] for k in differ.tolist()], differ, x_layout.words, y_layout.words)
        if reverse_links is None:
            return None
        width = y_layout.words + 1  # links as keys i * width + j (symmetrize_keys: no tuple per link)
        f_row, f_src, f_tgt = (column[~same[links[0]]] for column in links)
        r_row, r_src, r_tgt = reverse_links
        pairs = zip(differ.tolist(), width[differ].tolist(), _row_keys(f_row, f_src * width[f_row] + f_tgt, differ),
                    _row_keys(r_row, r_src * width[r_row] + r_tgt, differ))
        heuristic, keys, key_rows = options["heuristic"], [], []
        for k, line_width, fwd, rev in pairs:
            line = symmetrize_keys(fwd, rev, line_width, heuristic)
            keys.extend(line)
            key_rows.extend([k] * len(line))
        if keys:
            keys, key_rows = np.array(keys, dtype=np.int64), np.array(key_rows, dtype=np.int64)
            row, src, tgt = np.concatenate((row, key_rows)), np.concatenate((src, keys // width[key_rows])), \
                np.concatenate((tgt, keys % width[key_rows]))
    order = np.lexsort((tgt, src, row))  # sorted, and repeated links once (as the per-line sets hold them)
    row, src, tgt = row[order], src[order], tgt[order]
    once = np.concatenate(([True], (row[1:] != row[:-1]) | (src[1:] != src[:-1]) | (tgt[1:] != tgt[:-1])))
    row, src, tgt = row[once], src[once], tgt[once]
    block = projected_block(row, src, tgt, count, x_layout, y_layout, options["first_piece_only"])
    words = (int(x_layout.words.sum()), int(y_layout.words.sum()))
    totals = (count, block.links, int(x_layout.pieces.sum()), int(y_layout.pieces.sum()), block.src_aligned,
              block.tgt_aligned, int((x_layout.pieces * y_layout.pieces).sum()), len(row), int(changed.sum()))
    side_counts = tuple(Counter(dict(zip(_WORD_COUNTS, (words[side], words[side], linked, len(row)))))
                        for side, linked in enumerate((block.src_linked_words, block.tgt_linked_words)))
    return block.text, Counter(dict(zip(_COUNTS, totals))), side_counts


def _project_task(task):
    """Symmetrize (or parse) and project one chunk; return its ``.align`` text and figures.

    The chunk's columns: source and target pieces, their word starts (None: ``▁``-words), the links
    (precomputed; or forward, reverse, atools' symmetrized or None) and, for an aligner that read the text, its
    two word lines. ``▁``-words linked by an aligner go through :func:`_project_block`; the rest line by line."""
    columns, first_line, kind, options = task
    if kind != "precomputed" and not options["atools"] and columns[2] is None and columns[3] is None:
        block = _project_block(columns, options)
        if block is not None:
            return block
    rows = _rows(columns)
    first_piece_only, heuristic, atools = options["first_piece_only"], options.get("heuristic"), options.get("atools")
    sentences = links_total = src_pieces = tgt_pieces = src_aligned = tgt_aligned = piece_pairs = word_links = 0
    words_changed = 0
    words = [0, 0]
    space_words = [0, 0]
    linked_words = [0, 0]
    lines = []
    for n, row in enumerate(rows, first_line):
        x, y = row[0].split(), row[1].split()
        bx = _word_starts(x) if row[2] is None else _bounds_of_starts(row[2], len(x))
        by = _word_starts(y) if row[3] is None else _bounds_of_starts(row[3], len(y))
        if len(row) > 7 and (row[7].rstrip("\n") != _space_words_line(x)
                             or row[8].rstrip("\n") != _space_words_line(y)):
            links = ()  # the text's words are not those of the pieces: no links rather than misplaced ones
            words_changed += 1
        elif kind == "precomputed":
            links = parse_links(row[4], f"{options['path']}:{n}")
        else:
            aligner, src_len, tgt_len = options["aligner"], len(bx) - 1, len(by) - 1
            forward = _checked_links(row[4], n, options["forward"], src_len, tgt_len, aligner)
            same = row[5] == row[4]  # eflomal's two directions often agree: every heuristic then gives them
            reverse = forward if same else _checked_links(row[5], n, options["reverse"], src_len, tgt_len, aligner)
            if atools:
                links = parse_atools_line(row[6], n, atools)
            else:
                links = forward if same else symmetrize(forward, reverse, heuristic)
        if links:
            line, piece_links, src_count, tgt_count = projected_line(links, bx, by, first_piece_only)
            lines.append(line + "\n")
            links_total += piece_links
            src_aligned += src_count
            tgt_aligned += tgt_count
            word_links += len(links)
            linked_words[0] += len({i for i, _ in links})
            linked_words[1] += len({j for _, j in links})
        else:
            lines.append("\n")
        sentences += 1
        src_pieces += len(x)
        tgt_pieces += len(y)
        piece_pairs += len(x) * len(y)
        words[0] += len(bx) - 1
        words[1] += len(by) - 1
        space_words[0] += len(bx) - 1 if row[2] is None else _space_words(x)
        space_words[1] += len(by) - 1 if row[3] is None else _space_words(y)
    totals = (sentences, links_total, src_pieces, tgt_pieces, src_aligned, tgt_aligned, piece_pairs, word_links,
              words_changed)
    side_counts = tuple(Counter(dict(zip(_WORD_COUNTS, (words[side], space_words[side], linked_words[side],
                                                        word_links)))) for side in (0, 1))
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
                        tasks = ((columns, self.side_segmenters)
                                 for columns in column_chunks(self.piece_paths[s][:2], self.chunk_lines))
                    else:
                        fn = _text_words_task
                        tasks = ((columns, self.text_words.normalizer)
                                 for columns in column_chunks(self.text_words.clean[s][:2], self.chunk_lines))
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
                    chunks = column_chunks(list(self.piece_paths[s][:2]) + self.starts[s] + links[s], chunk_lines)
                else:
                    chunks = _kept_rows([*self.piece_paths[s][:2], *self.starts[s]], self.text_words.kept_lines[s],
                                        self.text_words.clean_lines[s], links[s], chunk_lines)
                tasks = ((columns, first + k * chunk_lines, kind, split_options) for k, columns in enumerate(chunks))
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
