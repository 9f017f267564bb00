"""Adversarial choice among a word's translation candidates.

Without a checkpoint: the candidate most confusable with the best one (highest cosine to the best
candidate's vector, the best itself excluded). With a checkpoint: per occurrence, the candidate whose
masked-LM loss (mean cross-entropy over its pieces, all exchanged words of the sentence masked) is highest
under the model, i.e. the one the current model finds hardest to predict in context.
"""
import os
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from fairseq_weam.synthesis.errors import SynthesisError
from fairseq_weam.text.pieces import word_spans

#: The sentencepiece model a weam-prepare data directory holds.
SPM_NAME = "sentencepiece.bpe.model"


def cosine_choice(ranked: np.ndarray, target: np.ndarray, top_k: int) -> np.ndarray:
    """Per source word, the candidate among the ``top_k`` best (best excluded) closest to the best one."""
    pool = ranked[:, :top_k]
    if pool.shape[1] < 2:
        return pool[:, 0]
    best, others = pool[:, 0], pool[:, 1:]
    sims = np.einsum("nkd,nd->nk", target[others], target[best])
    return np.take_along_axis(others, sims.argmax(axis=1)[:, None], axis=1)[:, 0]


class MaskedLMChooser:
    """Scores candidate sentences with a pre-trained checkpoint and its weam-prepare data directory."""

    def __init__(self, checkpoint: str, data_dir: str, batch_size: int = 32):
        import sentencepiece as spm

        from fairseq_weam.data.aligned_pair_dataset import load_dictionary
        from fairseq_weam.evaluation.retrieval import load_encoder

        for path in (checkpoint, os.path.join(data_dir, SPM_NAME), os.path.join(data_dir, "dict.txt")):
            if not os.path.isfile(path):
                raise SynthesisError(f"file not found: {path} (--checkpoint needs --checkpoint-data, the "
                                     "weam-prepare directory it was trained on)")
        self.dictionary = load_dictionary(data_dir)
        self.model, self.max_pieces = load_encoder(checkpoint, self.dictionary, data_dir)
        self.spm = spm.SentencePieceProcessor(model_file=os.path.join(data_dir, SPM_NAME))
        self.mask = self.dictionary.index("<mask>")
        self.batch_size = batch_size

    def _row(self, tokens: Sequence[str], positions: Sequence[int]):
        """(input ids with the words at ``positions`` masked, gold ids, piece ranges per position) or None."""
        pieces = self.spm.encode(" ".join(tokens), out_type=str)
        spans = word_spans(pieces)
        if len(spans) != len(tokens) or len(pieces) > self.max_pieces:
            return None
        gold = torch.tensor([self.dictionary.bos()] + [self.dictionary.index(p) for p in pieces]
                            + [self.dictionary.eos()])
        masked = gold.clone()
        ranges = [range(spans[i].start + 1, spans[i].stop + 1) for i in positions]  # +1: <s>
        for r in ranges:
            masked[r.start : r.stop] = self.mask
        return masked, gold, ranges

    @torch.no_grad()
    def losses(self, variants: List[Tuple[Sequence[str], Sequence[int]]]) -> List[List[float]]:
        """Per variant (tokens, exchanged positions), the masked-LM loss of each exchanged word (0 when the
        line cannot be scored: over-long, or sentencepiece makes another number of words)."""
        out = [[0.0] * len(p) for _, p in variants]
        rows = [(k, self._row(t, p)) for k, (t, p) in enumerate(variants)]
        rows = [(k, r) for k, r in rows if r is not None]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            width = max(len(r[0]) for _, r in chunk)
            masked = torch.full((len(chunk), width), self.dictionary.pad(), dtype=torch.long)
            gold = masked.clone()
            for b, (_, (m, g, _)) in enumerate(chunk):
                masked[b, : len(m)], gold[b, : len(g)] = m, g
            logits = self.model(masked)[0].float()
            nll = F.cross_entropy(logits.transpose(1, 2), gold, reduction="none")  # B x T
            for b, (k, (_, _, ranges)) in enumerate(chunk):
                out[k] = [float(nll[b, r.start : r.stop].mean()) for r in ranges]
        return out

    def choose(self, tokens: Sequence[str], positions: Sequence[int], candidates: Sequence[Sequence[str]],
               fill) -> List[int]:
        """Per position, the index of the candidate with the highest loss; ``fill(tokens, pos, word)`` builds
        a variant's token. Variant c puts every position's c-th candidate (its last when it has fewer)."""
        width = max(len(c) for c in candidates)
        variants = []
        for c in range(width):
            variant = list(tokens)
            for pos, cands in zip(positions, candidates):
                variant[pos] = fill(tokens[pos], cands[min(c, len(cands) - 1)])
            variants.append((variant, positions))
        scores = np.array(self.losses(variants))  # width x positions
        return [int(scores[: len(cands), n].argmax()) for n, cands in enumerate(candidates)]
