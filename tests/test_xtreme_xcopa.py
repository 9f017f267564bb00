"""XCOPA end to end: XTREME-layout JSON lines -> prepare() -> fairseq-train --task sentence_ranking ->
evaluate() -> predictions/xcopa/test-<lang>.jsonl, checked against fairseq's own criterion and the fixture."""
import json
import random
from pathlib import Path

import pytest

from weam_testing import TINY_ROBERTA, USER_DIR, run, tool, write_lines
from xtreme_testing import train_spm

from fairseq_weam.xtreme.io import XtremeDataError
from fairseq_weam.xtreme.requests import EvaluateRequest, PrepareRequest
from fairseq_weam.xtreme import xcopa

# Toy rule: the right choice repeats the premise's mood word (sunny/rainy) for an effect, its reason word for
# a cause. A per-language word map 'translates' the rows (zh in Chinese characters), parallel by row.
WORDS = ["sunny", "rainy", "happy", "sad", "walk", "stay", "home", "park", "the", "man", "went", "was"]
ZH = dict(zip(WORDS, "晴 雨 乐 悲 走 留 家 园 这 人 去 是".split()))


def rows(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        mood = rng.choice(["sunny", "rainy"])
        question = rng.choice(["cause", "effect"])
        right = f"the man was {'happy' if mood == 'sunny' else 'sad'}"
        wrong = f"the man was {'sad' if mood == 'sunny' else 'happy'}"
        label = rng.randint(0, 1)
        choices = [wrong, right] if label else [right, wrong]
        out.append({"premise": f"it was {mood} {rng.choice(['walk', 'stay', 'home', 'park'])}",
                    "choice1": choices[0], "choice2": choices[1], "question": question, "label": label, "idx": i})
    return out


def translate(row, lang):
    def words(text):
        if lang == "zh":
            return "".join(ZH.get(w, w) for w in text.split())
        return " ".join(w + "e" for w in text.split())  # 'et'
    return {**row, **{k: words(row[k]) for k in ("premise", "choice1", "choice2")}}


def write_jsonl(path, items):
    return write_lines(path, [json.dumps(r, ensure_ascii=False) for r in items])


def write_task_dir(path):
    path = Path(path)
    write_jsonl(path / "train-en.jsonl", rows(96, 1))
    write_jsonl(path / "val-en.jsonl", rows(24, 2))
    test = rows(20, 3)
    for lang in ("et", "zh"):
        write_jsonl(path / f"val-{lang}.jsonl", [translate(r, lang) for r in rows(8, 4)])
        write_jsonl(path / f"test-{lang}.jsonl", [translate(r, lang) for r in test])
    return path


def spm_for(base, task_dir):
    """train_spm reads *.tsv: give it the fixture's texts in that form."""
    texts = Path(base) / "spm_text"
    lines = []
    for f in sorted(Path(task_dir).glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            lines += [f"{r['premise']} What was the {r['question']}?\t{r['choice1']}", f"{r['choice2']}\tx"]
    write_lines(texts / "text.tsv", lines)
    return train_spm(Path(base) / "spm", texts)


@pytest.mark.slow
def test_xcopa_prepare_train_evaluate(workdir):
    task_dir = write_task_dir(workdir / "xcopa")
    model, dictionary = spm_for(workdir, task_dir)
    dest = workdir / "bin"
    report = xcopa.prepare(PrepareRequest(task="xcopa", task_dir=str(task_dir), dest=str(dest),
                                          spm_model=str(model), dictionary=str(dictionary), max_len=64),
                           progress=lambda msg: None)
    assert report["subsets"]["test.zh"]["examples"] == 20
    for column in ("input0", "input1", "input2"):
        assert (dest / column / "dict.txt").is_file() and (dest / column / "test.zh.bin").is_file()
    assert (dest / "label" / "train.label").read_text().split() == [str(r["label"]) for r in rows(96, 1)]

    save = workdir / "ckpt"
    run([tool("fairseq-train"), dest, "--user-dir", USER_DIR, "--task", "sentence_ranking",
         "--criterion", "sentence_ranking", *TINY_ROBERTA, "--num-classes", "2", "--init-token", "0",
         "--separator-token", "2", "--optimizer", "adam", "--lr", "1e-3", "--lr-scheduler", "fixed",
         "--batch-size", "16", "--max-update", "40", "--dropout", "0.0", "--attention-dropout", "0.0",
         "--cpu", "--num-workers", "0", "--seed", "1", "--save-dir", save, "--no-epoch-checkpoints",
         "--valid-subset", "valid", "--log-format", "json", "--log-interval", "10"])
    checkpoint = save / "checkpoint_last.pt"

    from fairseq_weam.evaluation import multiple_choice
    out = workdir / "eval"
    results = multiple_choice.evaluate(EvaluateRequest(
        task="xcopa", checkpoint=str(checkpoint), task_dir=str(task_dir), spm_model=str(model),
        dictionary=str(dictionary), out_dir=str(out), max_len=64), progress=lambda msg: None)
    assert results["languages"] == ["et", "zh"]
    for lang in ("et", "zh"):
        written = [json.loads(line)["label"] for line in
                   (out / "predictions" / "xcopa" / f"test-{lang}.jsonl").read_text().splitlines()]
        gold = [json.loads(line)["label"] for line in (task_dir / f"test-{lang}.jsonl").read_text().splitlines()]
        assert len(written) == 20
        assert results["scores"][lang]["accuracy"] == pytest.approx(
            100.0 * sum(p == g for p, g in zip(written, gold)) / len(gold))
        assert [json.loads(x)["label"] for x in
                (out / "labels" / "xcopa" / f"test-{lang}.jsonl").read_text().splitlines()] == gold

        # fairseq's own criterion on the binarized subset predicts the same choices (same inputs as training)
        saved = workdir / f"fairseq-{lang}.tsv"
        run([tool("fairseq-validate"), dest, "--user-dir", USER_DIR, "--task", "sentence_ranking",
             "--criterion", "sentence_ranking", "--num-classes", "2", "--init-token", "0",
             "--separator-token", "2", "--path", checkpoint, "--valid-subset", f"test.{lang}", "--cpu",
             "--num-workers", "0", "--batch-size", "32", "--required-batch-size-multiple", "1",
             "--save-predictions", saved])
        by_id = {int(f[0]): int(f[1]) for f in (line.split("\t") for line in saved.read_text().splitlines())}
        assert [by_id[i] for i in range(20)] == written
    assert results["avg_metric"] == pytest.approx(
        (results["scores"]["et"]["accuracy"] + results["scores"]["zh"]["accuracy"]) / 2)


@pytest.mark.parametrize("line, message", [
    ('{"premise": "a", "choice1": "b", "choice2": "c", "question": "cause", "label": 2}', "unknown label 2"),
    ('{"premise": "a", "choice1": "b", "choice2": "c", "question": "why", "label": 0}', "unknown question"),
    ('{"premise": "a", "choice1": "b", "question": "cause", "label": 0}', "missing choice2"),
    ('{"premise": "a", ', "not a JSON object"),
])
def test_malformed_xcopa_line_names_file_and_line(workdir, line, message):
    good = json.dumps(rows(1, 0)[0])
    path = write_lines(workdir / "test-zh.jsonl", [good, line])
    with pytest.raises(XtremeDataError, match=rf"test-zh.jsonl:2: {message}"):
        xcopa.read_xcopa(path)
