"""The alignment stage of a pair: word links (aligner or precomputed) projected onto the piece files.

All splits of a pair are aligned in one aligner run (unsupervised aligners gain from more text), then
split back. The aligner's words are ``▁``-words, or for Chinese, Japanese and Thai the segmenter's words
made of whole pieces (:mod:`fairseq_weam.text.segmentation`); precomputed links index ``▁``-words. The
figures returned feed the report: links, pieces and aligned pieces; per language words, linked words,
word links, the ``▁``-words they came from and segmenter boundaries that fell inside pieces.

Nothing is held per corpus: the piece files are read in chunks of lines, and each chunk is segmented (before
the aligner) or symmetrized and projected (after it) in the run's worker pool, results written in order.
"""
import itertools
from collections import Counter, deque
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from fairseq_weam.align.pharaoh import parse_links
from fairseq_weam.align.piece_projection import projected_line
from fairseq_weam.align.symmetrization import parse_atools_line, run_atools, symmetrize
from fairseq_weam.align.word_aligners import (
    aligner_workspace, check_line_count, read_checked_links, run_aligner,
)
from fairseq_weam.text.pieces import WORD_BOUNDARY, word_spans
from fairseq_weam.text.segmentation import (
    load_segmenter, segmented_spans, segmenter_name, segmenter_version, words_of_spans,
)

#: Bumped when the figures the align stage records change (an old record is then re-made, not misread).
WORD_FIGURES = 1
#: Lines per task given to a worker.
CHUNK_LINES = 2000


def pair_segmenters(cfg, langs: Sequence[str]) -> Dict[str, Optional[str]]:
    """The segmenter of each language of the pair (None: ``▁``-words; always None for precomputed links)."""
    if cfg.aligner == "precomputed":
        return {lang: None for lang in langs}
    return {lang: segmenter_name(lang, cfg.word_segmentation, cfg.ja_segmenter) for lang in langs}


def segmentation_settings(cfg, langs: Sequence[str]) -> Dict:
    """Part of the align stage's signature: the segmenters (with package versions) and the figures' version."""
    used = {lang: segmenter_version(name) for lang, name in pair_segmenters(cfg, langs).items() if name}
    return {"word_figures": WORD_FIGURES, "segmenters": used}


def _chunks(sources: Sequence, size: int) -> Iterator[List[tuple]]:
    """Lines of ``sources`` (paths, open files, or None: a column of None) in step, up to the first source's
    end, ``size`` rows at a time. An open file is read on from where it is and left open."""
    with ExitStack() as stack:
        columns = [itertools.repeat(None) if src is None
                   else src if hasattr(src, "readline") else stack.enter_context(open(src, encoding="utf-8"))
                   for src in sources]
        rows = zip(*columns)
        while True:
            chunk = list(itertools.islice(rows, size))
            if not chunk:
                return
            yield chunk


def _in_order(pool, fn: Callable, tasks: Iterable, ahead: int) -> Iterator:
    """``fn(task)`` for each task, in order: in the pool with at most ``ahead`` tasks in flight, or here."""
    if pool is None:
        yield from map(fn, tasks)
        return
    pending = deque()
    for task in tasks:
        pending.append(pool.submit(fn, task))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _starts_line(spans: Sequence[range]) -> str:
    return " ".join(str(span.start) for span in spans) + "\n"


def _spans_of_starts(line: str, length: int) -> List[range]:
    starts = [int(k) for k in line.split()]
    return [range(a, b) for a, b in zip(starts, starts[1:] + [length])]


def _space_words(pieces: Sequence[str]) -> int:
    return sum(1 for k, p in enumerate(pieces) if k == 0 or p.startswith(WORD_BOUNDARY))


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
                spans = word_spans(pieces)
            else:
                spans, n = segmented_spans(pieces, starts)
                inside += n
                spans_text.append(_starts_line(spans))
            words.append(" ".join(words_of_spans(pieces, spans)) + "\n")
        out.append(("".join(words), "".join(spans_text), inside))
    return len(rows), out


def _project_task(task):
    """Symmetrize (or parse) and project one chunk; return its ``.align`` text and figures."""
    rows, first_line, kind, options = task
    counts, side_counts, lines = Counter(), (Counter(), Counter()), []
    for n, row in enumerate(rows, first_line):
        x, y = row[0].split(), row[1].split()
        spans = []
        for side, (pieces, starts) in enumerate(((x, row[2]), (y, row[3]))):
            spans.append(word_spans(pieces) if starts is None else _spans_of_starts(starts, len(pieces)))
        if kind == "precomputed":
            links = parse_links(row[4], f"{options['path']}:{n}")
        else:
            aligner = options["aligner"]
            forward = read_checked_links(row[4], n, options["forward"], len(spans[0]), len(spans[1]), aligner)
            reverse = read_checked_links(row[5], n, options["reverse"], len(spans[0]), len(spans[1]), aligner)
            if options["atools"]:
                links = parse_atools_line(row[6], n, options["atools"])
            else:
                links = symmetrize(forward, reverse, options["heuristic"])
        line, piece_links, src_aligned, tgt_aligned = projected_line(links, spans[0], spans[1],
                                                                     options["first_piece_only"])
        lines.append(line + "\n")
        counts["sentences"] += 1
        counts["links"] += piece_links
        counts["src_pieces"] += len(x)
        counts["tgt_pieces"] += len(y)
        counts["src_aligned"] += src_aligned
        counts["tgt_aligned"] += tgt_aligned
        counts["piece_pairs"] += len(x) * len(y)
        counts["word_links"] += len(links)
        for side, line in enumerate((x, y)):
            words = side_counts[side]
            words["words"] += len(spans[side])
            words["space_words"] += len(spans[side]) if row[2 + side] is None else _space_words(line)
            words["linked_words"] += len({link[side] for link in links})
            words["word_links"] += len(links)
    return "".join(lines), counts, side_counts


def align_pair(piece_paths: Dict[str, Sequence], out_paths: Dict[str, object], cfg, tmp_dir,
               langs: Sequence[str] = ("src", "tgt"), pool=None, chunk_lines: int = CHUNK_LINES) -> Dict:
    """``piece_paths[split]`` = (source pieces, target pieces[, word links]); write ``out_paths[split]``.

    ``langs`` are the pair's language codes (source first): they choose the segmenters and key the figures.
    Chunks of ``chunk_lines`` lines run in ``pool`` (a :class:`~fairseq_weam.prepare.worker_pool.WorkerPool`)
    when given; the output does not depend on either.
    """
    splits = list(piece_paths)
    segmenters = pair_segmenters(cfg, langs)
    side_segmenters = (segmenters[langs[0]], segmenters[langs[1]])
    ahead = 2 * (pool.workers if pool is not None else 1) + 1
    words = {s: {lang: Counter() for lang in langs} for s in splits}
    with aligner_workspace(tmp_dir) as tmp, ExitStack() as files:
        tmp = Path(tmp)
        starts = {s: [tmp / f"{s}.{side}.starts" if side_segmenters[side] else None for side in (0, 1)]
                  for s in splits}
        links, options = {}, {"first_piece_only": cfg.first_piece_only}
        if cfg.aligner == "precomputed":
            links = {s: [piece_paths[s][2]] for s in splits}
        else:
            sentences = 0
            with open(tmp / "src", "w", encoding="utf-8") as src, open(tmp / "tgt", "w", encoding="utf-8") as tgt:
                for s in splits:
                    with ExitStack() as starts_files:
                        starts_out = [starts_files.enter_context(open(p, "w", encoding="utf-8")) if p else None
                                      for p in starts[s]]
                        tasks = ((rows, side_segmenters) for rows in _chunks(piece_paths[s][:2], chunk_lines))
                        for lines, chunk in _in_order(pool, _words_task, tasks, ahead):
                            for side, (out, (text, spans_text, inside)) in enumerate(zip((src, tgt), chunk)):
                                out.write(text)
                                if starts_out[side] is not None:
                                    starts_out[side].write(spans_text)
                                    words[s][langs[side]].update({"inside_pieces": inside})
                            sentences += lines
            forward, reverse = tmp / "forward", tmp / "reverse"
            run_aligner(tmp / "src", tmp / "tgt", forward, reverse, cfg.aligner, cfg.fast_align_bin,
                        cfg.eflomal_bin, tmp)
            for path in (forward, reverse):
                check_line_count(path, sentences, cfg.aligner)
            link_paths = [forward, reverse]
            if cfg.atools_bin:
                run_atools(forward, reverse, cfg.symmetrize, cfg.atools_bin, tmp / "symmetrized", sentences)
                link_paths.append(tmp / "symmetrized")
            shared = [files.enter_context(open(p, encoding="utf-8")) for p in link_paths]  # read on across splits
            links = {s: shared + [None] * (3 - len(shared)) for s in splits}
            options.update(aligner=cfg.aligner, forward=str(forward), reverse=str(reverse), atools=cfg.atools_bin,
                           heuristic=cfg.symmetrize)
        stats, first = {}, 1
        for s in splits:
            counts = Counter()
            kind = "precomputed" if cfg.aligner == "precomputed" else "aligner"
            split_options = dict(options, path=str(piece_paths[s][2])) if kind == "precomputed" else options
            sources = list(piece_paths[s][:2]) + starts[s] + links[s]
            tasks = ((rows, first + k * chunk_lines, kind, split_options)
                     for k, rows in enumerate(_chunks(sources, chunk_lines)))
            with open(out_paths[s], "w", encoding="utf-8") as out:
                for text, chunk_counts, side_counts in _in_order(pool, _project_task, tasks, ahead):
                    out.write(text)
                    counts.update(chunk_counts)
                    for side in (0, 1):
                        words[s][langs[side]].update(side_counts[side])
            first += counts["sentences"]
            stats[s] = dict(counts, words={lang: dict(words[s][lang], segmenter=segmenters[lang]) for lang in langs})
    return stats
