"""Unmasked pairs as rows for the sentence-level contrastive objective (``--objective contrastive``, and the
contrastive term that ``--contrastive-weight`` adds to weam / tlm / mlm).

The rows are ``<s> x </s>`` (0..B-1) then ``<s> y </s>`` (B..2B-1), from the pieces as they are before masking,
built with a fixed number of tensor operations per batch. The wrapper keeps the ordering, sizes and epochs of
the dataset it wraps (an ``ObjectiveBatchDataset``); with ``with_objective_batch`` the batch is that dataset's own
batch plus ``batch["contrastive"]``, else the contrastive rows alone.
"""
import torch
from fairseq.data import BaseWrapperDataset


def sentence_rows(sentences, bos, eos, pad):
    """``(tokens, lengths)``: one row ``<s> s </s>`` per sentence (1-D tensors), padded on the right."""
    lengths = torch.tensor([len(s) for s in sentences], dtype=torch.long)
    width = int(lengths.max()) + 2
    tokens = torch.full((len(sentences), width), pad, dtype=torch.long)
    flat = tokens.view(-1)
    start = torch.arange(len(sentences)) * width + 1
    offsets = torch.cumsum(lengths, 0) - lengths
    flat[torch.arange(int(lengths.sum())) + torch.repeat_interleave(start - offsets, lengths)] = torch.cat(sentences)
    flat[start + lengths] = eos
    tokens[:, 0] = bos
    return tokens, lengths + 2


def collate_contrastive(samples, dictionary):
    """The contrastive batch of pair items (``x``, ``y``: unmasked pieces without ``</s>``)."""
    tokens, lengths = sentence_rows([s["x"] for s in samples] + [s["y"] for s in samples],
                                    dictionary.bos(), dictionary.eos(), dictionary.pad())
    return {
        "objective": "contrastive",
        "id": torch.tensor([s["id"] if "id" in s else s["line"] for s in samples], dtype=torch.long),
        "nsentences": len(samples),
        "ntokens": int(lengths.sum()),
        "net_input": {"src_tokens": tokens, "src_lengths": lengths},
    }


class ContrastiveBatchDataset(BaseWrapperDataset):
    def __init__(self, dataset, dictionary, with_objective_batch=False):
        super().__init__(dataset)
        self.dictionary = dictionary
        self.with_objective_batch = with_objective_batch

    def collater(self, samples):
        if len(samples) == 0:
            return {}
        rows = collate_contrastive(samples, self.dictionary)
        if not self.with_objective_batch:
            return rows
        batch = self.dataset.collater(samples)
        batch["contrastive"] = rows
        return batch
