"""Tiny XTREME-layout tasks, sentencepiece models and fine-tuned checkpoints for the robust/evaluation tests.

Everything is built once per test session (cached by directory) because fairseq runs dominate test time.
"""
import random
from pathlib import Path

import sentencepiece as spm

from weam_testing import TINY_ROBERTA, USER_DIR, run, tool, write_lines

_CACHE = {}

# A learnable toy task: the label is given by a sentiment word in sentence1 (good/fine -> 1, bad/awful -> 0);
# the rest is filler. Neighbours fixtures can then map "good" to words never seen in training.
FILLER = [f"w{i}" for i in range(20)] + ["movie", "film"]
POSITIVE, NEGATIVE = ["good", "fine"], ["bad", "awful"]


def pair_rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.randint(0, 1)
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 6))]
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
        s2 = " ".join(rng.choice(FILLER) for _ in range(rng.randint(2, 6)))
        rows.append((" ".join(words), s2, str(label)))
    return rows


def translate(rows, lang):
    """A fake 'translation': a per-language suffix on every word, so test sets stay parallel by row."""
    suffix = {"en": "", "de": "x", "fr": "y"}[lang]
    return [(" ".join(w + suffix for w in a.split()), " ".join(w + suffix for w in b.split()), y)
            for a, b, y in rows]


def write_task_dir(path, n_train=192, n_dev=64, n_test=48, langs=("en", "de", "fr")):
    path = Path(path)
    write_lines(path / "train-en.tsv", ["\t".join(r) for r in pair_rows(n_train, 1)])
    write_lines(path / "dev-en.tsv", ["\t".join(r) for r in pair_rows(n_dev, 2)])
    test = pair_rows(n_test, 3)
    for lang in langs:
        write_lines(path / f"test-{lang}.tsv", ["\t".join(r) for r in translate(test, lang)])
    return path


def train_spm(path, task_dir):
    """A tiny sentencepiece model and its fairseq dict.txt (pieces in id order, XLM-R style)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    text = []
    for tsv in sorted(Path(task_dir).glob("*.tsv")):
        for line in tsv.read_text(encoding="utf-8").splitlines():
            text.extend(line.split("\t")[:2])
    corpus = write_lines(path / "spm_train.txt", text)
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(path / "sentencepiece.bpe"),
                                   vocab_size=120, model_type="bpe", character_coverage=1.0,
                                   minloglevel=2)
    proc = spm.SentencePieceProcessor(model_file=str(path / "sentencepiece.bpe.model"))
    pieces = [proc.id_to_piece(i) for i in range(proc.get_piece_size())
              if not (proc.is_control(i) or proc.is_unknown(i))]
    write_lines(path / "dict.txt", [f"{p} 1" for p in pieces])
    return path / "sentencepiece.bpe.model", path / "dict.txt"


def tiny_prepared(base):
    """(task_dir, spm_model, dict, bin_dir) for the tiny task, built once per base dir."""
    key = ("prepared", str(base))
    if key not in _CACHE:
        base = Path(base)
        task_dir = write_task_dir(base / "task")
        model, dictionary = train_spm(base / "spm", task_dir)
        bin_dir = base / "bin"
        run([tool("weam-xtreme-prepare"), task_dir, "--destdir", bin_dir, "--spm-model", model,
             "--dict", dictionary, "--task", "pawsx"])
        _CACHE[key] = (task_dir, model, dictionary, bin_dir)
    return _CACHE[key]


def finetune_args(bin_dir, save_dir, method="none", max_update=30, extra=()):
    return [
        tool("fairseq-train"), bin_dir, "--user-dir", USER_DIR, "--task", "sentence_prediction",
        "--criterion", "robust_sentence_prediction", "--robust-method", method,
        *TINY_ROBERTA, "--num-classes", "2", "--init-token", "0", "--separator-token", "2",
        "--optimizer", "adam", "--lr", "1e-3", "--lr-scheduler", "fixed", "--batch-size", "16",
        "--max-update", str(max_update), "--dropout", "0.0", "--attention-dropout", "0.0",
        "--cpu", "--num-workers", "0", "--seed", "1", "--save-dir", save_dir, "--no-epoch-checkpoints",
        "--best-checkpoint-metric", "accuracy", "--maximize-best-checkpoint-metric",
        "--valid-subset", "valid", "--log-format", "json", "--log-interval", "1", *extra,
    ]


def tiny_finetuned(base, max_update=150):
    """A tiny RoBERTa fine-tuned (method none) on the tiny task: (prepared tuple, checkpoint path)."""
    key = ("finetuned", str(base))
    if key not in _CACHE:
        prepared = tiny_prepared(base)
        save_dir = Path(base) / "ckpt"
        run(finetune_args(prepared[3], save_dir, "none", max_update))
        _CACHE[key] = (prepared, save_dir / "checkpoint_best.pt")
    return _CACHE[key]
