"""Robust fine-tuning for fairseq's ``sentence_prediction`` task (XNLI / PAWS-X layout).

``--robust-method none`` is fairseq's ``sentence_prediction`` criterion, unchanged; the methods are
``fairseq_weam.robust.training`` (shared with the tagging and QA criteria). ``adversarial`` adds
the loss on a K-step PGD perturbation of the input token embeddings (Madry et al.; the adversarial
training of Robust-XLT, Huang et al. 2021); ``noise`` trains on embeddings with random Gaussian or uniform
noise (randomized smoothing with random perturbation). Perturbations are applied in training only:
validation reports clean loss and accuracy, so checkpoint selection on English dev stays comparable
across methods. ``--parallel-data DIR`` adds, with any method, an alignment term on batches of a weam-prepare
data directory (``fairseq_weam.robust.parallel_alignment``), logged apart from the task ``loss``.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from fairseq.criterions import register_criterion
from fairseq.criterions.sentence_prediction import SentencePredictionConfig, SentencePredictionCriterion

from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.parallel_alignment import ParallelAlignmentConfig
from fairseq_weam.robust.training import (  # noqa: F401  (RobustCriterionError, regularization: public here too)
    RobustCriterionError, RobustTraining, RobustTrainingConfig, check_setup as check_robust_setup,
    reduce_robust_metrics, regularization)


@dataclass
class RobustSentencePredictionConfig(SentencePredictionConfig, RobustTrainingConfig, ParallelAlignmentConfig):
    pass


def check_setup(cfg):
    """Refuse, in one line, the fairseq set-ups under which this criterion would train wrongly."""
    check_robust_setup(cfg)
    if cfg.robust_method != "none" and cfg.regression_target:
        raise RobustCriterionError("--robust-method adversarial/noise supports classification only, "
                                   "not --regression-target")


@register_criterion("robust_sentence_prediction", dataclass=RobustSentencePredictionConfig)
class RobustSentencePredictionCriterion(SentencePredictionCriterion):
    def __init__(self, cfg: RobustSentencePredictionConfig, task):
        super().__init__(cfg, task)
        self.cfg = cfg
        check_setup(cfg)
        self.robust = RobustTraining(cfg, task.source_dictionary)

    def forward(self, model, sample, reduce=True):
        loss, sample_size, logging_output = self._task_loss(model, sample, reduce)
        loss = self.robust.add_parallel_term(model, loss, sample_size, logging_output)
        return loss, sample_size, logging_output

    def _task_loss(self, model, sample, reduce):
        if not self.robust.applies(model):
            return super().forward(model, sample, reduce)
        src_tokens = sample["net_input"]["src_tokens"]
        targets = model.get_targets(sample, None).view(-1)

        def loss_of(embeds):
            logits = embedding_forward.classify(model, src_tokens, self.classification_head_name, embeds)
            return F.nll_loss(F.log_softmax(logits, dim=-1, dtype=torch.float32), targets, reduction="sum"), logits

        loss, logits, logged = self.robust.loss(model, src_tokens, loss_of)
        sample_size = targets.numel()
        # training accuracy on the clean input (adversarial) or the noisy input (noise); validation is clean
        logging_output = {
            **logged,
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample_size,
            "sample_size": sample_size,
            "ncorrect": (logits.argmax(dim=1) == targets).sum(),
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        SentencePredictionCriterion.reduce_metrics(logging_outputs)
        reduce_robust_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
