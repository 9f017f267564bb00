"""Robustness under attack: greedy synonym substitution in text space and PGD in embedding space.

Synonym attack (in the spirit of Alzantot et al. 2018 / Jia et al. 2019, greedy rather than genetic): at
each step, try every single-word substitution from the neighbours file on either sentence of the pair,
(the only sentence of a single-sentence task), keep the one that lowers the probability of the true label most, and stop when the prediction flips,
nothing lowers it any more, or ``budget`` words are changed. An example counts as robust if it is still
classified correctly after the attack (so clean errors count as attacked errors).
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F

from fairseq_weam.evaluation.classifier import percent
from fairseq_weam.xtreme.io import PairExample
from fairseq_weam.robust.embedding_attack import PGDSettings, pgd_perturbation
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter


def _candidates(substituter, words: Sequence[List[str]], used):
    """[(side, position, replacement)] for the positions not changed yet."""
    out = []
    for side in (0, 1):
        if words[side] is None:
            continue
        for pos, replacements in substituter.candidates(words[side]):
            if (side, pos) not in used:
                out.extend((side, pos, r) for r in replacements)
    return out


def _apply(words, side, pos, replacement):
    new = [None if w is None else list(w) for w in words]
    new[side][pos] = replacement
    return new


def _example(words, label):
    return PairExample(*(None if w is None else " ".join(w) for w in words), label)


def _words(example):
    return [example.sentence1.split(), None if example.sentence2 is None else example.sentence2.split()]


def synonym_attack(classifier, example: PairExample, substituter: SynonymSubstituter, budget=2):
    """(attacked example, words changed, still correct) for one example."""
    true = classifier.label_index[example.label]
    words = _words(example)
    probs = classifier.probabilities([example])[0]
    current = probs[true].item()
    used = set()
    while len(used) < budget and probs.argmax().item() == true:
        options = _candidates(substituter, words, used)
        if not options:
            break
        trials = [_example(_apply(words, *option), example.label) for option in options]
        trial_probs = classifier.probabilities(trials)
        best = int(trial_probs[:, true].argmin())
        if trial_probs[best, true].item() >= current:
            break
        side, pos, replacement = options[best]
        words = _apply(words, side, pos, replacement)
        used.add((side, pos))
        probs, current = trial_probs[best], trial_probs[best, true].item()
    return _example(words, example.label), len(used), probs.argmax().item() == true


def synonym_attack_accuracy(classifier, examples, substituter, budget=2) -> dict:
    results = [synonym_attack(classifier, ex, substituter, budget) for ex in examples]
    correct = sum(ok for _, _, ok in results)
    changed = [n for _, n, _ in results]
    return {"accuracy": 100.0 * correct / len(examples) if examples else float("nan"),
            "mean_words_changed": sum(changed) / len(changed) if changed else 0.0,
            "attackable_share": 100.0 * sum(bool(_candidates(substituter, _words(e), set())) for e in examples)
            / max(len(examples), 1)}


def pgd_attack_accuracy(classifier, examples, settings: PGDSettings, seed=1) -> float:
    """Accuracy (percent) with the token embeddings under a PGD attack of radius ``settings.eps``."""
    generator = torch.Generator(device=classifier.device).manual_seed(seed)

    def perturb(src_tokens, embeddings, padding_mask, labels):
        def loss_of(e):
            return F.cross_entropy(classifier.logits(src_tokens, e), labels, reduction="sum")

        with torch.enable_grad():
            return pgd_perturbation(loss_of, embeddings, padding_mask, settings, generator)

    return percent(classifier.predict(examples, perturb), classifier.label_ids(examples))
