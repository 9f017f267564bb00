"""Sentence retrieval under attack (Tatoeba-style top-1 accuracy, both directions), clean and attacked.

A sentence vector is the mean of its pieces' states at one layer (as ``weam-retrieval``'s sentence retrieval).
Attacks act on the query only; the candidates (every translation of the set) stay clean:

* PGD in embedding space: for each radius ε, K steps of projected gradient ascent on the query's input token
  embeddings (``robust/embedding_attack.py``, L2 ball over the sentence or L∞) that lower the cosine between the
  query's vector and its translation's; step size 2.5·ε/K (Madry et al.), zero start.
* synonym substitution: greedy word substitutions from a neighbours file (``robust/synonym_substitution.py``,
  default: the shipped English UI neighbours, ``robust/neighbours_en_ui.json``): at each step the substitution
  that lowers the cosine to the translation most, until the query retrieves a wrong sentence, nothing lowers it,
  or ``budget`` words are changed. Pieces are turned into text and back with the data's sentencepiece model.

The robustness curve is accuracy (and mean cosine to the translation) against the radius, radius 0 = clean.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from fairseq_weam.data.contrastive_batch_dataset import sentence_rows
from fairseq_weam.errors import WeamError
from fairseq_weam.robust.embedding_attack import NORMS, PGDSettings, pgd_perturbation
from fairseq_weam.robust.embedding_forward import padding_mask, token_embeddings
from fairseq_weam.robust.embedding_noise import add_perturbation
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter, load_neighbours

DEFAULT_NEIGHBOURS = Path(__file__).resolve().parents[1] / "robust" / "neighbours_en_ui.json"
WB = "\u2581"


class RetrievalAttackError(WeamError, ValueError):
    """An attack setting of ``weam-retrieval`` that cannot work (the message names the flag and the fix)."""


@dataclass
class AttackOptions:
    radii: Tuple[float, ...] = (0.25, 0.5, 1.0)
    pgd_steps: int = 5
    pgd_norm: str = "l2"
    neighbours: Optional[str] = None  # None: no synonym attack
    synonym_budget: int = 2
    synonym_limit: int = 200  # queries attacked by synonyms per direction (the greedy search is the slow part)
    spm_model: Optional[str] = None

    def __post_init__(self):
        if any(not np.isfinite(r) or r <= 0 for r in self.radii):
            raise RetrievalAttackError(f"--attack-radii {','.join(map(str, self.radii))}: every radius must be > 0 "
                                       "(radius 0, the clean accuracy, is always reported)")
        if self.pgd_steps < 1:
            raise RetrievalAttackError(f"--pgd-steps {self.pgd_steps}: use at least 1 step")
        if self.pgd_norm not in NORMS:
            raise RetrievalAttackError(f"--pgd-norm {self.pgd_norm}: choose one of {', '.join(NORMS)}")
        if self.synonym_budget < 1 or self.synonym_limit < 1:
            raise RetrievalAttackError("--synonym-budget and --synonym-limit must be >= 1")


def parse_radii(text):
    """``"0.25,0.5,1"`` -> ``(0.25, 0.5, 1.0)`` (one-line error otherwise)."""
    try:
        radii = tuple(float(r) for r in text.split(",") if r.strip())
    except ValueError:
        raise RetrievalAttackError(f"--attack-radii {text!r}: expected comma-separated numbers, e.g. 0.25,0.5,1") \
            from None
    if not radii:
        raise RetrievalAttackError(f"--attack-radii {text!r}: expected comma-separated numbers, e.g. 0.25,0.5,1")
    return radii


class PieceText:
    """Pieces <-> text through the sentencepiece model the data was made with."""

    def __init__(self, spm_model, dictionary, max_pieces):
        import sentencepiece

        if not Path(spm_model).is_file():
            raise RetrievalAttackError(
                f"{spm_model}: sentencepiece model not found; the synonym attack needs the model the data was "
                "made with (weam-prepare writes DATA/sentencepiece.bpe.model): pass --spm-model")
        self.processor = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
        self.dictionary, self.max_pieces = dictionary, max_pieces

    def text(self, pieces):
        return self.processor.decode_pieces([self.dictionary[i] for i in pieces.tolist()])

    def pieces(self, text):
        ids = [self.dictionary.index(p) for p in self.processor.encode(text, out_type=str)]
        return torch.tensor(ids[: self.max_pieces], dtype=torch.long)


def sentence_vectors(model, tokens, lengths, layer, embeddings=None):
    """B x C: the mean over the pieces (not ``<s>``, ``</s>``, padding) of ``layer``'s states of ``<s> s </s>`` rows;
    differentiable in ``embeddings`` (the input token embeddings, default the model's own)."""
    _, extra = model.encoder.extract_features(tokens, return_all_hiddens=True, token_embeddings=embeddings)
    hidden = extra["inner_states"][layer].transpose(0, 1).float()
    t = torch.arange(tokens.size(1), device=tokens.device).unsqueeze(0)
    keep = ((t >= 1) & (t <= lengths.unsqueeze(1) - 2)).unsqueeze(-1).float()
    return (hidden * keep).sum(1) / keep.sum(1).clamp_min(1.0)


def _rows(model, dictionary, sentences):
    tokens, lengths = sentence_rows(sentences, dictionary.bos(), dictionary.eos(), dictionary.pad())
    device = next(model.parameters()).device
    return tokens.to(device), lengths.to(device)


def encode_sentences(model, dictionary, sentences, layer, batch_size):
    with torch.no_grad():
        return torch.cat([sentence_vectors(model, *_rows(model, dictionary, sentences[i : i + batch_size]), layer)
                          for i in range(0, len(sentences), batch_size)])


def pgd_sentence_vectors(model, dictionary, sentences, gold, layer, batch_size, settings):
    """The vectors of ``sentences`` after PGD on their token embeddings against the cosine to ``gold`` (N x C)."""
    out = []
    for start in range(0, len(sentences), batch_size):
        tokens, lengths = _rows(model, dictionary, sentences[start : start + batch_size])
        target = F.normalize(gold[start : start + batch_size], dim=-1).detach()
        embeddings = token_embeddings(model, tokens).detach()

        def similarity(perturbed):
            return (F.normalize(sentence_vectors(model, tokens, lengths, layer, perturbed), dim=-1) * target).sum()

        delta = pgd_perturbation(lambda perturbed: -similarity(perturbed), embeddings,
                                 padding_mask(model, tokens), settings)
        with torch.no_grad():
            out.append(sentence_vectors(model, tokens, lengths, layer, add_perturbation(embeddings, delta)))
    return torch.cat(out)


def top1(queries, candidates):
    """Share of the queries whose own candidate (query i's is candidate i) is the nearest by cosine among all
    candidates."""
    similarity = F.normalize(queries, dim=-1) @ F.normalize(candidates, dim=-1).T
    return float((similarity.argmax(1) == torch.arange(len(queries), device=queries.device)).float().mean())


def own_similarity(queries, candidates):
    """Mean cosine between each query and its own candidate."""
    return float(F.cosine_similarity(queries, candidates, dim=-1).mean())


def synonym_attack(model, dictionary, text, substituter, query, index, candidates, layer, budget):
    """``(vector, words changed, attackable)`` of one query after the greedy synonym attack (module docstring)."""
    targets = F.normalize(candidates, dim=-1)
    words = text.text(query).split()
    vector = encode_sentences(model, dictionary, [query], layer, 1)[0]
    current = float(F.normalize(vector, dim=-1) @ targets[index])
    attackable = bool(substituter.candidates(words))
    used = set()
    while len(used) < budget and int((F.normalize(vector, dim=-1) @ targets.T).argmax()) == index:
        options = [(pos, r) for pos, replacements in substituter.candidates(words) if pos not in used
                   for r in replacements]
        trials = [text.pieces(" ".join(words[:pos] + [r] + words[pos + 1 :])) for pos, r in options]
        trials = [(option, pieces) for option, pieces in zip(options, trials) if len(pieces)]
        if not trials:
            break
        vectors = encode_sentences(model, dictionary, [pieces for _, pieces in trials], layer, 64)
        scores = F.normalize(vectors, dim=-1) @ targets[index]
        best = int(scores.argmin())
        if float(scores[best]) >= current:
            break
        (pos, replacement), _ = trials[best]
        words[pos] = replacement
        used.add(pos)
        vector, current = vectors[best], float(scores[best])
    return vector, len(used), attackable


def attacked_retrieval(model, dictionary, xs, ys, layer, batch_size, attack, text=None):
    """Clean and attacked sentence retrieval of the pairs ``(xs[i], ys[i])`` (piece tensors without <s>/</s>):
    the robustness curve over ``attack.radii`` and, with ``text`` and ``attack.neighbours``, the synonym attack."""
    x_vectors = encode_sentences(model, dictionary, xs, layer, batch_size)
    y_vectors = encode_sentences(model, dictionary, ys, layer, batch_size)

    def point(radius, x_queries, y_queries):
        x2y, y2x = top1(x_queries, y_vectors), top1(y_queries, x_vectors)
        return {"radius": radius, "sentence_acc_x2y": x2y, "sentence_acc_y2x": y2x, "sentence_acc": (x2y + y2x) / 2,
                "similarity": (own_similarity(x_queries, y_vectors) + own_similarity(y_queries, x_vectors)) / 2}

    curve = [point(0.0, x_vectors, y_vectors)]
    for radius in attack.radii:
        settings = PGDSettings(eps=radius, step_size=2.5 * radius / attack.pgd_steps, steps=attack.pgd_steps,
                               norm=attack.pgd_norm, random_init=False)
        curve.append(point(radius,
                           pgd_sentence_vectors(model, dictionary, xs, y_vectors, layer, batch_size, settings),
                           pgd_sentence_vectors(model, dictionary, ys, x_vectors, layer, batch_size, settings)))
    result = {"sentences": len(xs), "pgd_norm": attack.pgd_norm, "pgd_steps": attack.pgd_steps, "curve": curve}
    if text is not None and attack.neighbours:
        substituter = SynonymSubstituter(load_neighbours(attack.neighbours))
        n = min(len(xs), attack.synonym_limit)
        synonym = {"queries": n, "budget": attack.synonym_budget, "neighbours": str(attack.neighbours)}
        for direction, queries, own, other in (("x2y", xs, x_vectors, y_vectors), ("y2x", ys, y_vectors, x_vectors)):
            attacked = [synonym_attack(model, dictionary, text, substituter, queries[i], i, other, layer,
                                       attack.synonym_budget) for i in range(n)]
            vectors = torch.stack([a[0] for a in attacked])
            synonym[f"clean_acc_{direction}"] = top1(own[:n], other)
            synonym[f"attacked_acc_{direction}"] = top1(vectors, other)
            synonym[f"attackable_share_{direction}"] = float(np.mean([a[2] for a in attacked]))
            synonym[f"mean_words_changed_{direction}"] = float(np.mean([a[1] for a in attacked]))
        synonym["clean_acc"] = (synonym["clean_acc_x2y"] + synonym["clean_acc_y2x"]) / 2
        synonym["attacked_acc"] = (synonym["attacked_acc_x2y"] + synonym["attacked_acc_y2x"]) / 2
        result["synonym"] = synonym
    return result



CURVE_KEYS = ("sentence_acc", "sentence_acc_x2y", "sentence_acc_y2x", "similarity")


def average_curve(attacks):
    """The point-by-point mean of the curves of several language pairs (same radii)."""
    curves = [a["curve"] for a in attacks]
    return [dict({"radius": points[0]["radius"]}, **{k: float(np.mean([p[k] for p in points])) for k in CURVE_KEYS})
            for points in zip(*curves)]
