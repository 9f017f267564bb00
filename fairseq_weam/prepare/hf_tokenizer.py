"""A Hugging Face WordPiece tokenizer (BERT, mBERT) as the piece encoder of ``weam-prepare --hf-tokenizer``.

Pieces are spelled with ``▁`` word starts (:func:`fairseq_weam.text.pieces.piece_of_wordpiece`), so the
aligner's words, whole-word masking and the projection of links onto pieces follow WordPiece's ``##``
continuations with no change downstream. The fairseq dictionary of such a vocabulary
(:class:`WordPieceVocabulary`) puts BERT's special tokens on fairseq's own (``[CLS]`` -> ``<s>``,
``[PAD]`` -> ``<pad>``, ``[SEP]`` -> ``</s>``, ``[UNK]`` -> ``<unk>``, ``[MASK]`` -> ``<mask>``, which
fairseq appends last) and lists every other entry in BERT's id order; ``weam-convert from-hf`` orders the
model's embedding rows by the same mapping.
"""
from pathlib import Path
from typing import List, Sequence

import numpy as np

from fairseq_weam.prepare.config import PrepareError
from fairseq_weam.text.pieces import piece_of_wordpiece, wordpiece_of_piece

#: BERT's special-token roles, in the order of fairseq's special symbols (``<mask>`` comes last in fairseq).
SPECIAL_ROLES = (("cls_token", "<s>"), ("pad_token", "<pad>"), ("sep_token", "</s>"), ("unk_token", "<unk>"),
                 ("mask_token", "<mask>"))


def load_hf_tokenizer(bert_dir):
    """The WordPiece tokenizer saved in ``bert_dir`` (``vocab.txt`` or ``tokenizer.json``, ``tokenizer_config.json``)."""
    from transformers import AutoTokenizer  # heavy; only the commands that need it pay for the import

    bert_dir = Path(bert_dir)
    if not ((bert_dir / "vocab.txt").is_file() or (bert_dir / "tokenizer.json").is_file()):
        raise PrepareError(f"{bert_dir}: no vocab.txt or tokenizer.json; --hf-tokenizer takes a Hugging Face BERT "
                           "directory (a tokenizer saved with save_pretrained, e.g. bert-base-multilingual-cased)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(bert_dir))
    except (OSError, ValueError) as err:
        raise PrepareError(f"{bert_dir}: transformers cannot load its tokenizer ({str(err).splitlines()[0]})") from None
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    if type(model).__name__ != "WordPiece" or getattr(model, "continuing_subword_prefix", "##") != "##":
        raise PrepareError(f"{bert_dir}: the tokenizer is {type(model).__name__}, not WordPiece with ## "
                           "continuations; for a sentencepiece model use --spm-model and --dict")
    tokenizer.model_max_length = 1 << 30  # lines are limited by --max-len, not by the model's positions
    return tokenizer


class WordPieceVocabulary:
    """The fairseq view of a WordPiece vocabulary: dict.txt's symbols and each fairseq index's BERT id."""

    def __init__(self, bert_dir, tokenizer=None):
        self.bert_dir = Path(bert_dir)
        tokenizer = tokenizer or load_hf_tokenizer(bert_dir)
        self.tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        specials = {}
        for role, fairseq_symbol in SPECIAL_ROLES:
            token = getattr(tokenizer, role, None)
            if token is None or tokenizer.convert_tokens_to_ids(token) is None:
                raise PrepareError(f"{self.bert_dir}: the tokenizer has no {role}; fairseq needs it as {fairseq_symbol}")
            specials[fairseq_symbol] = tokenizer.convert_tokens_to_ids(token)
        self.special_ids = specials
        special = set(specials.values())
        self.regular_ids = [i for i in range(len(self.tokens)) if i not in special]
        #: the piece each BERT id is written as (specials too: a [UNK] in the text is a whole word, <unk> in fairseq)
        self.pieces = [piece_of_wordpiece(token) for token in self.tokens]
        seen = {}
        for i, (token, piece) in enumerate(zip(self.tokens, self.pieces)):
            if wordpiece_of_piece(piece) != token or piece in seen or any(c.isspace() for c in piece) or not token:
                raise PrepareError(f"{self.bert_dir}: vocabulary id {i}: the entry {token!r} cannot be written as a "
                                   f"piece of its own (empty, with whitespace, a duplicate, or a ## continuation "
                                   f"starting with ▁); fix the vocabulary")
            seen[piece] = i

    def fairseq_symbols(self) -> List[str]:
        """The symbols of dict.txt, in order (fairseq adds its four special symbols before them)."""
        return [self.pieces[i] for i in self.regular_ids]

    def bert_ids(self) -> np.ndarray:
        """BERT id of every fairseq index: ``<s> <pad> </s> <unk>``, dict.txt's symbols, then ``<mask>``."""
        head = [self.special_ids[s] for s in ("<s>", "<pad>", "</s>", "<unk>")]
        return np.asarray(head + self.regular_ids + [self.special_ids["<mask>"]], dtype=np.int64)

    def write_dict(self, dict_path):
        """fairseq ``dict.txt`` of this vocabulary (every count 1: the order is what matters, not the counts)."""
        with open(dict_path, "w", encoding="utf-8") as f:
            f.writelines(f"{symbol} 1\n" for symbol in self.fairseq_symbols())


def write_tokenizer_json(bert_dir, path):
    """The tokenizer of ``bert_dir`` as one ``tokenizer.json`` (normalizer, pre-tokenizer, WordPiece vocabulary)."""
    Path(path).write_text(load_hf_tokenizer(bert_dir).backend_tokenizer.to_str(), encoding="utf-8")


class WordPieceEncoder:
    """Encodes lines into pieces like ``sentencepiece.SentencePieceProcessor.encode(lines, out_type=str)``,
    with the ``tokenizer.json`` of :func:`write_tokenizer_json` (the ``tokenizers`` library, no transformers)."""

    def __init__(self, tokenizer_json):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        size = self.tokenizer.get_vocab_size(with_added_tokens=True)
        self.pieces = [piece_of_wordpiece(self.tokenizer.id_to_token(i)) for i in range(size)]

    def encode(self, lines: Sequence[str], out_type=str) -> List[List[str]]:
        if out_type is not str:
            raise TypeError("WordPieceEncoder.encode gives pieces (out_type=str) only")
        encoded = self.tokenizer.encode_batch(list(lines), add_special_tokens=False) if lines else []
        return [[self.pieces[i] for i in e.ids] for e in encoded]
