"""``--criterion xtreme_qa``: start/end cross-entropy over the tokens of each window (``--task xtreme_qa``).

The loss of a window is the mean of the start and the end cross-entropy (SQuAD fine-tuning's loss), with
padding excluded; a window without the answer has both targets at ``<s>`` (see ``fairseq_weam.xtreme.qa``).
Logged: ``loss`` (bits per window), ``start_accuracy``/``end_accuracy``/``span_accuracy`` (percent of windows
whose argmax start / end / both are the target). ``--robust-method adversarial|noise`` trains through the
one robust wrapper (``fairseq_weam.robust.training``); validation is clean.
"""
import math
from dataclasses import dataclass

import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.logging import metrics

from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.training import RobustTraining, RobustTrainingConfig, reduce_robust_metrics


@dataclass
class XtremeQACriterionConfig(RobustTrainingConfig):
    pass


def span_logits(model, head_name, src_tokens, embeddings=None):
    """B x T x 2 fp32 start/end logits; padding at -inf."""
    states = embedding_forward.features(model, src_tokens, embeddings)
    logits = model.classification_heads[head_name](states).float()
    return logits.masked_fill(embedding_forward.padding_mask(model, src_tokens).unsqueeze(-1), float("-inf"))


@register_criterion("xtreme_qa", dataclass=XtremeQACriterionConfig)
class XtremeQACriterion(FairseqCriterion):
    def __init__(self, cfg: XtremeQACriterionConfig, task):
        super().__init__(task)
        self.cfg = cfg
        self.head_name = task.cfg.span_head_name
        self.robust = RobustTraining(cfg)

    def forward(self, model, sample, reduce=True):
        src_tokens = sample["net_input"]["src_tokens"]
        starts, ends = sample["start_positions"], sample["end_positions"]

        def loss_of(embeddings):
            logits = span_logits(model, self.head_name, src_tokens, embeddings)
            loss = 0.5 * (F.cross_entropy(logits[..., 0], starts, reduction="sum")
                          + F.cross_entropy(logits[..., 1], ends, reduction="sum"))
            return loss, logits

        if self.robust.applies(model):
            loss, logits, logged = self.robust.loss(model, src_tokens, loss_of)
        else:
            loss, logits = loss_of(None)
            logged = {}
        start_ok = logits[..., 0].argmax(dim=1) == starts
        end_ok = logits[..., 1].argmax(dim=1) == ends
        sample_size = starts.numel()
        logging_output = {
            **logged,
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample_size,
            "sample_size": sample_size,
            "start_correct": start_ok.sum(),
            "end_correct": end_ok.sum(),
            "span_correct": (start_ok & end_ok).sum(),
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        size = sum(log.get("sample_size", 0) for log in logging_outputs)
        metrics.log_scalar("loss", loss / max(size, 1) / math.log(2), size, round=3)
        for key in ("start", "end", "span"):
            correct = sum(log.get(f"{key}_correct", 0) for log in logging_outputs)
            metrics.log_scalar(f"{key}_accuracy", 100.0 * correct / max(size, 1), size, round=1)
        reduce_robust_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
