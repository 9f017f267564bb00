"""Sentencepiece encoding of sentence pairs, truncated the same way for binarization and evaluation.

The model input of fairseq's ``sentence_prediction`` task is ``<s> a </s> </s> b </s>`` (``--init-token 0
--separator-token 2``), four special tokens around the pieces. ``max_len`` bounds the whole input, as
``max_seq_length`` does in XTREME's ``run_classify.py``: pieces are dropped from the end of the longer
sentence first. A single sentence (``sentence2`` None) is ``<s> a </s>``, two special tokens.
"""
from pathlib import Path
from typing import List, Optional, Tuple

import sentencepiece as spm

from fairseq_weam.errors import WeamError

SPECIAL_TOKENS_PER_PAIR = 4
SPECIAL_TOKENS_PER_SENTENCE = 2


class SentencepieceModelError(WeamError, ValueError):
    """A --spm-model that is missing or not a sentencepiece model."""


def load_sentencepiece(path) -> spm.SentencePieceProcessor:
    path = Path(path)
    if not path.is_file():
        raise SentencepieceModelError(f"--spm-model {path}: no such file; pass the sentencepiece model the "
                                      "checkpoint was trained with (sentencepiece.bpe.model)")
    try:
        return spm.SentencePieceProcessor(model_file=str(path))
    except RuntimeError as err:
        raise SentencepieceModelError(f"--spm-model {path}: not a sentencepiece model ({err})") from None


class PairEncoder:
    def __init__(self, spm_model, max_len=128):
        if max_len <= SPECIAL_TOKENS_PER_PAIR + 1:
            raise ValueError(f"--max-len must be > {SPECIAL_TOKENS_PER_PAIR + 1}, got {max_len}")
        self.spm = load_sentencepiece(spm_model)
        self.max_len = max_len

    def pieces(self, sentence) -> List[str]:
        return self.spm.encode(sentence, out_type=str)

    def encode_pair(self, sentence1, sentence2) -> Tuple[List[str], Optional[List[str]]]:
        """Truncated pieces of both sentences; ``(a, None)`` for a single sentence (``sentence2`` None)."""
        if sentence2 is None:
            return self.pieces(sentence1)[:self.max_len - SPECIAL_TOKENS_PER_SENTENCE], None
        a, b = self.pieces(sentence1), self.pieces(sentence2)
        budget = self.max_len - SPECIAL_TOKENS_PER_PAIR
        while len(a) + len(b) > budget:
            if len(a) >= len(b):
                a.pop()
            else:
                b.pop()
        return a, b
