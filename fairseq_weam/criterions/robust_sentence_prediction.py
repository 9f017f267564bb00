"""Robust fine-tuning for fairseq's ``sentence_prediction`` task (XNLI / PAWS-X layout).

``--robust-method none`` is fairseq's ``sentence_prediction`` criterion, unchanged. ``adversarial`` adds
the loss on a K-step PGD perturbation of the input token embeddings (Madry et al.; the adversarial
training of Robust-XLT, Huang et al. 2021); ``noise`` trains on embeddings with random Gaussian or uniform
noise (randomized smoothing with random perturbation). Perturbations are applied in training only:
validation reports clean loss and accuracy, so checkpoint selection on English dev stays comparable
across methods.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq.criterions import register_criterion
from fairseq.criterions.sentence_prediction import SentencePredictionConfig, SentencePredictionCriterion
from fairseq.dataclass import ChoiceEnum
from fairseq.logging import metrics

from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.embedding_attack import AttackLossScale, PGDSettings, pgd_perturbation
from fairseq_weam.robust.embedding_noise import add_perturbation, sample_embedding_noise

ROBUST_METHODS = ChoiceEnum(["none", "adversarial", "noise"])


@dataclass
class RobustSentencePredictionConfig(SentencePredictionConfig):
    robust_method: ROBUST_METHODS = field(
        default="none",
        metadata={"help": "none: plain cross-entropy; adversarial: PGD on the input token embeddings; "
                          "noise: random noise on the input token embeddings"},
    )
    adv_steps: int = field(default=3, metadata={"help": "PGD steps per update"})
    adv_norm: ChoiceEnum(["l2", "linf"]) = field(
        default="l2", metadata={"help": "ball of the PGD perturbation (l2: per example, over tokens x dim)"}
    )
    adv_eps: float = field(default=1.0, metadata={"help": "radius of the PGD ball"})
    adv_step_size: float = field(default=0.5, metadata={"help": "PGD step size (in the norm of --adv-norm)"})
    adv_random_init: bool = field(
        default=False, metadata={"help": "start PGD from a random point of the ball instead of zero"}
    )
    adv_loss_scale: float = field(
        default=2.0 ** 15,
        metadata={"help": "initial scale of the attack loss before its gradient (keeps fp16 gradients from "
                          "underflowing; halves on overflow; the PGD steps do not depend on it)"},
    )
    adv_loss_scale_window: int = field(
        default=100, metadata={"help": "double the attack loss scale after this many overflow-free PGD steps"}
    )
    adv_clean_weight: float = field(
        default=1.0, metadata={"help": "weight of the clean loss; the adversarial loss has weight 1"}
    )
    noise_type: ChoiceEnum(["gaussian", "uniform"]) = field(
        default="gaussian", metadata={"help": "distribution of the embedding noise (--robust-method noise)"}
    )
    noise_sigma: float = field(
        default=0.1, metadata={"help": "noise scale: std (gaussian) or half-width (uniform), per coordinate"}
    )


def _refuse_pytorch_ddp(model):
    """The perturbed forward calls the encoder and the head directly, bypassing a torch DDP wrapper's
    forward (RobertaModel.forward cannot take embeddings); torch DDP then cannot sync gradients reliably.
    fairseq's legacy_ddp all-reduces gradients after backward, whatever the forward path."""
    inner = getattr(model, "module", None)
    if isinstance(inner, torch.nn.parallel.DistributedDataParallel):
        raise RuntimeError("--robust-method adversarial/noise needs --ddp-backend legacy_ddp (alias no_c10d) "
                           "for multi-GPU training: the perturbed forward bypasses torch DDP's forward")


@register_criterion("robust_sentence_prediction", dataclass=RobustSentencePredictionConfig)
class RobustSentencePredictionCriterion(SentencePredictionCriterion):
    def __init__(self, cfg: RobustSentencePredictionConfig, task):
        super().__init__(cfg, task)
        self.cfg = cfg
        if cfg.robust_method != "none" and cfg.regression_target:
            raise ValueError("--robust-method adversarial/noise supports classification only, "
                             "not --regression-target")
        self.pgd = PGDSettings(eps=cfg.adv_eps, step_size=cfg.adv_step_size, steps=cfg.adv_steps,
                               norm=cfg.adv_norm, random_init=cfg.adv_random_init,
                               loss_scale=cfg.adv_loss_scale, loss_scale_window=cfg.adv_loss_scale_window)
        self.attack_loss_scale = AttackLossScale(cfg.adv_loss_scale, cfg.adv_loss_scale_window)

    def forward(self, model, sample, reduce=True):
        if self.cfg.robust_method == "none" or not model.training:
            return super().forward(model, sample, reduce)

        _refuse_pytorch_ddp(model)
        src_tokens = sample["net_input"]["src_tokens"]
        targets = model.get_targets(sample, None).view(-1)
        embeddings = embedding_forward.token_embeddings(model, src_tokens)
        pad = embedding_forward.padding_mask(model, src_tokens)

        def loss_of(embeds):
            logits = embedding_forward.classify(model, src_tokens, self.classification_head_name, embeds)
            return F.nll_loss(F.log_softmax(logits, dim=-1, dtype=torch.float32), targets, reduction="sum"), logits

        if self.cfg.robust_method == "adversarial":
            clean_loss, clean_logits = loss_of(embeddings)
            delta = pgd_perturbation(lambda e: loss_of(e)[0], embeddings, pad, self.pgd,
                                     loss_scale=self.attack_loss_scale)
            robust_loss, _ = loss_of(add_perturbation(embeddings, delta))
            loss = self.cfg.adv_clean_weight * clean_loss + robust_loss
        else:  # one forward, on the noisy input: a clean pass would cost a third more per update
            noise = sample_embedding_noise(embeddings, pad, self.cfg.noise_type, self.cfg.noise_sigma)
            robust_loss, noisy_logits = loss_of(add_perturbation(embeddings, noise))
            loss = robust_loss

        sample_size = targets.numel()
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample_size,
            "sample_size": sample_size,
        }
        if self.cfg.robust_method == "adversarial":
            # training accuracy on the clean input; validation is always clean
            logging_output.update(clean_loss=clean_loss.data, adv_loss=robust_loss.data,
                                  ncorrect=(clean_logits.argmax(dim=1) == targets).sum())
        else:
            # training accuracy on the noisy input; validation is always clean
            logging_output.update(noise_loss=robust_loss.data, ncorrect=(noisy_logits.argmax(dim=1) == targets).sum())
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        SentencePredictionCriterion.reduce_metrics(logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        for key in ("clean_loss", "adv_loss", "noise_loss"):
            if logging_outputs and key in logging_outputs[0] and sample_size:
                total = sum(log.get(key, 0) for log in logging_outputs)
                metrics.log_scalar(key, total / sample_size / math.log(2),
                                   sample_size, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
