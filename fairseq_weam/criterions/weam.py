"""The ``weam`` criterion: multilingual prediction plus cross-lingual (word-exchange) prediction.

L = mean_ml + λ·mean_cl, each term averaged over its own predicted pieces, so that λ means the same whatever
the alignment coverage. mean_ml is the masked-LM cross-entropy over the masked pieces of x and y. For
mean_cl, every masked piece with links gets h̃ = the mean of the final-layer states of the pieces it is
linked to in the other sentence, and its token is predicted from h̃ by the same LM head; masked pieces
without links add nothing. The batch lists the (query, key) pairs in ``sample["cross_links"]``
(``ObjectiveBatchDataset``); for ``tlm`` / ``mlm`` batches it is empty and the criterion is the plain
masked-LM loss, with the same logged keys.

Cost. The collater precomputes one gather of every prediction (masked pieces, then exchanged states), so the
step runs the LM head once over both sets, with fairseq's (fused where available) cross-entropy, and never
reads a size back from the device: the counts are Python ints of the batch.

Normalization. fairseq divides the summed gradients of all micro-batches (``--update-freq``) and workers by
the sum of their ``sample_size``. This criterion returns ``ml_sum + λ·(ml_tokens/cl_tokens)·cl_sum`` with
``sample_size = ml_tokens``: on one batch that is exactly mean_ml + λ·mean_cl; over several, the ml term is
the global per-token mean, exactly as fairseq's ``masked_lm`` (so ``--update-freq 2`` equals the bigger
batch), and the cl term is exact whenever the micro-batches share their coverage ``cl_tokens/ml_tokens``
(else each micro-batch's cl mean is weighted by its share of masked pieces). Returning a per-batch mean with
``sample_size = 1`` would instead weight every micro-batch equally, whatever its size, for both terms.
The logged ``loss`` is ``ml_loss + λ·cl_loss`` of the global means (base 2, per own pieces).
"""
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch.nn.functional as F
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.modules import LearnedPositionalEmbedding
from fairseq.modules.cross_entropy import cross_entropy

from fairseq_weam.errors import WeamError


@dataclass
class WeamCriterionConfig(FairseqDataclass):
    cl_weight: float = field(
        default=1.0,
        metadata={"help": "λ in L = mean_ml + λ·mean_cl (each mean over its own predicted pieces)"},
    )


def mean_linked_states(flat, keys, slot, counts):
    """Per slot, the mean of its keys' states: ``flat`` (B*T) x C states, ``keys`` N positions in it, ``slot`` N
    slot numbers in ``[0, len(counts))``, ``counts`` the keys per slot (all given by the collater: no device sync)."""
    summed = flat.new_zeros(len(counts), flat.size(1)).index_add_(0, slot, flat.index_select(0, keys))
    return summed / counts.to(flat.dtype).unsqueeze(1)


@contextmanager
def given_positions(model, positions):
    """Run ``model`` with these position ids instead of fairseq's ``pad + 1 + t`` (``--reset-positions``).

    fairseq's RoBERTa encoder takes no position ids, so a forward hook on its learned positional embedding
    replaces that module's output by the embedding of ``positions``; the hook is removed on exit.
    """
    if positions is None:
        yield
        return
    embed = getattr(getattr(model.encoder, "sentence_encoder", None), "embed_positions", None)
    if not isinstance(embed, LearnedPositionalEmbedding):
        raise WeamError(
            "--reset-positions needs a model with learned positional embeddings (RoBERTa / XLM-R); "
            f"this one has {type(embed).__name__}: drop the flag"
        )
    handle = embed.register_forward_hook(
        lambda module, args, output: F.embedding(positions, module.weight, module.padding_idx)
    )
    try:
        yield
    finally:
        handle.remove()


@register_criterion("weam", dataclass=WeamCriterionConfig)
class WeamCriterion(FairseqCriterion):
    def __init__(self, task, cl_weight=1.0):
        super().__init__(task)
        self.cl_weight = cl_weight

    def forward(self, model, sample, reduce=True):
        net_input = sample["net_input"]
        with given_positions(model, net_input.get("positions")):
            features = model(net_input["src_tokens"], features_only=True)[0]
        flat = features.reshape(-1, features.size(-1))
        ml_tokens, cl_tokens = sample["ml_tokens"], sample["cl_tokens"]  # Python ints from the collater

        # one LM-head pass over every prediction: the masked pieces' own states (mean of one), then the
        # exchanged states (mean of the linked pieces of the other sentence)
        states = mean_linked_states(flat, sample["gather_positions"], sample["gather_slot"], sample["gather_counts"])
        logits = model.encoder.output_layer(states)
        targets = sample["prediction_target"]
        losses = cross_entropy(logits, targets, reduction="none")
        correct = logits.argmax(-1) == targets
        ml_loss, cl_loss = losses[:ml_tokens].sum(), losses[ml_tokens:].sum()
        ml_correct, cl_correct = correct[:ml_tokens].sum(), correct[ml_tokens:].sum()

        # / sample_size (= ml_tokens) this is mean_ml + λ·mean_cl; see the module docstring
        loss = ml_loss + (self.cl_weight * ml_tokens / max(cl_tokens, 1)) * cl_loss
        logging_output = {
            "loss": loss.data,
            "ml_loss": ml_loss.data,
            "cl_loss": cl_loss.data,
            "weighted_cl_loss": self.cl_weight * cl_loss.data,
            "ml_correct": ml_correct,
            "cl_correct": cl_correct,
            "ml_tokens": ml_tokens,
            "cl_tokens": cl_tokens,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": ml_tokens,
        }
        return loss, ml_tokens, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        """Losses in bits per predicted piece (base 2, as fairseq's masked_lm), each per its own pieces;
        ``loss`` = ``ml_loss`` + λ·``cl_loss``; accuracies in %."""

        def total(key):
            return utils.item(sum(log.get(key, 0) for log in logging_outputs))

        ml_tokens, cl_tokens = total("ml_tokens"), total("cl_tokens")
        ml_mean = total("ml_loss") / max(ml_tokens, 1) / math.log(2)
        weighted_cl_mean = total("weighted_cl_loss") / max(cl_tokens, 1) / math.log(2)
        metrics.log_scalar("loss", ml_mean + weighted_cl_mean, ml_tokens, round=3)
        metrics.log_scalar("ml_loss", ml_mean, ml_tokens, round=3)
        metrics.log_scalar("cl_loss", total("cl_loss") / max(cl_tokens, 1) / math.log(2), cl_tokens, round=3)
        metrics.log_scalar("ml_acc", 100.0 * total("ml_correct") / max(ml_tokens, 1), ml_tokens, round=2)
        metrics.log_scalar("cl_acc", 100.0 * total("cl_correct") / max(cl_tokens, 1), cl_tokens, round=2)
        metrics.log_scalar("ml_tokens", ml_tokens, priority=900, round=0)
        metrics.log_scalar("cl_tokens", cl_tokens, priority=900, round=0)
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["ml_loss"].avg))

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
