"""The alignment stage of a pair: word links (aligner or precomputed) projected onto the piece files.

All splits of a pair are aligned in one aligner run (unsupervised aligners gain from more text), then
split back. The aligner's words are ``▁``-words, or for Chinese, Japanese and Thai the segmenter's words
made of whole pieces (:mod:`fairseq_weam.text.segmentation`); precomputed links index ``▁``-words. The
figures returned feed the report: links, pieces and aligned pieces; per language words, linked words,
word links, the ``▁``-words they came from and segmenter boundaries that fell inside pieces.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence

from tqdm import tqdm

from fairseq_weam.align.pharaoh import format_links, parse_links
from fairseq_weam.align.piece_projection import project_links
from fairseq_weam.text.pieces import word_spans
from fairseq_weam.text.segmentation import (
    load_segmenter, segmented_spans, segmenter_name, segmenter_version, words_of_spans,
)
from fairseq_weam.align.word_aligners import align_word_corpus

#: Bumped when the figures the align stage records change (an old record is then re-made, not misread).
WORD_FIGURES = 1


def _read_pieces(path) -> List[List[str]]:
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f]


def pair_segmenters(cfg, langs: Sequence[str]) -> Dict[str, Optional[str]]:
    """The segmenter of each language of the pair (None: ``▁``-words; always None for precomputed links)."""
    if cfg.aligner == "precomputed":
        return {lang: None for lang in langs}
    return {lang: segmenter_name(lang, cfg.word_segmentation, cfg.ja_segmenter) for lang in langs}


def segmentation_settings(cfg, langs: Sequence[str]) -> Dict:
    """Part of the align stage's signature: the segmenters (with package versions) and the figures' version."""
    used = {lang: segmenter_version(name) for lang, name in pair_segmenters(cfg, langs).items() if name}
    return {"word_figures": WORD_FIGURES, "segmenters": used}


def _sentence_spans(lines: List[List[str]], segmenter: Optional[str], counts: Counter, desc: str) -> List[List[range]]:
    if segmenter is None:
        return [word_spans(p) for p in lines]
    starts = load_segmenter(segmenter)
    spans = []
    for pieces in tqdm(lines, mininterval=2, desc=desc, unit=" lines", leave=False, disable=None):
        line_spans, inside = segmented_spans(pieces, starts)
        spans.append(line_spans)
        counts["inside_pieces"] += inside
    return spans


def align_pair(piece_paths: Dict[str, Sequence], out_paths: Dict[str, object], cfg, tmp_dir,
               langs: Sequence[str] = ("src", "tgt")) -> Dict:
    """``piece_paths[split]`` = (source pieces, target pieces[, word links]); write ``out_paths[split]``.

    ``langs`` are the pair's language codes (source first): they choose the segmenters and key the figures.
    """
    splits = list(piece_paths)
    src = {s: _read_pieces(piece_paths[s][0]) for s in splits}
    tgt = {s: _read_pieces(piece_paths[s][1]) for s in splits}
    segmenters = pair_segmenters(cfg, langs)
    seg_counts = {s: {lang: Counter() for lang in langs} for s in splits}
    spans = {s: (_sentence_spans(src[s], segmenters[langs[0]], seg_counts[s][langs[0]], f"segment {s} {langs[0]}"),
                 _sentence_spans(tgt[s], segmenters[langs[1]], seg_counts[s][langs[1]], f"segment {s} {langs[1]}"))
             for s in splits}
    if cfg.aligner == "precomputed":
        word_links = {}
        for s in splits:
            with open(piece_paths[s][2], encoding="utf-8") as f:
                word_links[s] = [parse_links(line, f"{piece_paths[s][2]}:{n}") for n, line in enumerate(f, 1)]
    else:
        all_src = [words_of_spans(p, w) for s in splits for p, w in zip(src[s], spans[s][0])]
        all_tgt = [words_of_spans(p, w) for s in splits for p, w in zip(tgt[s], spans[s][1])]
        links = align_word_corpus(
            all_src, all_tgt, aligner=cfg.aligner, heuristic=cfg.symmetrize, fast_align_bin=cfg.fast_align_bin,
            eflomal_bin=cfg.eflomal_bin, atools_bin=cfg.atools_bin, tmp_dir=tmp_dir,
        )
        word_links, start = {}, 0
        for s in splits:
            word_links[s] = links[start:start + len(src[s])]
            start += len(src[s])
    stats = {}
    for s in splits:
        counts = Counter()
        words = {lang: seg_counts[s][lang] for lang in langs}
        with open(out_paths[s], "w", encoding="utf-8") as out:
            for x, y, x_spans, y_spans, links in tqdm(
                    zip(src[s], tgt[s], spans[s][0], spans[s][1], word_links[s]), total=len(src[s]), mininterval=2,
                    desc=f"project {s}", unit=" pairs", leave=False, disable=None):
                pieces = project_links(links, x_spans, y_spans, cfg.first_piece_only)
                out.write(format_links(pieces) + "\n")
                counts["sentences"] += 1
                counts["links"] += len(pieces)
                counts["src_pieces"] += len(x)
                counts["tgt_pieces"] += len(y)
                counts["src_aligned"] += len({i for i, _ in pieces})
                counts["tgt_aligned"] += len({j for _, j in pieces})
                counts["piece_pairs"] += len(x) * len(y)
                counts["word_links"] += len(links)
                for side, (lang, line, line_spans) in enumerate(((langs[0], x, x_spans), (langs[1], y, y_spans))):
                    words[lang]["words"] += len(line_spans)
                    words[lang]["space_words"] += len(word_spans(line))
                    words[lang]["linked_words"] += len({link[side] for link in links})
                    words[lang]["word_links"] += len(links)
        stats[s] = dict(counts, words={lang: dict(words[lang], segmenter=segmenters[lang]) for lang in langs})
    return stats
