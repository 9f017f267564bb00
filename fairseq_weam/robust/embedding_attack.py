"""Projected gradient descent (Madry et al., 2018) on input token embeddings.

The attack maximises a loss over a perturbation ``delta`` of the token embeddings inside an L2 ball
(norm taken per example over its non-padding tokens x dimensions) or an L-infinity ball of radius
``eps``. All the maths on ``delta`` happens in fp32 and padding positions are never perturbed.

Half precision: the gradient of an unscaled fp16 loss underflows to zero for confident examples (the
attack would silently make no step). The loss is therefore multiplied by a dynamic scale before
``autograd.grad``; both steps (L2-normalized gradient, gradient sign) are invariant to that scale. An
example whose gradient overflowed makes no step, and the scale halves (without a device->host sync).
"""
from dataclasses import dataclass

import torch

from fairseq_weam.robust.embedding_noise import add_perturbation

NORMS = ("l2", "linf")
_TINY = 1e-12


@dataclass
class PGDSettings:
    eps: float = 1.0
    step_size: float = 0.5
    steps: int = 3
    norm: str = "l2"
    random_init: bool = True
    loss_scale: float = 2.0 ** 15
    loss_scale_window: int = 100

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"unknown PGD norm {self.norm!r}: expected one of {', '.join(NORMS)}")
        if self.eps < 0 or self.step_size < 0 or self.steps < 0:
            raise ValueError(f"PGD eps, step size and steps must be >= 0, got {self}")
        if self.loss_scale <= 0 or self.loss_scale_window < 1:
            raise ValueError(f"PGD loss scale must be > 0 and its window >= 1, got {self}")


class AttackLossScale:
    """Dynamic scale of the attack loss, kept on the device: halves on overflow, doubles after
    ``window`` overflow-free steps (as fairseq's fp16 scaler does for the training loss)."""

    def __init__(self, init=2.0 ** 15, window=100):
        self.init, self.window = float(init), int(window)
        self.scale = None
        self.clean_steps = None

    def value(self, device):
        if self.scale is None or self.scale.device != device:
            self.scale = torch.tensor(self.init, device=device)
            self.clean_steps = torch.zeros((), device=device, dtype=torch.long)
        return self.scale

    def update(self, overflow):
        """``overflow``: 0-dim bool tensor, True when some gradient was not finite."""
        self.clean_steps = torch.where(overflow, torch.zeros_like(self.clean_steps), self.clean_steps + 1)
        grow = self.clean_steps >= self.window
        self.clean_steps = torch.where(grow, torch.zeros_like(self.clean_steps), self.clean_steps)
        factor = torch.where(overflow, 0.5, torch.where(grow, 2.0, 1.0))
        self.scale = (self.scale * factor).clamp_min(1.0)


def _per_example_norm(x):
    return x.flatten(1).norm(p=2, dim=1).clamp_min(_TINY).view(-1, *([1] * (x.dim() - 1)))


def project(delta, settings):
    """Project ``delta`` (fp32, B x T x C) back into the ball of radius ``settings.eps``."""
    if settings.norm == "linf":
        return delta.clamp(-settings.eps, settings.eps)
    norms = _per_example_norm(delta)
    return delta * (settings.eps / norms).clamp(max=1.0)


def random_start(shape, device, settings, keep, generator=None):
    """A uniformly random point of the ball over the positions where ``keep`` (B x T x 1) is 1.

    L-inf: uniform per coordinate. L2: a Gaussian direction normalized over the kept coordinates and a
    radius ``eps * U^(1/d)``, ``d`` = kept coordinates of the example (uniform in the d-ball).
    Positions where ``keep`` is 0 stay exactly zero.
    """
    if settings.norm == "linf":
        return (torch.rand(shape, device=device, generator=generator) * 2 - 1) * settings.eps * keep
    direction = torch.randn(shape, device=device, generator=generator) * keep
    direction = direction / _per_example_norm(direction)
    dims = (keep.flatten(1).sum(dim=1) * shape[-1]).clamp_min(1.0)
    uniform = torch.rand(shape[0], device=device, generator=generator)
    radius = settings.eps * uniform.pow(1.0 / dims)
    return direction * radius.view(-1, *([1] * (len(shape) - 1)))


def scaled_attack_loss(loss, loss_scale):
    """``loss`` in fp32 times the attack loss scale: what every PGD gradient is taken of."""
    return loss.float() * loss_scale.value(loss.device)


def pgd_step(delta, grad, keep, settings, loss_scale):
    """One PGD ascent step from ``delta`` along ``grad`` (the gradient of :func:`scaled_attack_loss` w.r.t.
    ``delta``), projected back into the ball; an example whose gradient is not finite makes no step."""
    grad = grad.float() * keep
    finite = torch.isfinite(grad).flatten(1).all(dim=1).view(-1, *([1] * (grad.dim() - 1)))
    loss_scale.update(~finite.all())
    grad = torch.where(finite, grad, torch.zeros_like(grad))
    with torch.no_grad():
        if settings.norm == "linf":
            step = grad.sign()
        else:
            step = grad / _per_example_norm(grad)
        return project(delta.detach() + settings.step_size * step, settings) * keep


def pgd_perturbation(loss_fn, embeddings, padding_mask, settings, generator=None, loss_scale=None,
                     first_gradient=None):
    """Return the fp32 perturbation found by ``settings.steps`` PGD steps (detached).

    ``loss_fn(perturbed_embeddings) -> scalar`` is the loss to maximise; ``embeddings`` (B x T x C) is
    treated as a constant during the search (gradients flow to ``delta`` only, never to the model's
    parameters); ``padding_mask`` (B x T, True at padding) keeps padding untouched. ``loss_scale``: an
    ``AttackLossScale`` kept by the caller across updates (a fresh one from ``settings`` if None).
    ``first_gradient``: the gradient of :func:`scaled_attack_loss` w.r.t. a zero ``delta``, taken by the
    caller from its own clean forward (no random start): the first step uses it instead of a forward and a
    backward of its own.
    """
    if loss_scale is None:
        loss_scale = AttackLossScale(settings.loss_scale, settings.loss_scale_window)
    base = embeddings.detach()
    if padding_mask is not None:
        keep = (~padding_mask).unsqueeze(-1).float()
    else:
        keep = torch.ones_like(base[..., :1], dtype=torch.float32)
    steps = settings.steps
    if settings.random_init:
        if first_gradient is not None:
            raise ValueError("a first PGD gradient from the clean forward needs a zero start (random_init=False)")
        delta = project(random_start(base.shape, base.device, settings, keep, generator), settings)
    else:
        delta = torch.zeros(base.shape, device=base.device, dtype=torch.float32)
    if first_gradient is not None and steps > 0:
        delta = pgd_step(delta, first_gradient, keep, settings, loss_scale)
        steps -= 1
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = loss_fn(add_perturbation(base, delta))
        (grad,) = torch.autograd.grad(scaled_attack_loss(loss, loss_scale), delta)
        delta = pgd_step(delta, grad, keep, settings, loss_scale)
    return delta.detach()
