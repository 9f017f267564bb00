"""The sentencepiece side: train (or take) a model, encode pairs in parallel, write fairseq's dict.txt.

Pieces are written as text (``--output_format=piece``) and binarized with the fairseq dictionary, which
is the maintainers' recommended route for XLM-R (fairseq ids are offset from raw sentencepiece ids).
"""
import io
import multiprocessing
import signal
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import sentencepiece as spm
from tqdm import tqdm

from fairseq_weam.align.pharaoh import read_valid_links
from fairseq_weam.text.pieces import word_spans
from fairseq_weam.prepare.config import PrepareError

_BATCH = 1000


def train_sentencepiece(text_paths: Sequence, model_path, vocab_size: int, model_type="unigram",
                        character_coverage=0.9995, input_sentence_size=2_000_000, threads=1):
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


_processor: Optional[spm.SentencePieceProcessor] = None


def _load_processor(model_path, pool_worker=False):
    global _processor
    if pool_worker:  # the parent handles Ctrl-C / SIGTERM and ends the pool; a worker just stops, silently
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _processor = spm.SentencePieceProcessor(model_file=str(model_path))


def _encode_batch(lines: List[str]) -> List[List[str]]:
    return _processor.encode(lines, out_type=str)


def encode_lines(model_path, lines: Iterable[str], workers=1, desc="encode", total=None):
    """Yield the pieces of each line, in order, encoded by ``workers`` processes."""
    def batches():
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) == _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    progress = tqdm(desc=desc, total=total, unit=" lines", mininterval=2, leave=False, disable=None)
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers, _load_processor, (model_path, True)) as pool:
            for pieces in pool.imap(_encode_batch, batches()):
                progress.update(len(pieces))
                yield from pieces
    else:
        _load_processor(model_path)
        for batch in batches():
            pieces = _encode_batch(batch)
            progress.update(len(pieces))
            yield from pieces
    progress.close()


def _read(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def encode_split(model_path, in_paths: List, out_paths: List, max_len: int, max_ratio: float,
                 on_bad_link="error", workers=1, *, line_numbers_path, raw_paths: Sequence) -> Counter:
    """Encode a cleaned split (source, target[, word alignment]) and drop pairs over the piece limits.

    Drops: ``too_long_pieces`` (a side over ``max_len`` pieces), ``length_ratio`` (longer/shorter side
    over ``max_ratio``); with a word alignment, when ``on_bad_link="skip"`` (an error naming the raw file
    and line otherwise): ``word_count`` (sentencepiece makes a different number of words than the
    whitespace-separated words the links count, e.g. a token of only a zero-width space disappears) and
    ``bad_link`` (a malformed link or one outside the words). ``line_numbers_path`` holds the raw line
    number of every cleaned pair, ``raw_paths`` the user's files.
    """
    src_lines, tgt_lines = _read(in_paths[0]), _read(in_paths[1])
    align_lines = _read(in_paths[2]) if len(in_paths) > 2 else None
    raw_numbers = _read(line_numbers_path)
    both = encode_lines(model_path, src_lines + tgt_lines, workers, desc=f"encode {Path(in_paths[0]).stem}",
                        total=2 * len(src_lines))
    pieces = list(both)
    src_pieces, tgt_pieces = pieces[:len(src_lines)], pieces[len(src_lines):]
    stats = Counter(**{"in": len(src_lines)})
    outs = [open(p, "w", encoding="utf-8") for p in out_paths]
    try:
        for k, (src, tgt) in enumerate(zip(src_pieces, tgt_pieces)):
            if not src or not tgt:
                stats["empty"] += 1
                continue
            if len(src) > max_len or len(tgt) > max_len:
                stats["too_long_pieces"] += 1
                continue
            if max(len(src), len(tgt)) > max_ratio * min(len(src), len(tgt)):
                stats["length_ratio"] += 1
                continue
            row = [" ".join(src), " ".join(tgt)]
            if align_lines is not None:
                line = raw_numbers[k]
                src_words, tgt_words = len(word_spans(src)), len(word_spans(tgt))
                changed = _word_count_change(raw_paths, line, (src_lines[k], tgt_lines[k]), (src_words, tgt_words))
                if changed:
                    if on_bad_link == "skip":
                        stats["word_count"] += 1
                        continue
                    raise PrepareError(f"{changed}, so the links of {raw_paths[2]}:{line} would point at the "
                                       f"wrong words; remove such tokens (and their links), or pass --on-bad-link skip")
                links = read_valid_links(align_lines[k], src_words, tgt_words, f"{raw_paths[2]}:{line}", on_bad_link)
                if links is None:
                    stats["bad_link"] += 1
                    continue
                row.append(align_lines[k])
            stats["out"] += 1
            for out, text in zip(outs, row):
                out.write(text + "\n")
    finally:
        for out in outs:
            out.close()
    return stats


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


def write_fairseq_dict(model_path, piece_paths: Sequence, dict_path):
    """fairseq ``dict.txt``: every piece but sentencepiece's control/unknown pieces, in id order, with its count.

    fairseq's Dictionary adds ``<s> <pad> </s> <unk>`` itself, first; listing them again would be an error.
    """
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    counts = Counter()
    for path in piece_paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                counts.update(line.split())
    with open(dict_path, "w", encoding="utf-8") as f:
        for piece_id in range(processor.get_piece_size()):
            if processor.is_control(piece_id) or processor.is_unknown(piece_id):
                continue
            piece = processor.id_to_piece(piece_id)
            f.write(f"{piece} {counts[piece]}\n")
