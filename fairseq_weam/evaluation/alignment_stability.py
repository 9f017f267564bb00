"""Alignment stability: how the alignment of linked words survives a perturbation of the input embeddings.

For the linked word pairs of a prepared data directory's split (``weam-prepare`` output), and for each
perturbation radius r (the input token embeddings of every sentence perturbed within an L2 ball of radius r,
norm over the sentence's tokens x dimensions, or an L∞ ball):

- ``cosine``: mean cosine of the states of linked words (a word's state: the mean of its pieces' final states;
  word links: the piece links lifted to words), x and y each encoded alone;
- ``word_acc``: word retrieval: is the nearest word of the other sentence a linked word? (mean of both directions)
- ``sentence_acc``: sentence retrieval over the whole set (mean-pooled piece states; mean of both directions),
  as ``weam-retrieval`` defines both.

Two perturbations: ``noise``, a random direction of norm r per sentence (the same directions at every radius,
so that the curves are not noisier than the model; averaged over ``noise_samples`` draws), and ``pgd``, PGD
(``fairseq_weam.robust.embedding_attack``) maximizing the misalignment Σ(1 - cos) of the linked words, both
sides perturbed. ``auc`` is the area under each curve divided by the radius range (the curve's mean value).
"""
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from fairseq.data import data_utils

from fairseq_weam.data.aligned_pair_dataset import load_aligned_pairs, load_dictionary, select_lang_pairs
from fairseq_weam.errors import WeamError
from fairseq_weam.evaluation.retrieval import load_encoder, sentence_retrieval
from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.embedding_attack import NORMS, PGDSettings, pgd_perturbation
from fairseq_weam.robust.embedding_noise import add_perturbation
from fairseq_weam.text.pieces import word_ids, word_start_table

ATTACKS = ("noise", "pgd")
METRICS = ("cosine", "word_acc", "sentence_acc")


class StabilityError(WeamError, ValueError):
    """Settings or data the stability curves cannot be computed from (the message names them)."""


@dataclass
class StabilityOptions:
    split: str = "valid"
    lang_pairs: str = None
    max_sentences: int = 200
    radii: tuple = (0.0, 0.5, 1.0, 2.0, 4.0)
    norm: str = "l2"
    attacks: tuple = ATTACKS
    noise_samples: int = 3
    pgd_steps: int = 5
    pgd_step_ratio: float = 0.5  # PGD step size = ratio x radius
    batch_size: int = 32
    seed: int = 1

    def check(self):
        radii = list(self.radii)
        if not radii or any(r < 0 or not math.isfinite(r) for r in radii) or radii != sorted(set(radii)):
            raise StabilityError(f"--radii {','.join(map(str, radii))}: give increasing radii >= 0, e.g. 0,0.5,1,2")
        if self.norm not in NORMS:
            raise StabilityError(f"--norm {self.norm}: expected one of {', '.join(NORMS)}")
        unknown = [a for a in self.attacks if a not in ATTACKS]
        if unknown or not self.attacks:
            raise StabilityError(f"--attacks {','.join(self.attacks)}: expected some of {', '.join(ATTACKS)}")
        for name in ("max_sentences", "noise_samples", "batch_size"):
            if getattr(self, name) < 1:
                raise StabilityError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be >= 1")
        if self.pgd_steps < 1 or self.pgd_step_ratio <= 0:
            raise StabilityError("--pgd-steps must be >= 1 and --pgd-step-ratio > 0")


class _Chunk:
    """A batch of sentence pairs: rows ``<s> x </s>`` (0..B-1) and ``<s> y </s>`` (B..2B-1), every piece's word
    (x words first, then y words, numbered over the chunk) and the word links."""

    def __init__(self, items, dictionary, starts_table):
        B = len(items)
        rows = [torch.cat([torch.tensor([dictionary.bos()]), it[side], torch.tensor([dictionary.eos()])])
                for side in ("x", "y") for it in items]
        self.tokens = data_utils.collate_tokens(rows, dictionary.pad())
        width = self.tokens.size(1)
        positions, words, sentence_of_word, offset = [], [], [], 0
        first_word = {}
        for side, row0 in (("x", 0), ("y", B)):
            for b, it in enumerate(items):
                ids = torch.from_numpy(word_ids(it[side].numpy(), starts_table)).long()
                n = int(ids.max()) + 1 if len(ids) else 0
                first_word[side, b] = offset
                positions.append((row0 + b) * width + 1 + torch.arange(len(ids)))
                words.append(offset + ids)
                sentence_of_word += [b] * n
                offset += n
            if side == "x":
                self.x_words = offset
        self.positions, self.words = torch.cat(positions), torch.cat(words)
        self.n_words = offset
        self.counts = torch.bincount(self.words, minlength=offset).clamp_min(1).float().unsqueeze(1)
        self.sentence_of_word = torch.tensor(sentence_of_word)
        links = set()
        for b, it in enumerate(items):
            x_ids = word_ids(it["x"].numpy(), starts_table)
            y_ids = word_ids(it["y"].numpy(), starts_table)
            for i, j in it["links"].tolist():
                links.add((first_word["x", b] + int(x_ids[i]), first_word["y", b] + int(y_ids[j])))
        links = sorted(links)
        self.link_x = torch.tensor([a for a, _ in links], dtype=torch.long)
        self.link_y = torch.tensor([b for _, b in links], dtype=torch.long)
        self.lengths = self.tokens.ne(dictionary.pad()).sum(1) - 2
        self.B = B

    def to(self, device):
        for name in ("tokens", "positions", "words", "counts", "sentence_of_word", "link_x", "link_y", "lengths"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def _word_states(model, chunk, embeddings):
    states = embedding_forward.features(model, chunk.tokens, embeddings).float()
    flat = states.reshape(-1, states.size(-1)).index_select(0, chunk.positions)
    words = flat.new_zeros(chunk.n_words, flat.size(1)).index_add_(0, chunk.words, flat) / chunk.counts
    mask = (torch.arange(states.size(1), device=states.device).unsqueeze(0) <= chunk.lengths.unsqueeze(1)) & \
        (torch.arange(states.size(1), device=states.device).unsqueeze(0) >= 1)
    sentences = (states * mask.unsqueeze(-1)).sum(1) / chunk.lengths.clamp_min(1).unsqueeze(1)
    return words, sentences


def _link_cosines(words, chunk):
    return F.cosine_similarity(words.index_select(0, chunk.link_x), words.index_select(0, chunk.link_y), dim=-1)


def _word_retrieval(words, chunk):
    """[(correct, queries) x -> y, (correct, queries) y -> x]: is the nearest word of the pair's other sentence a
    linked word? (Queries: the words with a link.)"""
    x, y = F.normalize(words[: chunk.x_words], dim=-1), F.normalize(words[chunk.x_words:], dim=-1)
    sx, sy = chunk.sentence_of_word[: chunk.x_words], chunk.sentence_of_word[chunk.x_words:]
    similarity = (x @ y.T).masked_fill(sx.unsqueeze(1) != sy.unsqueeze(0), float("-inf"))
    linked = torch.zeros_like(similarity, dtype=torch.bool)
    linked[chunk.link_x, chunk.link_y - chunk.x_words] = True
    counts = []
    for sim, link in ((similarity, linked), (similarity.T, linked.T)):
        ask = link.any(1)
        hit = link.gather(1, sim.argmax(1, keepdim=True)).squeeze(1)
        counts.append((int((hit & ask).sum()), int(ask.sum())))
    return counts


def _noise_direction(shape, keep, norm, generator):
    direction = torch.randn(shape, generator=generator) * keep
    if norm == "linf":
        return direction.sign()
    return direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1)


def pair_curves(model, dictionary, items, options):
    """{attack: {metric: [value per radius]}} and the mean input-embedding norm per sentence, for one pair."""
    device = next(model.parameters()).device
    starts_table = word_start_table(dictionary)
    chunks = [_Chunk(items[s: s + options.batch_size], dictionary, starts_table).to(device)
              for s in range(0, len(items), options.batch_size)]
    if sum(len(c.link_x) for c in chunks) == 0:
        raise StabilityError("no word link among these pairs")
    radii = list(options.radii)
    draws = {"noise": options.noise_samples, "pgd": 1}
    curves = {}
    norms = []
    for attack in options.attacks:
        sums = {"cosine": np.zeros(len(radii)), "links": np.zeros(len(radii)),
                "word_correct": np.zeros((len(radii), 2)), "word_queries": np.zeros((len(radii), 2))}
        sentences = [[[] for _ in radii] for _ in range(draws[attack])]
        for c, chunk in enumerate(chunks):
            embeddings = embedding_forward.token_embeddings(model, chunk.tokens).detach()
            pad = embedding_forward.padding_mask(model, chunk.tokens)
            keep = (~pad).unsqueeze(-1).float()
            if attack == options.attacks[0]:
                norms += (embeddings.float() * keep).flatten(1).norm(dim=1).tolist()
            for d in range(draws[attack]):
                generator = torch.Generator().manual_seed(options.seed * 100003 + c * 101 + d)
                direction = _noise_direction(embeddings.shape, keep.cpu(), options.norm, generator).to(device)
                for k, radius in enumerate(radii):
                    if radius == 0:
                        delta = torch.zeros_like(direction)
                    elif attack == "noise":
                        delta = radius * direction
                    else:
                        settings = PGDSettings(eps=radius, step_size=options.pgd_step_ratio * radius,
                                               steps=options.pgd_steps, norm=options.norm, random_init=False)
                        delta = pgd_perturbation(
                            lambda e: (1 - _link_cosines(_word_states(model, chunk, e)[0], chunk)).sum(),
                            embeddings, pad, settings)
                    with torch.no_grad():
                        words, sent = _word_states(model, chunk, add_perturbation(embeddings, delta))
                        sums["cosine"][k] += float(_link_cosines(words, chunk).sum())
                        sums["links"][k] += len(chunk.link_x)
                        for side, (correct, queries) in enumerate(_word_retrieval(words, chunk)):
                            sums["word_correct"][k, side] += correct
                            sums["word_queries"][k, side] += queries
                    sentences[d][k].append(sent)
        sentence_acc = []
        for k in range(len(radii)):
            accs = [np.mean(_set_retrieval(sentences[d][k], chunks)) for d in range(draws[attack])]
            sentence_acc.append(float(np.mean(accs)))
        word_acc = (sums["word_correct"] / np.maximum(sums["word_queries"], 1)).mean(axis=1)  # both directions
        curves[attack] = {"cosine": (sums["cosine"] / sums["links"]).tolist(),
                          "word_acc": word_acc.tolist(),
                          "sentence_acc": sentence_acc}
    return curves, float(np.mean(norms))


def _set_retrieval(parts, chunks):
    """Both directions' sentence retrieval over the whole set from per-chunk (x rows, then y rows) vectors."""
    xs = torch.cat([p[: c.B] for p, c in zip(parts, chunks)]).cpu()
    ys = torch.cat([p[c.B:] for p, c in zip(parts, chunks)]).cpu()
    return sentence_retrieval(xs, ys)


def area_under_curve(radii, values):
    """Trapezoid area under ``values`` over ``radii`` divided by the radius range (the value at 0 if one radius)."""
    radii, values = np.asarray(radii, dtype=float), np.asarray(values, dtype=float)
    if len(radii) < 2 or radii[-1] == radii[0]:
        return float(values[0])
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(radii)) / (radii[-1] - radii[0]))


def evaluate_stability(checkpoint, data, options=None):
    """The stability curves of one checkpoint on ``data``, per language pair and averaged, with their AUCs."""
    options = options or StabilityOptions()
    options.check()
    data = str(data)
    pairs = select_lang_pairs(data, options.split, options.lang_pairs)
    dictionary = load_dictionary(data)
    model, max_pieces = load_encoder(checkpoint, dictionary, data, encoder_only=True)
    for p in model.parameters():
        p.requires_grad_(False)
    results, norms = {}, []
    for pair in pairs:
        dataset = load_aligned_pairs(data, options.split, pair, dictionary, max_pieces, require_alignments=True)
        items = [dataset[i] for i in range(min(len(dataset), options.max_sentences))]
        items = [it for it in items if len(it["x"]) and len(it["y"])]
        if not items:
            raise StabilityError(f"{data}: no sentence pair in {options.split} of {pair}")
        try:
            results[pair], norm = pair_curves(model, dictionary, items, options)
        except StabilityError as err:
            raise StabilityError(f"{data}/{options.split}.align.{pair}: {err}; the stability curves need aligned "
                                 "data (weam-prepare)") from None
        norms.append(norm)
    average = {a: {m: np.mean([r[a][m] for r in results.values()], axis=0).tolist() for m in METRICS}
               for a in options.attacks}
    auc = {a: {m: area_under_curve(options.radii, average[a][m]) for m in METRICS} for a in options.attacks}
    return {"checkpoint": str(checkpoint), "data": data, "split": options.split, "norm": options.norm,
            "radii": list(options.radii), "noise_samples": options.noise_samples, "pgd_steps": options.pgd_steps,
            "pgd_step_ratio": options.pgd_step_ratio, "sentences": options.max_sentences,
            "embedding_norm": float(np.mean(norms)), "pairs": results, "average": average, "auc": auc}


def summarize(runs):
    """Per label (runs of one label: seeds), mean and std of every curve point and AUC."""
    summary = {}
    for label in dict.fromkeys(r["label"] for r in runs):
        group = [r["report"] for r in runs if r["label"] == label]
        attacks = group[0]["average"].keys()
        summary[label] = {
            "runs": len(group),
            "curves": {a: {m: {"mean": np.mean([g["average"][a][m] for g in group], axis=0).tolist(),
                               "std": np.std([g["average"][a][m] for g in group], axis=0).tolist()}
                           for m in METRICS} for a in attacks},
            "auc": {a: {m: [float(np.mean([g["auc"][a][m] for g in group])),
                            float(np.std([g["auc"][a][m] for g in group]))] for m in METRICS} for a in attacks},
        }
    return summary


def markdown(summary, radii):
    lines = [f"Alignment stability (radii {', '.join(f'{r:g}' for r in radii)}; AUC = mean of the curve over the "
             "radius range; mean ± std over runs)", "",
             "| checkpoint | runs | " + " | ".join(f"{a} {m} AUC" for a in ATTACKS for m in METRICS) + " |",
             "|---|---|" + "---|" * (len(ATTACKS) * len(METRICS))]
    for label, s in summary.items():
        cells = [f"{s['auc'][a][m][0]:.3f} ± {s['auc'][a][m][1]:.3f}" if a in s["auc"] else "–"
                 for a in ATTACKS for m in METRICS]
        lines.append(f"| {label} | {s['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
