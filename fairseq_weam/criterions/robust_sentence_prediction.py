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
from omegaconf import II

from fairseq_weam.errors import WeamError
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
    # read from fairseq's own options, to refuse set-ups the perturbed forward cannot serve
    fp16: bool = II("common.fp16")
    bf16: bool = II("common.bf16")
    cpu: bool = II("common.cpu")
    ddp_backend: str = II("distributed_training.ddp_backend")
    distributed_world_size: int = II("distributed_training.distributed_world_size")


class RobustCriterionError(WeamError, ValueError):
    """A set-up the robust criterion cannot train correctly."""


def _option(value, default):
    """A fairseq option interpolated into the criterion's config; ``default`` when it was not resolved
    (the criterion built directly from Python)."""
    return default if isinstance(value, str) and value.startswith("${") else value


def check_setup(cfg):
    """Refuse, in one line, the fairseq set-ups under which this criterion would train wrongly."""
    if (_option(cfg.fp16, False) or _option(cfg.bf16, False)) and (
            _option(cfg.cpu, False) or not torch.cuda.is_available()):
        raise RobustCriterionError("--fp16/--bf16 need a GPU (none is used: --cpu given or no CUDA device); "
                                   "drop --fp16/--bf16 to train in fp32 on the CPU")
    if cfg.robust_method == "none":
        return
    if cfg.regression_target:
        raise RobustCriterionError("--robust-method adversarial/noise supports classification only, "
                                   "not --regression-target")
    backend = _option(cfg.ddp_backend, "legacy_ddp")
    if backend == "fully_sharded":
        raise RobustCriterionError("--robust-method adversarial/noise cannot train with --ddp-backend "
                                   "fully_sharded (the perturbed forward bypasses FSDP's forward, which gathers "
                                   "the sharded weights): use --ddp-backend legacy_ddp")
    if backend not in ("legacy_ddp", "no_c10d") and _option(cfg.distributed_world_size, 1) > 1:
        # The perturbed forward calls the encoder and the head directly, bypassing the DDP wrapper's forward
        # (RobertaModel.forward cannot take embeddings), so torch DDP cannot sync gradients reliably;
        # fairseq's legacy_ddp all-reduces gradients after backward, whatever the forward path.
        raise RobustCriterionError(f"--robust-method adversarial/noise needs --ddp-backend legacy_ddp (alias "
                                   f"no_c10d) for multi-worker training, not {backend}: the perturbed forward "
                                   "bypasses torch DDP's forward")


def _refuse_checkpoint_activations(model):
    """fairseq's activation checkpointing works with ``backward()`` only; PGD needs ``autograd.grad``."""
    if any(hasattr(module, "precheckpoint_forward") for module in model.modules()):
        raise RobustCriterionError("--robust-method adversarial cannot train with --checkpoint-activations "
                                   "(PGD takes gradients with torch.autograd.grad, which activation "
                                   "checkpointing does not support): drop --checkpoint-activations")


def regularization(model):
    """fairseq's ``mha_reg``/``ffn_reg`` terms, as its sentence_prediction criterion adds them:
    (total, logging entries)."""
    total, logged = 0.0, {}
    args = getattr(model, "args", None)
    for key, factor, term in (("mha_reg_loss", "mha_reg_scale_factor", "_get_adaptive_head_loss"),
                              ("ffn_reg_loss", "ffn_reg_scale_factor", "_get_adaptive_ffn_loss")):
        if getattr(args, factor, 0.0) != 0.0:
            value = getattr(model, term)()
            total = total + value
            logged[key] = value.detach()
    return total, logged


@register_criterion("robust_sentence_prediction", dataclass=RobustSentencePredictionConfig)
class RobustSentencePredictionCriterion(SentencePredictionCriterion):
    def __init__(self, cfg: RobustSentencePredictionConfig, task):
        super().__init__(cfg, task)
        self.cfg = cfg
        check_setup(cfg)
        self._model_checked = False
        self.pgd = PGDSettings(eps=cfg.adv_eps, step_size=cfg.adv_step_size, steps=cfg.adv_steps,
                               norm=cfg.adv_norm, random_init=cfg.adv_random_init,
                               loss_scale=cfg.adv_loss_scale, loss_scale_window=cfg.adv_loss_scale_window)
        self.attack_loss_scale = AttackLossScale(cfg.adv_loss_scale, cfg.adv_loss_scale_window)

    def forward(self, model, sample, reduce=True):
        if self.cfg.robust_method == "none" or not model.training:
            return super().forward(model, sample, reduce)

        if self.cfg.robust_method == "adversarial" and not self._model_checked:
            _refuse_checkpoint_activations(model)
            self._model_checked = True
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
        reg_loss, reg_logged = regularization(model)
        loss = loss + reg_loss

        sample_size = targets.numel()
        logging_output = {
            **reg_logged,
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
