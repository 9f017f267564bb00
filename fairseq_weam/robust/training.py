"""Robust training for any head on a RoBERTa/XLM-R encoder: one wrapper, used by every criterion.

A criterion gives :meth:`RobustTraining.loss` a function ``loss_of(embeddings) -> (summed loss, outputs)``
that runs its own head (sentence classification, token tagging, span extraction, multiple choice) from
input token embeddings; the wrapper adds the method:

- ``none``: the clean loss (criteria call their plain path instead; the wrapper is not used).
- ``adversarial``: clean loss (weight ``--adv-clean-weight``) + the loss at a K-step PGD perturbation of the
  input token embeddings (Madry et al.; the adversarial training of Robust-XLT, Huang et al. 2021).
- ``noise``: the loss on embeddings with random Gaussian or uniform noise (randomized smoothing with
  random perturbation), one forward.

Perturbations apply in training only; validation is clean, so checkpoint selection on English dev stays
comparable across methods. :class:`RobustTrainingConfig` holds the flags, documented once; a criterion's
config inherits them. A criterion whose config also inherits ``ParallelAlignmentConfig`` gets the alignment
term on parallel data (``--parallel-data``, ``fairseq_weam.robust.parallel_alignment``) through
:meth:`RobustTraining.add_parallel_term`, whatever its robust method.
"""
import math
from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.logging import metrics
from omegaconf import II

from fairseq_weam.errors import WeamError
from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.embedding_attack import (AttackLossScale, PGDSettings, pgd_perturbation,
                                                  scaled_attack_loss)
from fairseq_weam.robust.embedding_noise import add_perturbation, sample_embedding_noise
from fairseq_weam.robust.parallel_alignment import ParallelAlignment, reduce_parallel_metrics

ROBUST_METHODS = ChoiceEnum(["none", "adversarial", "noise"])

#: logging keys the wrapper adds (summed over the batch, like ``loss``)
ROBUST_LOSS_KEYS = ("clean_loss", "adv_loss", "noise_loss")


@dataclass
class RobustTrainingConfig(FairseqDataclass):
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
    """Refuse, in one line, the fairseq set-ups under which a robust criterion would train wrongly."""
    if (_option(cfg.fp16, False) or _option(cfg.bf16, False)) and (
            _option(cfg.cpu, False) or not torch.cuda.is_available()):
        raise RobustCriterionError("--fp16/--bf16 need a GPU (none is used: --cpu given or no CUDA device); "
                                   "drop --fp16/--bf16 to train in fp32 on the CPU")
    if cfg.robust_method != "none":
        what = "--robust-method adversarial/noise"
    elif getattr(cfg, "parallel_data", None):
        what = "--parallel-data"
    else:
        return
    backend = _option(cfg.ddp_backend, "legacy_ddp")
    if backend == "fully_sharded":
        raise RobustCriterionError(f"{what} cannot train with --ddp-backend "
                                   "fully_sharded (the perturbed forward bypasses FSDP's forward, which gathers "
                                   "the sharded weights): use --ddp-backend legacy_ddp")
    if backend not in ("legacy_ddp", "no_c10d") and _option(cfg.distributed_world_size, 1) > 1:
        # The perturbed forward calls the encoder and the head directly, bypassing the DDP wrapper's forward
        # (RobertaModel.forward cannot take embeddings), so torch DDP cannot sync gradients reliably;
        # fairseq's legacy_ddp all-reduces gradients after backward, whatever the forward path.
        raise RobustCriterionError(f"{what} needs --ddp-backend legacy_ddp (alias "
                                   f"no_c10d) for multi-worker training, not {backend}: the perturbed forward "
                                   "bypasses torch DDP's forward")


def refuse_checkpoint_activations(model, what="--robust-method adversarial"):
    """fairseq's activation checkpointing works with ``backward()`` only; PGD needs ``autograd.grad``."""
    if any(hasattr(module, "precheckpoint_forward") for module in model.modules()):
        raise RobustCriterionError(f"{what} cannot train with --checkpoint-activations "
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


class RobustTraining:
    """The robust method of a criterion (``cfg``: a :class:`RobustTrainingConfig`); with ``--parallel-data``
    (``cfg`` then also a ``ParallelAlignmentConfig``), its alignment term over the task's ``dictionary``."""

    def __init__(self, cfg, dictionary=None):
        check_setup(cfg)
        self.cfg = cfg
        self.pgd = PGDSettings(eps=cfg.adv_eps, step_size=cfg.adv_step_size, steps=cfg.adv_steps,
                               norm=cfg.adv_norm, random_init=cfg.adv_random_init,
                               loss_scale=cfg.adv_loss_scale, loss_scale_window=cfg.adv_loss_scale_window)
        self.attack_loss_scale = AttackLossScale(cfg.adv_loss_scale, cfg.adv_loss_scale_window)
        self._model_checked = self._parallel_checked = False
        self.parallel = None
        if getattr(cfg, "parallel_data", None):
            self.parallel = ParallelAlignment(
                cfg, dictionary, self.pgd, AttackLossScale(cfg.adv_loss_scale, cfg.adv_loss_scale_window),
                num_shards=_option(cfg.distributed_world_size, 1))

    def add_parallel_term(self, model, loss, sample_size, logging_output):
        """``loss`` (summed over ``sample_size`` items) plus ``sample_size`` x the parallel-data term, so that the
        update minimizes mean task loss + μ · mean alignment loss; the term's parts go to ``logging_output``."""
        if self.parallel is None or not model.training:
            return loss
        if self.cfg.parallel_adversarial and not self._parallel_checked:
            refuse_checkpoint_activations(model, "--parallel-adversarial")
            self._parallel_checked = True
        term, logged = self.parallel.term(model)
        logging_output.update(logged)
        return loss + term * sample_size

    def applies(self, model) -> bool:
        """True when this forward is perturbed (a robust method, in training)."""
        return self.cfg.robust_method != "none" and model.training

    def loss(self, model, src_tokens, loss_of):
        """(loss, outputs, logging entries) of one robust update.

        ``loss_of(embeddings) -> (summed loss, outputs)`` runs the criterion's head from input token
        embeddings (B x T x C); ``outputs`` (e.g. logits) is returned for the training metrics: those of the
        clean input (adversarial) or of the noisy input (noise). The loss includes fairseq's mha/ffn
        regularization terms.
        """
        if self.cfg.robust_method == "adversarial" and not self._model_checked:
            refuse_checkpoint_activations(model)
            self._model_checked = True
        embeddings = embedding_forward.token_embeddings(model, src_tokens)
        pad = embedding_forward.padding_mask(model, src_tokens)
        if self.cfg.robust_method == "adversarial" and (self.pgd.random_init or self.pgd.steps == 0):
            clean_loss, outputs = loss_of(embeddings)
            delta = pgd_perturbation(lambda e: loss_of(e)[0], embeddings, pad, self.pgd,
                                     loss_scale=self.attack_loss_scale)
            robust_loss, _ = loss_of(add_perturbation(embeddings, delta))
            loss = self.cfg.adv_clean_weight * clean_loss + robust_loss
            logged = {"clean_loss": clean_loss.data, "adv_loss": robust_loss.data}
        elif self.cfg.robust_method == "adversarial":
            clean_term, clean_loss, outputs, first_gradient = self._clean_pass(model, embeddings, loss_of)
            delta = pgd_perturbation(lambda e: loss_of(e)[0], embeddings, pad, self.pgd,
                                     loss_scale=self.attack_loss_scale, first_gradient=first_gradient)
            embeddings = embedding_forward.token_embeddings(model, src_tokens)  # the clean graph may be freed
            robust_loss, _ = loss_of(add_perturbation(embeddings, delta))
            loss = self.cfg.adv_clean_weight * clean_term + robust_loss
            logged = {"clean_loss": clean_loss.data, "adv_loss": robust_loss.data}
        elif self.cfg.robust_method == "noise":
            # one forward, on the noisy input: a clean pass would cost a third more per update
            noise = sample_embedding_noise(embeddings, pad, self.cfg.noise_type, self.cfg.noise_sigma)
            loss, outputs = loss_of(add_perturbation(embeddings, noise))
            logged = {"noise_loss": loss.data}
        else:
            raise RobustCriterionError(f"unknown --robust-method {self.cfg.robust_method!r}")
        reg_loss, reg_logged = regularization(model)
        return loss + reg_loss, outputs, {**reg_logged, **logged}

    def _clean_pass(self, model, embeddings, loss_of):
        """The clean forward, which is also PGD's first forward (delta = 0, no random start).

        One backward of it gives the first PGD gradient (w.r.t. a zero delta) and, in fp32/bf16, the clean
        loss's parameter gradients too: the clean term returned then carries those gradients to fairseq's
        backward instead of its graph, so the clean graph is walked back once, not twice. In fp16 the clean
        graph stays for fairseq's backward (its loss scaler, not the attack's, must scale those gradients);
        with ``--adv-clean-weight 0`` only the gradient w.r.t. delta is taken.
        Returns (clean term for the loss, clean loss, outputs, first PGD gradient).
        """
        zero = torch.zeros(embeddings.shape, device=embeddings.device, dtype=torch.float32, requires_grad=True)
        clean_loss, outputs = loss_of(add_perturbation(embeddings, zero))
        scale = self.attack_loss_scale.value(clean_loss.device)
        attack_loss = scaled_attack_loss(clean_loss, self.attack_loss_scale)
        if self.cfg.adv_clean_weight == 0 or embeddings.dtype == torch.float16:
            keep_graph = self.cfg.adv_clean_weight != 0
            (first_gradient,) = torch.autograd.grad(attack_loss, zero, retain_graph=keep_graph)
            return (clean_loss if keep_graph else clean_loss.detach()), clean_loss, outputs, first_gradient
        params = [p for p in model.parameters() if p.requires_grad]
        first_gradient, *grads = torch.autograd.grad(attack_loss, [zero, *params], allow_unused=True)
        used = [(p, g) for p, g in zip(params, grads) if g is not None]
        clean_term = _LossWithGradients.apply(clean_loss.detach(), scale, [g for _, g in used],
                                              *[p for p, _ in used])
        return clean_term, clean_loss, outputs, first_gradient


class _LossWithGradients(torch.autograd.Function):
    """A loss value whose gradient w.r.t. ``params`` is ``grads / scale`` (gradients already computed)."""

    @staticmethod
    def forward(ctx, value, scale, grads, *params):
        ctx.scale, ctx.grads = scale, grads
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output):
        factor = grad_output / ctx.scale
        return (None, None, None, *[(g * factor).to(g.dtype) for g in ctx.grads])


def reduce_robust_metrics(logging_outputs, size_key="sample_size") -> None:
    """Log the wrapper's loss terms (bits per ``size_key`` item, like fairseq's ``loss``)."""
    size = sum(log.get(size_key, 0) for log in logging_outputs)
    for key in ROBUST_LOSS_KEYS:
        if logging_outputs and key in logging_outputs[0] and size:
            total = sum(log.get(key, 0) for log in logging_outputs)
            metrics.log_scalar(key, total / size / math.log(2), size, round=3)
    reduce_parallel_metrics(logging_outputs)
