"""The sentencepiece side: train (or take) a model, encode pairs in parallel, write fairseq's dict.txt.

Pieces are written as text (``--output_format=piece``) and binarized with the fairseq dictionary, which
is the maintainers' recommended route for XLM-R (fairseq ids are offset from raw sentencepiece ids).
"""
import io
import unicodedata
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import sentencepiece as spm
from tqdm import tqdm

from fairseq_weam.align.pharaoh import read_valid_links
from fairseq_weam.text.pieces import word_spans
from fairseq_weam.prepare.config import SPM_INPUT_SENTENCES, PrepareError
from fairseq_weam.prepare.hf_tokenizer import WordPieceEncoder
from fairseq_weam.prepare.line_chunks import column_chunks
from fairseq_weam.prepare.worker_pool import WorkerPool, loaded

_BATCH = 4000  # rows a worker encodes at once; the main process merges each batch's piece counts (<= the vocabulary)


def train_sentencepiece(text_paths: Sequence, model_path, vocab_size: int, model_type="unigram",
                        character_coverage=0.9995, input_sentence_size=SPM_INPUT_SENTENCES, threads=1):
    """Train a model on the lines of ``text_paths`` and write it to ``model_path``.

    ``hard_vocab_limit`` is off so a small corpus gives a smaller vocabulary instead of an error.
    """
    model = io.BytesIO()
    listing = ", ".join(map(str, text_paths))

    def sentences():
        for path in text_paths:
            with open(path, encoding="utf-8") as f:
                yield from (line.rstrip("\n") for line in f)

    if not any(line.strip() for line in sentences()):
        raise PrepareError(f"the text to train sentencepiece on is empty: {listing} (give text, or --spm-model "
                           f"and --dict)")

    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences(), model_writer=model, vocab_size=vocab_size, model_type=model_type,
            character_coverage=character_coverage, input_sentence_size=input_sentence_size,
            shuffle_input_sentence=True, hard_vocab_limit=False, num_threads=threads, minloglevel=2,
        )
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
        if "sentences_.empty()" in reason or "all_chars_count" in reason:
            raise PrepareError(f"the text to train sentencepiece on is empty after its normalization (only "
                               f"invisible or control characters): {listing}") from None
        if "smaller than required_chars" in reason:
            raise PrepareError(f"--vocab-size {vocab_size} is smaller than the characters of {listing} need; "
                               f"raise --vocab-size or lower --spm-character-coverage ({reason})") from None
        raise PrepareError(f"sentencepiece training on {listing} failed: {reason}") from None
    Path(model_path).write_bytes(model.getvalue())


def _processor(model_path) -> spm.SentencePieceProcessor:
    if str(model_path).endswith(".json"):  # --hf-tokenizer: a WordPiece tokenizer.json, same encode()
        return WordPieceEncoder(model_path)
    return spm.SentencePieceProcessor(model_file=str(model_path))


def _encode_batch(task):
    """Encode a batch of rows in a worker and keep the pairs within the limits (see :func:`encode_split`):
    returns the text of each output file (the kept rows' line numbers last), the counts, and how often each
    piece occurs on each side, so that only text and counts cross between processes. The batch comes as columns
    (:func:`~fairseq_weam.prepare.line_chunks.column_chunks`): source lines, target lines[, links], line numbers."""
    model_path, columns, limits = task
    max_len, max_ratio, on_bad_link, raw_paths = limits
    processor = loaded(_processor, model_path)
    sides = [[line.rstrip("\n") for line in column] for column in columns[:2]]
    rows = len(sides[0])
    pieces = processor.encode(sides[0] + sides[1], out_type=str)
    with_alignment = len(columns) > 3
    kept = []
    stats = Counter(**{"in": rows})
    for k, (src, tgt) in enumerate(zip(pieces[:rows], pieces[rows:])):
        if not src or not tgt:
            stats["empty"] += 1
            continue
        if len(src) > max_len or len(tgt) > max_len:
            stats["too_long_pieces"] += 1
            continue
        if max(len(src), len(tgt)) > max_ratio * min(len(src), len(tgt)):
            stats["length_ratio"] += 1
            continue
        if with_alignment:
            line, links = columns[-1][k].rstrip("\n"), columns[2][k].rstrip("\n")
            src_words, tgt_words = len(word_spans(src)), len(word_spans(tgt))
            changed = _word_count_change(raw_paths, line, (sides[0][k], sides[1][k]), (src_words, tgt_words))
            if changed:
                if on_bad_link == "skip":
                    stats["word_count"] += 1
                    continue
                raise PrepareError(f"{changed}, so the links of {raw_paths[2]}:{line} would point at the "
                                   f"wrong words; remove such tokens (and their links), or pass --on-bad-link skip")
            if read_valid_links(links, src_words, tgt_words, f"{raw_paths[2]}:{line}", on_bad_link) is None:
                stats["bad_link"] += 1
                continue
        kept.append(k)
    if kept:
        stats["out"] = len(kept)
    texts = ["".join(" ".join(pieces[k]) + "\n" for k in kept),
             "".join(" ".join(pieces[rows + k]) + "\n" for k in kept)]
    if with_alignment:
        texts.append("".join(columns[2][k].rstrip("\n") + "\n" for k in kept))
    texts.append("".join(columns[-1][k].rstrip("\n") + "\n" for k in kept))
    return texts, stats, (Counter(texts[0].split()), Counter(texts[1].split()))  # the tokens binarizing will read


def encode_batches(model_path, batches: Iterable[Sequence[List[str]]], limits=(1 << 30, float("inf"), "error", ()),
                   pool: Optional[WorkerPool] = None, desc="encode"):
    """Yield ``(texts, counts, piece counts)`` for each batch (columns: the source lines, the target lines, then
    the links when the split has them, then the line numbers): :func:`_encode_batch` in ``pool``'s workers (in
    this process without one), in order, a few batches in flight (the input is read as results are taken, not
    ahead of them). ``limits``: ``(max_len, max_ratio, on_bad_link, raw_paths)``."""
    tasks = ((model_path, columns, limits) for columns in batches)
    progress = tqdm(desc=desc, unit=" pairs", mininterval=2, leave=False, disable=None)
    for texts, counts, piece_counts in (pool.in_order(_encode_batch, tasks) if pool else map(_encode_batch, tasks)):
        progress.update(counts["in"])
        yield texts, counts, piece_counts
    progress.close()


def encode_split(model_path, in_paths: List, out_paths: List, max_len: int, max_ratio: float,
                 on_bad_link="error", pool: Optional[WorkerPool] = None, *, line_numbers_path,
                 raw_paths: Sequence, kept_lines_path, piece_counts_paths: Sequence) -> Counter:
    """Encode a cleaned split (source, target[, word alignment]) and drop pairs over the piece limits.

    Drops: ``empty`` (a side without pieces), ``too_long_pieces`` (a side over ``max_len`` pieces),
    ``length_ratio`` (longer/shorter side over ``max_ratio``); with a word alignment, when
    ``on_bad_link="skip"`` (an error naming the raw file and line otherwise): ``word_count`` (sentencepiece
    makes a different number of words than the whitespace-separated words the links count, e.g. a token of
    only a zero-width space disappears) and ``bad_link`` (a malformed link or one outside the words).
    ``line_numbers_path`` holds the raw line number of every cleaned pair, ``raw_paths`` the user's files;
    ``kept_lines_path`` gets those of the pairs kept (an aligner that read the cleaned text finds its rows by
    them); ``piece_counts_paths`` (source, target) get how often each piece occurs in the kept pairs
    (:func:`write_piece_counts`: the dictionary and the ``<unk>`` share are counted from them). The split
    streams through in batches of ``_BATCH`` rows: memory holds the batches in flight, not the split.
    """
    batches = column_chunks([*in_paths, line_numbers_path], _BATCH)
    stats, pieces = Counter(**{"in": 0}), (Counter(), Counter())
    with ExitStack() as stack:
        outs = [stack.enter_context(open(p, "w", encoding="utf-8")) for p in [*out_paths, kept_lines_path]]
        for texts, counts, piece_counts in encode_batches(model_path, batches,
                                                          (max_len, max_ratio, on_bad_link, list(raw_paths)),
                                                          pool, desc=f"encode {Path(in_paths[0]).stem}"):
            stats.update(counts)
            for out, text in zip(outs, texts):
                out.write(text)
            for side, side_counts in zip(pieces, piece_counts):
                side.update(side_counts)
    for path, side in zip(piece_counts_paths, pieces):
        write_piece_counts(path, side)
    return stats


def write_piece_counts(path, counts: Counter):
    """``piece count`` lines, most frequent first (the pieces are whitespace-separated tokens)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{piece} {n}\n" for piece, n in counts.most_common())


def read_piece_counts(path) -> Counter:
    counts = Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            piece, n = line.split()
            counts[piece] += int(n)
    return counts


def _word_count_change(raw_paths, line, texts, piece_words) -> str:
    """'' when each side has as many sentencepiece words as whitespace words; else what differs, and where."""
    for path, text, n_pieces in zip(raw_paths, texts, piece_words):
        words = text.split()
        if len(words) != n_pieces:
            invisible = [ascii(w) for w in words if all(unicodedata.category(c)[0] in "CZ" for c in w)]
            hint = f" (tokens of only invisible or control characters: {', '.join(invisible)})" if invisible else ""
            return (f"{path}:{line}: {len(words)} words separated by whitespace, but sentencepiece makes "
                    f"{n_pieces} words of the line{hint}")
    return ""


def write_fairseq_dict(model_path, piece_counts_paths: Sequence, dict_path):
    """fairseq ``dict.txt``: every piece but sentencepiece's control/unknown pieces, in id order, with its count
    (summed over ``piece_counts_paths``, :func:`write_piece_counts` files).

    fairseq's Dictionary adds ``<s> <pad> </s> <unk>`` itself, first; listing them again would be an error.
    """
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    counts = Counter()
    for path in piece_counts_paths:
        counts.update(read_piece_counts(path))
    with open(dict_path, "w", encoding="utf-8") as f:
        for piece_id in range(processor.get_piece_size()):
            if processor.is_control(piece_id) or processor.is_unknown(piece_id):
                continue
            piece = processor.id_to_piece(piece_id)
            f.write(f"{piece} {counts[piece]}\n")
