"""Tiny word-aligned parallel data for the weam tests, binarized as the data contract says.

Each language-A word ``k`` is one or two pieces (``▁a{k}`` [+ ``s{k % 4}``]); its translation is the
language-B word ``▁b{k}`` [+ ``t{k % 3}``]. Sentences of B are the words of A with neighbours swapped and
sometimes an unaligned filler word ``▁u`` inserted, so there are multi-piece links and unaligned words.
"""
import random
from pathlib import Path

from weam_testing import run, tool, write_lines

WB = "\u2581"


def word_pieces(lang, k):
    if lang == "a":
        return [f"{WB}a{k}"] + ([f"s{k % 4}"] if k % 3 == 0 else [])
    return [f"{WB}b{k}"] + ([f"t{k % 3}"] if k % 4 == 1 else [])


def make_pair(rng, n_words, min_len=3, max_len=9):
    words = [rng.randrange(n_words) for _ in range(rng.randint(min_len, max_len))]
    order = list(range(len(words)))
    for i in range(0, len(order) - 1, 3):
        order[i], order[i + 1] = order[i + 1], order[i]
    x_pieces, x_word_of = [], []
    for w, k in enumerate(words):
        for p in word_pieces("a", k):
            x_pieces.append(p)
            x_word_of.append(w)
    y_pieces, y_word_of = [], []
    for w in order:
        if rng.random() < 0.2:
            y_pieces.append(f"{WB}u")
            y_word_of.append(None)
        for p in word_pieces("b", words[w]):
            y_pieces.append(p)
            y_word_of.append(w)
    links = [f"{i}-{j}" for i, wx in enumerate(x_word_of) for j, wy in enumerate(y_word_of) if wx == wy]
    return " ".join(x_pieces), " ".join(y_pieces), " ".join(links)


def write_dictionary(path, n_words):
    symbols = [f"{WB}a{k}" for k in range(n_words)] + [f"{WB}b{k}" for k in range(n_words)]
    symbols += [f"s{i}" for i in range(4)] + [f"t{i}" for i in range(3)] + [f"{WB}u"]
    write_lines(path, [f"{s} {1000 - i}" for i, s in enumerate(symbols)])
    return path


def make_aligned_data(root, pairs=("en-de",), n_train=200, n_valid=48, n_words=30, seed=0):
    """Write raw pieces + Pharaoh links under ``root/raw`` and binarize them into ``root/data``."""
    root = Path(root)
    raw, data = root / "raw", root / "data"
    dictionary = write_dictionary(root / "dict.txt", n_words)
    for p, pair in enumerate(pairs):
        l1, l2 = pair.split("-")
        for split, n in (("train", n_train), ("valid", n_valid)):
            rng = random.Random(f"{seed}-{pair}-{split}")
            rows = [make_pair(rng, n_words) for _ in range(n - 7 * p)]  # pairs of different sizes
            write_lines(raw / f"{split}.{pair}.{l1}", [r[0] for r in rows])
            write_lines(raw / f"{split}.{pair}.{l2}", [r[1] for r in rows])
            write_lines(raw / f"{split}.{pair}.align", [r[2] for r in rows])
        run([tool("fairseq-preprocess"), "--source-lang", l1, "--target-lang", l2,
             "--trainpref", raw / f"train.{pair}", "--validpref", raw / f"valid.{pair}",
             "--align-suffix", "align", "--srcdict", dictionary, "--tgtdict", dictionary,
             "--destdir", data, "--workers", "1"])
    (data / "dict.txt").write_text(dictionary.read_text(encoding="utf-8"), encoding="utf-8")
    return data


def write_word_bitext(raw, src_words, tgt_words, n_train, n_valid, max_len, seed=0):
    """RAW/{split}.en-de.{en,de} of whole words (word k of ``src_words`` translates as word k of ``tgt_words``,
    the first two words swapped) and their word-level links RAW/{split}.en-de.align (``--aligner precomputed``)."""
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("valid", n_valid)):
        x_lines, y_lines, links = [], [], []
        for _ in range(n):
            words = [rng.randrange(len(src_words)) for _ in range(rng.randint(3, max_len))]
            order = list(range(len(words)))
            order[0], order[1] = order[1], order[0]
            x_lines.append(" ".join(src_words[k] for k in words))
            y_lines.append(" ".join(tgt_words[words[w]] for w in order))
            links.append(" ".join(f"{w}-{order.index(w)}" for w in range(len(words))))
        write_lines(Path(raw) / f"{split}.en-de.en", x_lines)
        write_lines(Path(raw) / f"{split}.en-de.de", y_lines)
        write_lines(Path(raw) / f"{split}.en-de.align", links)
