"""Word-aligned parallel data over the tiny task's own dictionary (tests of --parallel-data and of
weam-alignment-stability).

The tiny task's "translations" add a per-language suffix to every word, so word k of an English sentence
translates word k of its German row: the links are exact. Pieces come from the tiny task's sentencepiece model;
every piece of word k is linked to every piece of its translation.
"""
from pathlib import Path

import sentencepiece as spm

from weam_testing import run, tool, write_lines
from xtreme_testing import pair_rows, translate


def pieces_and_links(proc, x_words, y_words):
    """(x pieces, y pieces, Pharaoh piece links) of two sentences whose word k translates word k."""
    x_pieces, y_pieces, x_word, y_word = [], [], [], []
    for k, word in enumerate(x_words):
        for piece in proc.encode(word, out_type=str):
            x_pieces.append(piece)
            x_word.append(k)
    for k, word in enumerate(y_words):
        for piece in proc.encode(word, out_type=str):
            y_pieces.append(piece)
            y_word.append(k)
    links = [f"{i}-{j}" for i, a in enumerate(x_word) for j, b in enumerate(y_word) if a == b]
    return " ".join(x_pieces), " ".join(y_pieces), " ".join(links)


def write_parallel(root, spm_model, dictionary, target="de", n_train=64, n_valid=24, identical=False):
    """A weam data directory ``root/data`` (pair en-{target}); ``identical``: y is x itself, links i-i."""
    root = Path(root)
    proc = spm.SentencePieceProcessor(model_file=str(spm_model))
    for split, n, seed in (("train", n_train, 11), ("valid", n_valid, 12)):
        english = [row[0] for row in pair_rows(n, seed)]
        other = english if identical else [row[0] for row in translate([(s, s, "0") for s in english], target)]
        rows = [pieces_and_links(proc, x.split(), y.split()) for x, y in zip(english, other)]
        write_lines(root / "raw" / f"{split}.en-{target}.en", [r[0] for r in rows])
        write_lines(root / "raw" / f"{split}.en-{target}.{target}", [r[1] for r in rows])
        write_lines(root / "raw" / f"{split}.en-{target}.align", [r[2] for r in rows])
    data = root / "data"
    run([tool("fairseq-preprocess"), "--source-lang", "en", "--target-lang", target,
         "--trainpref", root / "raw" / f"train.en-{target}", "--validpref", root / "raw" / f"valid.en-{target}",
         "--align-suffix", "align", "--srcdict", dictionary, "--tgtdict", dictionary, "--destdir", data,
         "--workers", "1"])
    (data / "dict.txt").write_text(Path(dictionary).read_text(encoding="utf-8"), encoding="utf-8")
    return data


def raw_pairs(root, split="valid", target="de"):
    """[(x pieces, y pieces, [(i, j), ...])] read back from the raw files written by :func:`write_parallel`."""
    raw = Path(root) / "raw"
    read = lambda suffix: (raw / f"{split}.en-{target}.{suffix}").read_text(encoding="utf-8").splitlines()  # noqa: E731
    return [(x.split(), y.split(), [tuple(map(int, link.split("-"))) for link in a.split()])
            for x, y, a in zip(read("en"), read(target), read("align"))]
