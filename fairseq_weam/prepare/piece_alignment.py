"""The alignment stage of a pair: word links (aligner or precomputed) projected onto the piece files.

All splits of a pair are aligned in one aligner run (unsupervised aligners gain from more text), then
split back. The figures returned feed the report: links, pieces, and pieces with at least one link.
"""
from collections import Counter
from typing import Dict, List, Sequence

from tqdm import tqdm

from fairseq_weam.align.pharaoh import format_links, parse_links
from fairseq_weam.align.piece_projection import project_links
from fairseq_weam.text.pieces import word_spans, words_from_pieces
from fairseq_weam.align.word_aligners import align_word_corpus


def _read_pieces(path) -> List[List[str]]:
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f]


def align_pair(piece_paths: Dict[str, Sequence], out_paths: Dict[str, object], cfg, tmp_dir) -> Dict:
    """``piece_paths[split]`` = (source pieces, target pieces[, word links]); write ``out_paths[split]``."""
    splits = list(piece_paths)
    src = {s: _read_pieces(piece_paths[s][0]) for s in splits}
    tgt = {s: _read_pieces(piece_paths[s][1]) for s in splits}
    if cfg.aligner == "precomputed":
        word_links = {}
        for s in splits:
            with open(piece_paths[s][2], encoding="utf-8") as f:
                word_links[s] = [parse_links(line, f"{piece_paths[s][2]}:{n}") for n, line in enumerate(f, 1)]
    else:
        all_src = [words_from_pieces(p) for s in splits for p in src[s]]
        all_tgt = [words_from_pieces(p) for s in splits for p in tgt[s]]
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
        with open(out_paths[s], "w", encoding="utf-8") as out:
            for x, y, links in tqdm(zip(src[s], tgt[s], word_links[s]), total=len(src[s]), mininterval=2,
                                    desc=f"project {s}", unit=" pairs", leave=False, disable=None):
                pieces = project_links(links, word_spans(x), word_spans(y), cfg.first_piece_only)
                out.write(format_links(pieces) + "\n")
                counts["sentences"] += 1
                counts["links"] += len(pieces)
                counts["src_pieces"] += len(x)
                counts["tgt_pieces"] += len(y)
                counts["src_aligned"] += len({i for i, _ in pieces})
                counts["tgt_aligned"] += len({j for _, j in pieces})
                counts["piece_pairs"] += len(x) * len(y)
                counts["word_links"] += len(links)
        stats[s] = dict(counts)
    return stats
