"""Configuration of ``weam-prepare``: one dataclass, every threshold a documented flag."""
from dataclasses import dataclass, field, fields
from typing import List, Optional

from fairseq_weam.errors import WeamError
from fairseq_weam.text.segmentation import JA_SEGMENTERS, MODES


#: Default of --spm-input-sentence-size: sentencepiece warns that loading more sentences than this slows its
#: training (its kTooBigSentencesSize).
SPM_INPUT_SENTENCES = 1_000_000


class PrepareError(WeamError, RuntimeError):
    """Bad input or a failed stage; the message says what, where, and what to do."""


@dataclass
class PrepareConfig:
    raw_dir: str = field(metadata={"help": "raw text RAW/{train,valid[,test]}.{l1}-{l2}.{l1,l2} (UTF-8, line-aligned)"})
    dest_dir: str = field(metadata={"help": "output data directory (the data contract of --task weam)"})
    pairs: Optional[List[str]] = field(
        default=None, metadata={"help": "comma-separated pairs l1-l2 (default: every pair found in --raw-dir)"}
    )
    spm_model: Optional[str] = field(
        default=None, metadata={"help": "existing sentencepiece model (e.g. XLM-R's sentencepiece.bpe.model); needs --dict"}
    )
    dict: Optional[str] = field(default=None, metadata={"help": "fairseq dict.txt that goes with --spm-model"})
    hf_tokenizer: Optional[str] = field(
        default=None, metadata={"help": "encode with this Hugging Face WordPiece tokenizer (a BERT/mBERT directory) "
                                        "instead of sentencepiece; dict.txt follows its vocabulary (weam-convert from-hf)"}
    )
    vocab_size: int = field(default=8000, metadata={"help": "vocabulary size of the sentencepiece model trained when no --spm-model is given"})
    spm_model_type: str = field(default="unigram", metadata={"help": "sentencepiece model type to train (unigram, bpe)"})
    spm_character_coverage: float = field(default=0.9995, metadata={"help": "share of characters the trained model covers"})
    spm_input_sentence_size: int = field(
        default=SPM_INPUT_SENTENCES, metadata={"help": "sentences sampled (shuffled) for sentencepiece training on "
                                                       "big corpora (sentencepiece warns above 1M: it slows training)"}
    )
    aligner: str = field(default="eflomal", metadata={"help": "word aligner: eflomal, fast_align or precomputed (RAW/{split}.{l1}-{l2}.align, word-level, symmetrized)"})
    fast_align_bin: Optional[str] = field(default=None, metadata={"help": "fast_align binary (default: fast_align on PATH)"})
    eflomal_bin: Optional[str] = field(default=None, metadata={"help": "eflomal-align script (default: beside this Python, or on PATH)"})
    atools_bin: Optional[str] = field(default=None, metadata={"help": "atools binary for symmetrization (default: atools on PATH, else the built-in implementation)"})
    symmetrize: str = field(default="grow-diag-final-and", metadata={"help": "symmetrization: grow-diag-final-and, intersect or union"})
    word_segmentation: str = field(default="auto", metadata={"help": "words given to the aligner: auto segments Chinese (zh*: jieba), Japanese (ja*: --ja-segmenter) and Thai (th*: PyThaiNLP) into words made of whole pieces; off uses ▁-words for every language"})
    aligner_input: str = field(default="text", metadata={"help": "what the aligner reads: text (the cleaned text as sentencepiece normalizes it, split at its spaces: the first aligner starts before sentencepiece is trained; after encoding each pair's words are checked against the ▁-words of its pieces and its links dropped, counted, where they differ) or pieces (the ▁-words of the encoded pieces: the aligner waits for sentencepiece and encoding). Pairs with a segmented language (--word-segmentation), --hf-tokenizer and precomputed links always use pieces"})
    ja_segmenter: str = field(default="fugashi", metadata={"help": "Japanese segmenter: fugashi (MeCab with unidic-lite) or sudachi (SudachiPy, core dictionary, split mode A)"})
    first_piece_only: bool = field(default=False, metadata={"help": "link only the first pieces of aligned words (default: every piece of both words)"})
    workers: int = field(default=1, metadata={"help": "worker processes, one pool for the run: cleaning, the aligner's words, encoding, link projection, binarization"})
    max_len: int = field(default=250, metadata={"help": "drop pairs with a side longer than this many pieces"})
    max_chars: int = field(default=2000, metadata={"help": "drop pairs with a side longer than this many characters"})
    max_ratio: float = field(default=3.0, metadata={"help": "drop pairs whose piece-length ratio (longer/shorter) exceeds this"})
    on_bad_utf8: str = field(default="error", metadata={"help": "bytes that are not UTF-8: error, or skip the pair (counted)"})
    on_bad_link: str = field(default="error", metadata={"help": "malformed or out-of-sentence alignment link: error, or skip the pair (counted)"})
    max_unk_share: float = field(default=0.05, metadata={"help": "stop when more than this share of a language's pieces are not in the dictionary (<unk>): a --dict that does not match --spm-model"})
    work_dir: Optional[str] = field(default=None, metadata={"help": "intermediate files and stage records (default: DEST/.work)"})

    def check(self):
        choices = {
            "aligner": ("eflomal", "fast_align", "precomputed"),
            "symmetrize": ("grow-diag-final-and", "intersect", "union"),
            "on_bad_utf8": ("error", "skip"),
            "on_bad_link": ("error", "skip"),
            "spm_model_type": ("unigram", "bpe", "char", "word"),
            "word_segmentation": MODES,
            "ja_segmenter": JA_SEGMENTERS,
            "aligner_input": ("text", "pieces"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise PrepareError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if (self.spm_model is None) != (self.dict is None):
            raise PrepareError("--spm-model and --dict go together (the model and the fairseq dict.txt made from it)")
        if self.hf_tokenizer and self.spm_model:
            raise PrepareError("--hf-tokenizer replaces --spm-model and --dict: give one or the other")
        if self.workers < 1 or self.max_len < 1 or self.max_chars < 1 or self.max_ratio < 1:
            raise PrepareError("--workers, --max-len, --max-chars must be >= 1 and --max-ratio >= 1.0")
        if not 0 <= self.max_unk_share <= 1:
            raise PrepareError(f"--max-unk-share must be between 0 and 1, not {self.max_unk_share}")
        return self


def config_fields():
    return fields(PrepareConfig)
