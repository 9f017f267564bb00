"""``--criterion xtreme_tagging``: cross-entropy on the first piece of each word (``--task xtreme_tagging``).

Every position's logits come from the task's token head; the positions that carry no tag (the other pieces
of a word, ``<s>``, ``</s>``, padding) are ignored, so the sample size is the number of tagged words and
``accuracy`` is word-level. ``--robust-method adversarial|noise`` trains through the shared robust wrapper
(``fairseq_weam.robust.training``); ``none`` is the plain forward through the model.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.logging import metrics

from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.training import (RobustTraining, RobustTrainingConfig, reduce_robust_metrics,
                                          regularization)
from fairseq_weam.tasks.xtreme_tagging import tag_targets


@dataclass
class XtremeTaggingCriterionConfig(RobustTrainingConfig):
    report_accuracy: bool = field(default=True, metadata={"help": "log word-level tagging accuracy"})


@register_criterion("xtreme_tagging", dataclass=XtremeTaggingCriterionConfig)
class XtremeTaggingCriterion(FairseqCriterion):
    def __init__(self, cfg: XtremeTaggingCriterionConfig, task):
        super().__init__(task)
        self.cfg = cfg
        self.head_name = task.cfg.classification_head_name
        self.nspecial = task.label_dictionary.nspecial
        self.robust = RobustTraining(cfg)

    def forward(self, model, sample, reduce=True):
        src_tokens = sample["net_input"]["src_tokens"]
        targets = tag_targets(sample["target"], self.nspecial).view(-1)

        def loss_of(embeddings):
            states = embedding_forward.features(model, src_tokens, embeddings)
            logits = model.classification_heads[self.head_name](states)
            return self._loss(logits, targets), logits

        if self.robust.applies(model):
            loss, logits, logged = self.robust.loss(model, src_tokens, loss_of)
        else:
            logits, _ = model(src_tokens, features_only=True, classification_head_name=self.head_name)
            reg_loss, logged = regularization(model)
            loss = self._loss(logits, targets) + reg_loss
        sample_size = sample["nwords"]
        logging_output = {**logged, "loss": loss.data, "ntokens": sample["ntokens"],
                          "nsentences": sample["nsentences"], "sample_size": sample_size}
        if self.cfg.report_accuracy:
            logging_output["ncorrect"] = (logits.argmax(-1).view(-1) == targets).sum()
        return loss, sample_size, logging_output

    @staticmethod
    def _loss(logits, targets):
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets, ignore_index=-100,
                               reduction="sum")

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        words = sum(log.get("sample_size", 0) for log in logging_outputs)
        metrics.log_scalar("loss", loss / max(words, 1) / math.log(2), words, round=3)
        if logging_outputs and "ncorrect" in logging_outputs[0]:
            correct = sum(log.get("ncorrect", 0) for log in logging_outputs)
            metrics.log_scalar("accuracy", 100.0 * correct / max(words, 1), words, round=1)
        reduce_robust_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
