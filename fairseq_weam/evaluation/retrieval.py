"""Cross-lingual retrieval with a pre-trained encoder: how well are aligned words and sentences aligned?

* word retrieval: for every aligned word of x, is the nearest word of y (cosine between word states) one of
  the words it is linked to? And symmetrically y -> x. A word's state is the mean of its pieces' states
  (or the first piece's); word links are the piece links of the data lifted to words.
* sentence retrieval: mean-pooled piece states; for every x of the held-out set, is its own y the nearest
  among all y (top-1), and vice versa.

Reads the same data directory as ``--task weam`` (pieces + piece-level alignments of a split).
"""
import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from fairseq import checkpoint_utils
from fairseq.data import data_utils

from fairseq_weam.text.pieces import word_ids, word_start_table
from fairseq_weam.tasks.weam import WeamConfig, WeamTask

logger = logging.getLogger(__name__)


@dataclass
class RetrievalOptions:
    split: str = "valid"
    lang_pairs: str = None
    max_sentences: int = 1000
    layer: int = -1  # index into [embeddings, layer 1, ..., layer L]; -1 = last layer
    word_pooling: str = "mean"  # or "first"
    batch_size: int = 32


def load_encoder(checkpoint, data):
    """The model of ``checkpoint`` (any fairseq RoBERTa/XLM-R) with the weam task of ``data``."""
    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint)
    max_positions = int(getattr(state["cfg"].model, "max_positions", 512))
    cfg = WeamConfig(data=str(data), seed=1, train_subset="train", finetune_from_model=None,
                     restore_file="checkpoint_last.pt", objective="tlm",
                     tokens_per_sample=2 * (max_positions - 2) + 3)  # each side up to max_positions - 2 pieces
    task = WeamTask.setup_task(cfg)
    model = task.build_model(state["cfg"].model)
    model.load_state_dict(state["model"], strict=True, model_cfg=state["cfg"].model)
    model.eval()
    return model, task


@torch.no_grad()
def encode(model, dictionary, sentences, layer, batch_size):
    """Per sentence, the (pieces x C) states of ``layer`` for ``<s> pieces </s>``, without <s> and </s>."""
    states = []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start : start + batch_size]
        rows = [torch.cat([torch.tensor([dictionary.bos()]), s, torch.tensor([dictionary.eos()])]) for s in chunk]
        tokens = data_utils.collate_tokens(rows, dictionary.pad())
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


def evaluate_pair(model, task, pair, options):
    dataset = task.load_pair(options.split, pair)
    n = min(len(dataset), options.max_sentences)
    items = [dataset[i] for i in range(n)]
    dictionary = task.dictionary
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


def evaluate_retrieval(checkpoint, data, options=None):
    """Retrieval accuracies per language pair and their (macro) average, as a JSON-ready dict."""
    options = options or RetrievalOptions()
    model, task = load_encoder(checkpoint, data)
    task.cfg.lang_pairs = options.lang_pairs
    pairs = task.lang_pairs(options.split)
    results = {pair: evaluate_pair(model, task, pair, options) for pair in pairs}
    keys = ("word_acc", "word_acc_x2y", "word_acc_y2x", "sentence_acc", "sentence_acc_x2y", "sentence_acc_y2x")
    average = {k: float(np.mean([r[k] for r in results.values()])) for k in keys}
    return {"checkpoint": str(checkpoint), "data": str(data), "split": options.split, "layer": options.layer,
            "word_pooling": options.word_pooling, "pairs": results, "average": average}


def summary_line(report):
    parts = [f"{pair}: word {r['word_acc']:.3f} sentence {r['sentence_acc']:.3f}" for pair, r in report["pairs"].items()]
    avg = report["average"]
    return f"retrieval ({report['split']}, layer {report['layer']}) " + " | ".join(parts) + \
        f" | average: word {avg['word_acc']:.3f} sentence {avg['sentence_acc']:.3f}"
