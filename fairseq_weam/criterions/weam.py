"""The ``weam`` criterion: multilingual prediction plus cross-lingual (word-exchange) prediction.

L = L_ml + λ·L_cl. L_ml is the masked-LM cross-entropy on the masked pieces of x and y. For L_cl, every
masked piece with links gets h̃ = the mean of the final-layer states of the pieces it is linked to in the
other sentence, and its token is predicted from h̃ by the same LM head; masked pieces without links add
nothing. The batch lists the (query, key) pairs in ``sample["cross_links"]`` (``ObjectiveBatchDataset``);
for ``tlm`` / ``mlm`` batches it is empty and the criterion is the plain masked-LM loss, with the same
logged keys. Gradients are normalized by the number of masked pieces (``sample_size = ml_tokens``).
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass


@dataclass
class WeamCriterionConfig(FairseqDataclass):
    cl_weight: float = field(
        default=1.0, metadata={"help": "λ, weight of the cross-lingual prediction loss: L = L_ml + λ·L_cl"}
    )


def mean_linked_states(features, cross_links):
    """``(queries, h̃)``: the distinct query positions and, per query, the mean of its keys' states.

    ``features`` is B x T x C; ``cross_links`` N x 2 positions in the flattened B*T batch.
    """
    flat = features.reshape(-1, features.size(-1))
    queries, slot = torch.unique(cross_links[:, 0], return_inverse=True)
    summed = flat.new_zeros(len(queries), flat.size(1)).index_add_(0, slot, flat[cross_links[:, 1]])
    counts = torch.bincount(slot, minlength=len(queries)).to(flat.dtype)
    return queries, summed / counts.unsqueeze(1)


@register_criterion("weam", dataclass=WeamCriterionConfig)
class WeamCriterion(FairseqCriterion):
    def __init__(self, task, cl_weight=1.0):
        super().__init__(task)
        self.cl_weight = cl_weight

    @staticmethod
    def _cross_entropy(logits, targets):
        loss = F.cross_entropy(logits.float(), targets, reduction="sum")
        correct = (logits.argmax(-1) == targets).sum()
        return loss, correct

    def forward(self, model, sample, reduce=True):
        target = sample["target"]
        masked = target.ne(self.padding_idx)
        features = model(sample["net_input"]["src_tokens"], features_only=True)[0]

        ml_logits = model.encoder.output_layer(features, masked_tokens=masked)
        ml_loss, ml_correct = self._cross_entropy(ml_logits, target[masked])
        ml_tokens = int(masked.sum())

        cross_links = sample.get("cross_links")
        if cross_links is not None and len(cross_links) > 0:
            queries, exchanged = mean_linked_states(features, cross_links)
            cl_logits = model.encoder.output_layer(exchanged)
            cl_loss, cl_correct = self._cross_entropy(cl_logits, target.reshape(-1)[queries])
            cl_tokens = len(queries)
        else:
            cl_loss, cl_correct, cl_tokens = ml_loss.new_zeros(()), 0, 0

        loss = ml_loss + self.cl_weight * cl_loss
        logging_output = {
            "loss": loss.data,
            "ml_loss": ml_loss.data,
            "cl_loss": cl_loss.data,
            "ml_correct": int(ml_correct),
            "cl_correct": int(cl_correct),
            "ml_tokens": ml_tokens,
            "cl_tokens": cl_tokens,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": ml_tokens,
        }
        return loss, ml_tokens, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        """Losses in bits per predicted piece (base 2, as fairseq's masked_lm); accuracies in %."""

        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        ml_tokens, cl_tokens = total("ml_tokens"), total("cl_tokens")
        metrics.log_scalar("loss", total("loss") / max(ml_tokens, 1) / math.log(2), ml_tokens, round=3)
        metrics.log_scalar("ml_loss", total("ml_loss") / max(ml_tokens, 1) / math.log(2), ml_tokens, round=3)
        metrics.log_scalar("cl_loss", total("cl_loss") / max(cl_tokens, 1) / math.log(2), cl_tokens, round=3)
        metrics.log_scalar("ml_acc", 100.0 * total("ml_correct") / max(ml_tokens, 1), ml_tokens, round=2)
        metrics.log_scalar("cl_acc", 100.0 * total("cl_correct") / max(cl_tokens, 1), cl_tokens, round=2)
        metrics.log_scalar("ml_tokens", ml_tokens, priority=900, round=0)
        metrics.log_scalar("cl_tokens", cl_tokens, priority=900, round=0)
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["ml_loss"].avg))

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
