"""Random noise on input token embeddings (randomized smoothing with random perturbation).

The noise is drawn in fp32 and added in fp32, so that fp16/bf16 models get the same perturbation as fp32
ones; padding positions are never perturbed.
"""
import torch

NOISE_TYPES = ("gaussian", "uniform")


def sample_embedding_noise(embeddings, padding_mask, noise_type="gaussian", sigma=0.1, generator=None):
    """fp32 noise shaped like ``embeddings`` (B x T x C), zero where ``padding_mask`` (B x T) is True.

    ``gaussian``: N(0, sigma^2) per coordinate; ``uniform``: U(-sigma, sigma) per coordinate.
    """
    shape, device = embeddings.shape, embeddings.device
    if noise_type == "gaussian":
        noise = torch.randn(shape, device=device, dtype=torch.float32, generator=generator) * sigma
    elif noise_type == "uniform":
        noise = (torch.rand(shape, device=device, dtype=torch.float32, generator=generator) * 2 - 1) * sigma
    else:
        raise ValueError(f"unknown noise type {noise_type!r}: expected one of {', '.join(NOISE_TYPES)}")
    if padding_mask is not None:
        noise = noise.masked_fill(padding_mask.unsqueeze(-1), 0.0)
    return noise


def add_perturbation(embeddings, delta):
    """``embeddings + delta`` computed in fp32 and cast back to the embeddings' dtype."""
    return (embeddings.float() + delta.float()).to(embeddings.dtype)
