"""Smoothed prediction: majority vote over N copies of the input with Gaussian noise on the token embeddings
(randomized smoothing, Cohen et al. 2019, applied in embedding space as in Robust-XLT's RS-RP)."""
import torch

from fairseq_weam.evaluation.classifier import percent
from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.embedding_noise import add_perturbation, sample_embedding_noise


def smoothed_predictions(classifier, examples, copies=16, sigma=0.1, seed=1) -> torch.Tensor:
    """Majority-vote labels (ties go to the lowest label id); deterministic for ``seed``."""
    if copies < 1:
        raise ValueError(f"--smooth-copies must be >= 1, got {copies}")
    generator = torch.Generator(device=classifier.device).manual_seed(seed)
    out = []
    with torch.no_grad():
        for _, src, _ in classifier.batches(examples):
            emb = embedding_forward.token_embeddings(classifier.model, src)
            pad = embedding_forward.padding_mask(classifier.model, src)
            votes = torch.zeros(src.size(0), len(classifier.labels), dtype=torch.long, device=src.device)
            for _ in range(copies):
                noise = sample_embedding_noise(emb, pad, "gaussian", sigma, generator)
                pred = classifier.logits(src, add_perturbation(emb, noise)).argmax(-1)
                votes[torch.arange(src.size(0), device=src.device), pred] += 1
            out.append(votes.argmax(-1).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def smoothed_accuracy(classifier, examples, copies=16, sigma=0.1, seed=1) -> float:
    return percent(smoothed_predictions(classifier, examples, copies, sigma, seed), classifier.label_ids(examples))
