"""Projected gradient descent (Madry et al., 2018) on input token embeddings.

The attack maximises a loss over a perturbation ``delta`` of the token embeddings inside an L2 ball
(norm taken per example over tokens x dimensions) or an L-infinity ball of radius ``eps``. All the maths
on ``delta`` happens in fp32: gradients that overflowed in a half-precision backward pass are zeroed
(not propagated as NaN/inf), norms carry a small epsilon, and padding positions are never perturbed.
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

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"unknown PGD norm {self.norm!r}: expected one of {', '.join(NORMS)}")
        if self.eps < 0 or self.step_size < 0 or self.steps < 0:
            raise ValueError(f"PGD eps, step size and steps must be >= 0, got {self}")


def _per_example_norm(x):
    return x.flatten(1).norm(p=2, dim=1).clamp_min(_TINY).view(-1, *([1] * (x.dim() - 1)))


def project(delta, settings):
    """Project ``delta`` (fp32, B x T x C) back into the ball of radius ``settings.eps``."""
    if settings.norm == "linf":
        return delta.clamp(-settings.eps, settings.eps)
    norms = _per_example_norm(delta)
    return delta * (settings.eps / norms).clamp(max=1.0)


def random_start(shape, device, settings, generator=None):
    """A uniformly random point of the ball (L-inf) or a random direction at a uniform radius (L2)."""
    if settings.norm == "linf":
        return (torch.rand(shape, device=device, generator=generator) * 2 - 1) * settings.eps
    direction = torch.randn(shape, device=device, generator=generator)
    direction = direction / _per_example_norm(direction)
    radius = torch.rand(shape[0], device=device, generator=generator).view(-1, 1, 1) * settings.eps
    return direction * radius


def pgd_perturbation(loss_fn, embeddings, padding_mask, settings, generator=None):
    """Return the fp32 perturbation found by ``settings.steps`` PGD steps (detached).

    ``loss_fn(perturbed_embeddings) -> scalar`` is the loss to maximise; ``embeddings`` (B x T x C) is
    treated as a constant during the search (gradients flow to ``delta`` only, never to the model's
    parameters); ``padding_mask`` (B x T, True at padding) keeps padding untouched.
    """
    base = embeddings.detach()
    keep = (~padding_mask).unsqueeze(-1).float() if padding_mask is not None else torch.ones_like(base[..., :1]).float()
    if settings.random_init:
        delta = random_start(base.shape, base.device, settings, generator) * keep
    else:
        delta = torch.zeros(base.shape, device=base.device, dtype=torch.float32)
    delta = project(delta, settings)
    for _ in range(settings.steps):
        delta.requires_grad_(True)
        loss = loss_fn(add_perturbation(base, delta))
        (grad,) = torch.autograd.grad(loss, delta)
        grad = torch.nan_to_num(grad.float(), nan=0.0, posinf=0.0, neginf=0.0) * keep
        with torch.no_grad():
            if settings.norm == "linf":
                step = grad.sign()
            else:
                step = grad / _per_example_norm(grad)
            delta = project(delta.detach() + settings.step_size * step, settings) * keep
    return delta.detach()
