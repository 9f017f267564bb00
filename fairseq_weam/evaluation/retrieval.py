"""Cross-lingual retrieval with a pre-trained encoder: how well are aligned words and sentences aligned?

* word retrieval: for every aligned word of x, is the nearest word of y (cosine between word states) one of
  the words it is linked to? And symmetrically y -> x. A word's state is the mean of its pieces' states
  (or the first piece's); word links are the piece links of the data lifted to words.
* sentence retrieval: mean-pooled piece states; for every x of the held-out set, is its own y the nearest
  among all y (top-1), and vice versa; optionally also under attack (``retrieval_attack.py``: embedding-space PGD
  at several radii, synonym substitution).

Reads the same data directory as ``--task weam`` (pieces + piece-level alignments of a split), through
the same data-layer functions (``fairseq_weam.data.aligned_pair_dataset``).
"""
import logging
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from fairseq import checkpoint_utils
from fairseq.data import data_utils

from fairseq_weam.data.aligned_pair_dataset import load_aligned_pairs, load_dictionary, select_lang_pairs
from fairseq_weam.errors import WeamError
from fairseq_weam.evaluation.retrieval_attack import PieceText, attacked_retrieval, average_curve
from fairseq_weam.tasks.weam import EMBEDDING_KEY, WeamConfig, WeamTask
from fairseq_weam.robust.synonym_substitution import load_neighbours
from fairseq_weam.text.pieces import word_ids, word_start_table

logger = logging.getLogger(__name__)


@dataclass
class RetrievalOptions:
    split: str = "valid"
    lang_pairs: str = None
    max_sentences: int = 1000
    layer: int = -1  # index into [embeddings, layer 1, ..., layer L]; -1 = last layer
    word_pooling: str = "mean"  # or "first"
    batch_size: int = 32


class RetrievalError(WeamError, ValueError):
    """The checkpoint and the data do not fit together (the message names both)."""


def load_encoder(checkpoint, dictionary, data, encoder_only=False):
    """``(model, max_pieces)``: the fairseq RoBERTa/XLM-R of ``checkpoint``, built over the dictionary of ``data``;
    ``encoder_only`` drops every weight outside the encoder (the heads of a fine-tuned checkpoint)."""
    dict_path = os.path.join(data, "dict.txt")
    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint)
    if encoder_only:
        state["model"] = {k: v for k, v in state["model"].items() if k.startswith("encoder.")}
    rows = state["model"].get(EMBEDDING_KEY)
    if rows is not None and rows.shape[0] != len(dictionary):
        raise RetrievalError(
            f"vocabulary size mismatch: the checkpoint {checkpoint} has {rows.shape[0]} token embeddings, but the "
            f"data dictionary {dict_path} gives {len(dictionary)} types (with <mask>); evaluate on data binarized "
            "with the checkpoint's own dictionary"
        )
    model_cfg = state["cfg"].model
    # a task only to build the model over this dictionary: no data is loaded through it
    model = WeamTask(WeamConfig(data=data), dictionary).build_model(model_cfg)
    model.load_state_dict(state["model"], strict=True, model_cfg=model_cfg)
    model.eval()
    return model, int(getattr(model_cfg, "max_positions", 512)) - 2  # <s> pieces </s>


@torch.no_grad()
def encode(model, dictionary, sentences, layer, batch_size):
    """Per sentence, the (pieces x C) states of ``layer`` for ``<s> pieces </s>``, without <s> and </s>."""
    states = []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start : start + batch_size]
        rows = [torch.cat([torch.tensor([dictionary.bos()]), s, torch.tensor([dictionary.eos()])]) for s in chunk]
        tokens = data_utils.collate_tokens(rows, dictionary.pad()).to(next(model.parameters()).device)
        _, extra = model(tokens, features_only=True, return_all_hiddens=True)
        hidden = extra["inner_states"][layer].transpose(0, 1)  # B x T x C
        states += [hidden[i, 1 : 1 + len(s)].float() for i, s in enumerate(chunk)]
    return states


def word_states(piece_states, pieces, starts_table, pooling):
    words = torch.from_numpy(word_ids(pieces.numpy(), starts_table))
    n = int(words.max()) + 1 if len(words) else 0
    if pooling == "first":
        first = torch.full((n,), -1, dtype=torch.long)
        for i in reversed(range(len(words))):
            first[words[i]] = i
        return piece_states[first], words
    summed = piece_states.new_zeros(n, piece_states.size(1)).index_add_(0, words, piece_states)
    return summed / torch.bincount(words, minlength=n).unsqueeze(1).to(summed.dtype), words


def word_retrieval(x_words, y_words, word_links):
    """(correct, queries) of x -> y word retrieval for one sentence pair; ``word_links`` a set of (wx, wy)."""
    linked = {}
    for wx, wy in word_links:
        linked.setdefault(wx, set()).add(wy)
    if not linked:
        return 0, 0
    similarity = F.normalize(x_words, dim=-1) @ F.normalize(y_words, dim=-1).T
    nearest = similarity.argmax(dim=1).tolist()
    correct = sum(nearest[wx] in targets for wx, targets in linked.items())
    return correct, len(linked)


def sentence_retrieval(x_vectors, y_vectors):
    """Top-1 accuracy of x -> y and y -> x over the whole set (the i-th x translates the i-th y)."""
    similarity = F.normalize(x_vectors, dim=-1) @ F.normalize(y_vectors, dim=-1).T
    gold = torch.arange(len(similarity))
    return (float((similarity.argmax(1) == gold).float().mean()),
            float((similarity.argmax(0) == gold).float().mean()))


def evaluate_pair(model, dictionary, dataset, options):
    n = min(len(dataset), options.max_sentences)
    items = [dataset[i] for i in range(n)]
    starts_table = word_start_table(dictionary)
    x_states = encode(model, dictionary, [it["x"] for it in items], options.layer, options.batch_size)
    y_states = encode(model, dictionary, [it["y"] for it in items], options.layer, options.batch_size)

    counts = {"x2y": [0, 0], "y2x": [0, 0]}
    for item, hx, hy in zip(items, x_states, y_states):
        if len(item["links"]) == 0:
            continue
        wx, x_word_of = word_states(hx, item["x"], starts_table, options.word_pooling)
        wy, y_word_of = word_states(hy, item["y"], starts_table, options.word_pooling)
        links = {(int(x_word_of[i]), int(y_word_of[j])) for i, j in item["links"].tolist()}
        for direction, result in (("x2y", word_retrieval(wx, wy, links)),
                                  ("y2x", word_retrieval(wy, wx, {(b, a) for a, b in links}))):
            counts[direction][0] += result[0]
            counts[direction][1] += result[1]
    x_mean = torch.stack([h.mean(0) for h in x_states])
    y_mean = torch.stack([h.mean(0) for h in y_states])
    sent_x2y, sent_y2x = sentence_retrieval(x_mean, y_mean)
    words_x2y = counts["x2y"][0] / max(counts["x2y"][1], 1)
    words_y2x = counts["y2x"][0] / max(counts["y2x"][1], 1)
    return {
        "sentences": n,
        "aligned_words": counts["x2y"][1] + counts["y2x"][1],
        "word_acc_x2y": words_x2y,
        "word_acc_y2x": words_y2x,
        "word_acc": (words_x2y + words_y2x) / 2,
        "sentence_acc_x2y": sent_x2y,
        "sentence_acc_y2x": sent_y2x,
        "sentence_acc": (sent_x2y + sent_y2x) / 2,
    }


def evaluate_retrieval(checkpoint, data, options=None, attack=None):
    """Retrieval accuracies per language pair and their (macro) average, as a JSON-ready dict; with ``attack``
    (``AttackOptions``), also sentence retrieval under attack per pair (``attack``) and averaged (``attack_curve``)."""
    options = options or RetrievalOptions()
    data = str(data)
    pairs = select_lang_pairs(data, options.split, options.lang_pairs)
    dictionary = load_dictionary(data)
    text = None
    if attack is not None and attack.neighbours:  # checked before the checkpoint is loaded
        load_neighbours(attack.neighbours)
        text = PieceText(attack.spm_model or os.path.join(data, "sentencepiece.bpe.model"), dictionary, 0)
    model, max_pieces = load_encoder(checkpoint, dictionary, data)
    if text is not None:
        text.max_pieces = max_pieces
    results = {}
    for pair in pairs:
        dataset = load_aligned_pairs(data, options.split, pair, dictionary, max_pieces, require_alignments=True)
        results[pair] = evaluate_pair(model, dictionary, dataset, options)
        if attack is not None:
            items = [dataset[i] for i in range(results[pair]["sentences"])]
            model.requires_grad_(False)  # PGD differentiates w.r.t. the input embeddings only
            results[pair]["attack"] = attacked_retrieval(model, dictionary, [it["x"] for it in items],
                                                         [it["y"] for it in items], options.layer,
                                                         options.batch_size, attack, text)
        if results[pair]["aligned_words"] == 0:
            raise RetrievalError(
                f"{os.path.join(data, f'{options.split}.align.{pair}')}.bin/.idx: no word link among the first "
                f"{results[pair]['sentences']} pairs of {pair}; word retrieval needs aligned data (weam-prepare)"
            )
    keys = ("word_acc", "word_acc_x2y", "word_acc_y2x", "sentence_acc", "sentence_acc_x2y", "sentence_acc_y2x")
    average = {k: float(np.mean([r[k] for r in results.values()])) for k in keys}
    report = {"checkpoint": str(checkpoint), "data": str(data), "split": options.split, "layer": options.layer,
              "word_pooling": options.word_pooling, "pairs": results, "average": average}
    if attack is not None:
        report["attack_curve"] = average_curve([r["attack"] for r in results.values()])
        synonyms = [r["attack"]["synonym"] for r in results.values() if "synonym" in r["attack"]]
        if synonyms:
            report["synonym_attack"] = {k: float(np.mean([s[k] for s in synonyms]))
                                        for k in ("clean_acc", "attacked_acc")}
    return report


def summary_line(report):
    parts = [f"{pair}: word {r['word_acc']:.3f} sentence {r['sentence_acc']:.3f}" for pair, r in report["pairs"].items()]
    avg = report["average"]
    line = f"retrieval ({report['split']}, layer {report['layer']}) " + " | ".join(parts) + \
        f" | average: word {avg['word_acc']:.3f} sentence {avg['sentence_acc']:.3f}"
    if "attack_curve" in report:
        line += " | sentence under PGD: " + ", ".join(f"eps {p['radius']:g} {p['sentence_acc']:.3f}"
                                                     for p in report["attack_curve"][1:])
    if "synonym_attack" in report:
        line += f" | synonyms: {report['synonym_attack']['attacked_acc']:.3f}"
    return line
