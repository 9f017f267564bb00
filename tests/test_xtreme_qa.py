"""Extractive QA end to end: SQuAD-format fixtures in XTREME's layout (XQuAD, MLQA with G-XLT files),
windowing with doc stride, fairseq-train --task xtreme_qa (plain and robust), n-best decoding, predictions in
the submission layout and their EM/F1 recomputed here independently."""
import collections
import os
import json
import random
import re
import string
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from fairseq.data import Dictionary, data_utils

from weam_testing import BIN, REPO, TINY_ROBERTA, USER_DIR, run, tool, write_lines
from xtreme_testing import train_spm

from fairseq_weam.xtreme import qa
from fairseq_weam.evaluation.qa import evaluate
from fairseq_weam.xtreme.requests import EvaluateRequest, PrepareRequest

MAX_LEN, STRIDE, MAX_QUERY = 64, 16, 16
NAMES = ["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango"]
FILLER = ["river", "city", "old", "house", "green", "tall", "music", "paper", "window", "road", "stone", "light"]
# A fake translation per word: German-looking (Latin) and Russian (Cyrillic) words, so tests are parallel.
RU = {"river": "река", "city": "город", "old": "старый", "house": "дом", "green": "зелёный", "tall": "высокий",
      "music": "музыка", "paper": "бумага", "window": "окно", "road": "дорога", "stone": "камень", "light": "свет",
      "the": "этот", "key": "ключ", "is": "есть", "what": "что", "?": "?", ".": ".",
      "alpha": "альфа", "bravo": "браво", "delta": "дельта", "echo": "эхо", "kilo": "кило", "lima": "лима",
      "oscar": "оскар", "tango": "танго"}
HI = {"river": "नदी", "city": "शहर", "old": "पुराना", "house": "घर", "green": "हरा", "tall": "लंबा",
      "music": "संगीत", "paper": "कागज", "window": "खिड़की", "road": "सड़क", "stone": "पत्थर", "light": "रोशनी",
      "the": "यह", "key": "कुंजी", "is": "है", "what": "क्या", "?": "?", ".": ".",
      "alpha": "अल्फा", "bravo": "ब्रावो", "delta": "डेल्टा", "echo": "इको", "kilo": "किलो", "lima": "लीमा",
      "oscar": "ऑस्कर", "tango": "टैंगो"}
LANGS = ("en", "de", "ru")         # XQuAD fixture
MLQA_LANGS = ("en", "de", "hi")    # MLQA fixture (MLQA's normalization knows no Russian)


def translate(text, lang):
    words = text.split(" ")
    if lang == "de":
        return " ".join(w if w in "?." else w + "en" for w in words)
    if lang in ("ru", "hi"):
        return " ".join({"ru": RU, "hi": HI}[lang][w] for w in words)
    return text


def make_example(rng, qid, n_before, n_after, lang="en", qlang=None):
    """A context with 'the key is NAME .' among filler words; the question asks for the key."""
    name = rng.choice(NAMES)
    before = " ".join(rng.choice(FILLER) for _ in range(n_before))
    after = " ".join(rng.choice(FILLER) for _ in range(n_after))
    parts = [p for p in (before, "the key is", name, ".", after) if p]
    context = translate(" ".join(parts), lang)
    prefix = translate(" ".join(p for p in (before, "the key is") if p), lang) + " "
    answer = translate(name, lang)
    assert context[len(prefix):len(prefix) + len(answer)] == answer
    question = translate("what is the key ?", qlang or lang)
    return {"context": context, "qas": [{"id": qid, "question": question,
                                         "answers": [{"answer_start": len(prefix), "text": answer}]}]}


def squad_file(path, paragraphs):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]},
                               ensure_ascii=False), encoding="utf-8")
    return path


def eval_paragraphs(lang, qlang=None, n=10):
    """The same questions in every language (seeded); one long context whose answer lies past the first
    window."""
    rng = random.Random(7)
    out = [make_example(rng, f"q{i}", rng.randint(0, 8), rng.randint(0, 8), lang, qlang) for i in range(n)]
    out.append(make_example(random.Random(8), "long", 70, 3, lang, qlang))
    return out


def build_fixture(base):
    """download/{squad,xquad,mlqa} as XTREME's download_data.sh lays them out; a tiny sentencepiece model."""
    download = Path(base) / "download"
    rng = random.Random(1)
    train = [make_example(rng, f"t{i}", rng.randint(0, 12), rng.randint(0, 12)) for i in range(120)]
    train.append(make_example(rng, "t-long", 60, 2))
    broken = make_example(rng, "t-broken", 3, 3)
    broken["qas"][0]["answers"][0]["answer_start"] += 1  # text no longer matches its span
    train.append(broken)
    squad_file(download / "squad" / "train-v1.1.json", train)
    squad_file(download / "squad" / "dev-v1.1.json",
               [make_example(rng, f"d{i}", rng.randint(0, 12), rng.randint(0, 12)) for i in range(16)])
    for lang in LANGS:
        squad_file(download / "xquad" / f"xquad.{lang}.json", eval_paragraphs(lang))
    for lang in MLQA_LANGS:
        for qlang in MLQA_LANGS:
            squad_file(download / "mlqa" / "MLQA_V1" / "test" / f"test-context-{lang}-question-{qlang}.json",
                       eval_paragraphs(lang, qlang))
    text = []
    for path in download.rglob("*.json"):
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            for p in article["paragraphs"]:
                text.append(f"{p['context']}\t{p['qas'][0]['question']}")
    write_lines(Path(base) / "spm_text" / "text.tsv", text)
    model, dictionary = train_spm(Path(base) / "spm", Path(base) / "spm_text")
    return download, model, dictionary


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return build_fixture(tmp_path_factory.mktemp("qa"))


@pytest.fixture(scope="module")
def prepared(fixture, tmp_path_factory):
    download, model, dictionary = fixture
    dest = tmp_path_factory.mktemp("qa_bin") / "bin"
    messages = []
    report = qa.prepare(PrepareRequest(task="xquad", task_dir=str(download / "xquad"), dest=str(dest),
                                       spm_model=str(model), dictionary=str(dictionary), max_len=MAX_LEN,
                                       doc_stride=STRIDE, max_query_len=MAX_QUERY), messages.append)
    return dest, report, messages


def train_args(bin_dir, save_dir, max_update, method="none", extra=()):
    return [tool("fairseq-train"), bin_dir, "--user-dir", USER_DIR, "--task", "xtreme_qa",
            "--criterion", "xtreme_qa", "--robust-method", method, *TINY_ROBERTA,
            "--optimizer", "adam", "--lr", "3e-3", "--lr-scheduler", "fixed", "--batch-size", "16",
            "--max-update", str(max_update), "--dropout", "0.0", "--attention-dropout", "0.0",
            "--cpu", "--num-workers", "0", "--seed", "1", "--save-dir", save_dir, "--no-epoch-checkpoints",
            "--valid-subset", "valid", "--log-format", "json", "--log-interval", "1", *extra]


def train_losses(stdout):
    return [float(json.loads(line[line.index("{"):])["loss"]) for line in stdout.splitlines()
            if "train_inner" in line and "{" in line]


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    save = tmp_path_factory.mktemp("qa_ckpt")
    proc = run(train_args(prepared[0], save, 150, extra=["--max-epoch", "100"]))
    return save / "checkpoint_last.pt", proc.stdout + proc.stderr


def read_pieces_dataset(bin_dir, subset):
    dictionary = Dictionary.load(str(bin_dir / "input0" / "dict.txt"))
    dataset = data_utils.load_indexed_dataset(str(bin_dir / "input0" / subset), dictionary)
    return dictionary, dataset


# ----------------------------------------------------------------------------------------------- prepare

def test_prepare_windows_targets_and_mismatch_report(prepared):
    dest, report, messages = prepared
    assert set(report["subsets"]) == {"train", "valid", "test.en", "test.de", "test.ru"}
    # the broken answer is counted, named, and its question left out of training
    [(path, mismatch)] = report["mismatched_answers"].items()
    assert path.endswith("train-v1.1.json") and mismatch["answers"] == 1 and mismatch["ids"] == ["t-broken"]
    assert any("t-broken" in m and "does not match" in m for m in messages)
    assert report["subsets"]["train"]["questions_without_usable_answer"] == 1
    assert report["subsets"]["train"]["examples"] == 121
    saved = json.loads((dest / "prepare_report.json").read_text())
    assert saved["mismatched_answers"] == report["mismatched_answers"]

    dictionary, dataset = read_pieces_dataset(dest, "train")
    positions = np.load(dest / "train.positions.npy")
    windows = [json.loads(line) for line in (dest / "train.windows.jsonl").read_text().splitlines()]
    assert len(dataset) == len(positions) == len(windows) == report["subsets"]["train"]["windows"]
    by_id = collections.defaultdict(list)
    for k, w in enumerate(windows):
        by_id[w["id"]].append(k)
    assert len(by_id["t-long"]) >= 3  # 60+ pieces of context in windows of < 64 tokens, stride 16
    firsts = [windows[k]["first_piece"] for k in by_id["t-long"]]
    assert firsts == [STRIDE * i for i in range(len(firsts))]
    last = windows[by_id["t-long"][-1]]
    assert last["ends"][-1] == len(next(p for p in json.loads(
        (Path(report["files"]["train"])).read_text())["data"][0]["paragraphs"]
        if p["qas"][0]["id"] == "t-long")["context"])   # the last window reaches the end of the context
    answered = 0
    for k, w in enumerate(windows):
        tokens = dataset[k].tolist()
        assert len(tokens) <= MAX_LEN
        assert tokens[0] == dictionary.bos() and tokens[-1] == dictionary.eos()
        start, end = positions[k]
        if (start, end) == (0, 0):
            continue
        answered += 1
        # the target tokens spell the answer: a name, surrounded by 'is' and '.'
        text = "".join(dictionary[t] for t in tokens[start:end + 1]).replace("\u2581", " ").strip()
        assert text in NAMES, (w["id"], text)
        assert tokens[start - 1] != dictionary.bos()
    # every usable training question has exactly one window with the answer, except overlaps of t-long
    assert answered >= 121
    long_answers = [k for k in by_id["t-long"] if tuple(positions[k]) != (0, 0)]
    assert long_answers and long_answers[0] != by_id["t-long"][0]  # the answer is past the first window


def test_answer_piece_mapping_independent(fixture):
    download, model, _ = fixture
    encoder = qa.QAEncoder(model, MAX_LEN, STRIDE, MAX_QUERY)
    for lang in LANGS:
        examples, _ = qa.read_squad(download / "xquad" / f"xquad.{lang}.json")
        for ex in examples:
            pieces, begins, ends = encoder.context(ex.context)
            # concatenating pieces gives the context with single spaces (the fixture has no double spaces)
            assert "".join(pieces).replace("\u2581", " ").strip() == ex.context
            first, last = qa.answer_pieces(begins, ends, ex.answers[0])
            assert ex.context[begins[first]:ends[last]] == ex.answers[0][1]


def test_decode_picks_the_long_answer_from_its_window(fixture):
    """Synthetic logits: the answer's pieces score high in the window where they have most context; a
    decoy in the first window scores lower; decoding returns the answer's exact characters."""
    download, model, _ = fixture
    encoder = qa.QAEncoder(model, MAX_LEN, STRIDE, MAX_QUERY)
    examples, _ = qa.read_squad(download / "xquad" / "xquad.ru.json")
    ex = next(e for e in examples if e.qid == "long")
    windows = encoder.windows(ex)
    assert len(windows) >= 3
    pieces, begins, ends = encoder.context(ex.context)
    first, last = qa.answer_pieces(begins, ends, ex.answers[0])
    logits = []
    for w in windows:
        scores = np.zeros((len(w.context) + w.context_offset + 1, 2), dtype=np.float32)
        if w.first_piece <= first and last < w.first_piece + len(w.context):
            scores[w.context_offset + first - w.first_piece, 0] = 5.0
            scores[w.context_offset + last - w.first_piece, 1] = 5.0
        scores[w.context_offset + 1, 0] = scores[w.context_offset + 2, 1] = 4.0  # decoy
        scores[0] = 9.0  # <s> is never an answer
        logits.append(scores)
    assert first >= len(windows[0].context)  # not in the first window at all
    assert qa.decode(ex, windows, logits) == ex.answers[0][1]


# ----------------------------------------------------------------------------------------------- errors

def test_errors_name_file_and_question(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(qa.QADataError, match="bad.json: not JSON"):
        qa.read_squad(bad)
    dup = squad_file(tmp_path / "dup.json", [make_example(random.Random(1), "x1", 1, 1)] * 2)
    with pytest.raises(qa.QADataError, match=r"dup.json: question x1: the id occurs twice"):
        qa.read_squad(dup)
    no_text = tmp_path / "no_text.json"
    no_text.write_text(json.dumps({"data": [{"paragraphs": [{"context": "c", "qas": [
        {"id": "q7", "question": "?", "answers": [{"answer_start": 0}]}]}]}]}), encoding="utf-8")
    with pytest.raises(qa.QADataError, match=r"no_text.json: question q7: missing 'text'"):
        qa.read_squad(no_text)
    (tmp_path / "xquad").mkdir()
    squad_file(tmp_path / "xquad" / "xquad.en.json", [])
    with pytest.raises(qa.QADataError, match=r"xquad.de.json: no such file \(test language de of xquad\)"):
        qa.test_files("xquad", tmp_path / "xquad", ["en", "de"])
    with pytest.raises(qa.QADataError, match="train-v1.1.json"):
        qa.train_dev_files("xquad", tmp_path / "xquad")


# ----------------------------------------------------------------------------------------------- training

@pytest.mark.slow
def test_train_loss_falls_and_checkpoint_keeps_the_span_head(trained, prepared):
    checkpoint, log = trained
    losses = train_losses(log)
    assert len(losses) >= 100
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < 0.5 * first, (first, last)
    import torch
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert state["model"]["classification_heads.span_head.out_proj.weight"].shape[0] == 2
    assert state["model"]["classification_heads.span_head.dense.weight"].shape[1] == 32
    # validation reports span accuracy on English dev windows
    valid = [json.loads(line[line.index("{"):]) for line in log.splitlines() if '"valid_loss"' in line]
    assert valid and "valid_span_accuracy" in valid[-1]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["adversarial", "noise"])
def test_robust_methods_train(prepared, tmp_path, method):
    proc = run(train_args(prepared[0], tmp_path, 12, method, ["--disable-validation", "--no-save"]))
    rows = [json.loads(line[line.index("{"):]) for line in proc.stdout.splitlines() if "train_inner" in line]
    key = {"adversarial": "adv_loss", "noise": "noise_loss"}[method]
    assert len(rows) == 12 and all(key in r for r in rows)
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])


# ----------------------------------------------------------------------------------------------- evaluation

def hand_normalize(text, mlqa_lang=None):
    """SQuAD v1.1's normalization, or MLQA's for en/de/hi (Unicode punctuation; German articles)."""
    text = text.lower()
    if mlqa_lang is None:
        text = "".join(ch for ch in text if ch not in string.punctuation)
    else:
        text = "".join(ch for ch in text if ch not in string.punctuation
                       and not unicodedata.category(ch).startswith("P"))
    articles = {None: r"\b(a|an|the)\b", "en": r"\b(a|an|the)\b", "hi": None,
                "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"}[mlqa_lang]
    if articles:
        text = re.sub(articles, " ", text)
    return " ".join(text.split())


def hand_scores(gold_path, predictions, mlqa_lang=None):
    """(EM, F1) in percent over the gold file's questions, computed here from the written predictions."""
    exact = f1 = 0.0
    questions = [qa_ for p in json.loads(Path(gold_path).read_text(encoding="utf-8"))["data"][0]["paragraphs"]
                 for qa_ in p["qas"]]
    for question in questions:
        prediction = hand_normalize(predictions[question["id"]], mlqa_lang).split()
        best_em = best_f1 = 0.0
        for answer in question["answers"]:
            truth = hand_normalize(answer["text"], mlqa_lang).split()
            best_em = max(best_em, float(prediction == truth))
            common = sum((collections.Counter(prediction) & collections.Counter(truth)).values())
            if common:
                p, r = common / len(prediction), common / len(truth)
                best_f1 = max(best_f1, 2 * p * r / (p + r))
        exact += best_em
        f1 += best_f1
    return 100.0 * exact / len(questions), 100.0 * f1 / len(questions)


def contexts(path):
    return {q["id"]: p["context"] for p in json.loads(Path(path).read_text(encoding="utf-8"))["data"][0]["paragraphs"]
            for q in p["qas"]}


def eval_request(task, checkpoint, task_dir, fixture, out_dir, **kwargs):
    _, model, dictionary = fixture
    return EvaluateRequest(task=task, checkpoint=str(checkpoint), task_dir=str(task_dir), spm_model=str(model),
                           dictionary=str(dictionary), out_dir=str(out_dir), max_len=MAX_LEN, doc_stride=STRIDE,
                           max_query_len=MAX_QUERY, **kwargs)


@pytest.mark.slow
def test_evaluate_xquad_predictions_and_scores(trained, fixture, tmp_path):
    checkpoint, _ = trained
    download = fixture[0]
    results = evaluate(eval_request("xquad", checkpoint, download / "xquad", fixture, tmp_path), print)
    assert results["languages"] == sorted(LANGS) and results["metric"] == "f1"
    for lang in LANGS:
        gold = download / "xquad" / f"xquad.{lang}.json"
        written = tmp_path / "predictions" / "xquad" / f"test-{lang}.json"
        predictions = json.loads(written.read_text(encoding="utf-8"))
        context = contexts(gold)
        assert set(predictions) == set(context)
        for qid, answer in predictions.items():
            assert answer and answer in context[qid], (lang, qid, answer)
        em, f1 = hand_scores(gold, predictions)
        assert results["scores"][lang]["exact_match"] == pytest.approx(em, abs=1e-9)
        assert results["scores"][lang]["f1"] == pytest.approx(f1, abs=1e-9)
        labels = json.loads((tmp_path / "labels" / "xquad" / f"test-{lang}.json").read_text(encoding="utf-8"))
        assert labels["data"] == json.loads(gold.read_text(encoding="utf-8"))["data"]
    english = json.loads((tmp_path / "predictions" / "xquad" / "test-en.json").read_text())
    print("en predictions", english)
    assert results["scores"]["en"]["exact_match"] >= 50.0   # the toy task is learnt
    average = {m: np.mean([results["scores"][lang][m] for lang in LANGS]) for m in ("exact_match", "f1")}
    assert results["average"] == pytest.approx(average)
    assert results["avg_metric"] == pytest.approx((average["exact_match"] + average["f1"]) / 2)
    assert results["generalized"] is None


@pytest.mark.slow
def test_evaluate_mlqa_generalized_matrix(trained, fixture, tmp_path):
    checkpoint, _ = trained
    task_dir = fixture[0] / "mlqa"
    results = evaluate(eval_request("mlqa", checkpoint, task_dir, fixture, tmp_path, limit=6), print)
    assert results["languages"] == sorted(MLQA_LANGS)
    matrix = results["generalized"]
    folder = task_dir / "MLQA_V1" / "test"
    for q in MLQA_LANGS:
        for c in MLQA_LANGS:
            name = f"test-context-{c}-question-{q}.json"
            written = (tmp_path / "predictions" / "mlqa" / f"test-{c}.json" if q == c
                       else tmp_path / "generalized" / "mlqa" / name)
            predictions = json.loads(written.read_text(encoding="utf-8"))
            assert len(predictions) == 6   # --limit 6
            limited = json.loads((folder / name).read_text(encoding="utf-8"))
            limited["data"][0]["paragraphs"] = limited["data"][0]["paragraphs"][:6]
            gold = squad_file(tmp_path / "limited" / name, limited["data"][0]["paragraphs"])
            em, f1 = hand_scores(gold, predictions, mlqa_lang=c)
            assert matrix["exact_match"][q][c] == pytest.approx(em, abs=1e-9), (q, c)
            assert matrix["f1"][q][c] == pytest.approx(f1, abs=1e-9), (q, c)


# ----------------------------------------------------------------------------------------------- CLIs, recipe

@pytest.mark.slow
def test_recipe_through_the_clis(fixture, tmp_path):
    """examples/finetune/qa.sh: weam-xtreme-prepare --task xquad, fairseq-train --task xtreme_qa, weam-evaluate
    --task xquad; the submission files and results.json it leaves agree with an independent EM/F1."""
    download, model, dictionary = fixture
    out = tmp_path / "run"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1",
           "TASK": "xquad", "TASK_DIR": str(download / "xquad"), "DICT": str(dictionary),
           "SPM_MODEL": str(model), "OUT": str(out), "ARCH_FLAGS": " ".join(TINY_ROBERTA),
           "DEVICE_FLAGS": "--cpu --num-workers 0", "DEVICE": "cpu", "EPOCHS": "2", "BATCH": "16",
           "UPDATE_FREQ": "1", "WARMUP": "2", "LR": "1e-3", "MAX_LEN": str(MAX_LEN), "DOC_STRIDE": str(STRIDE),
           "MAX_QUERY_LEN": str(MAX_QUERY), "WORKERS": "1"}
    proc = run(["bash", REPO / "examples" / "finetune" / "qa.sh"], env=env)
    report = json.loads((out / "bin" / "prepare_report.json").read_text())
    assert report["doc_stride"] == STRIDE and report["mismatched_answers"]
    assert "t-broken" in proc.stderr   # the mismatched answer is reported on the console
    results = json.loads((out / "eval" / "results.json").read_text(encoding="utf-8"))
    assert results["task"] == "xquad" and results["languages"] == sorted(LANGS)
    for lang in LANGS:
        predictions = json.loads((out / "eval" / "predictions" / "xquad" / f"test-{lang}.json").read_text())
        em, f1 = hand_scores(download / "xquad" / f"xquad.{lang}.json", predictions)
        assert results["scores"][lang]["exact_match"] == pytest.approx(em, abs=1e-9)
        assert results["scores"][lang]["f1"] == pytest.approx(f1, abs=1e-9)
    with pytest.raises(AssertionError, match="weam-evaluate: error: .*xquad.fr.json: no such file"):
        run([tool("weam-evaluate"), "--task", "xquad", "--checkpoint", out / "checkpoints" / "checkpoint_last.pt",
             "--task-dir", download / "xquad", "--spm-model", model, "--dict", dictionary, "--out-dir",
             tmp_path / "x", "--langs", "en,fr", "--max-len", MAX_LEN, "--max-query-len", MAX_QUERY])


@pytest.mark.slow
def test_restore_from_a_checkpoint_without_the_span_head(trained, prepared, tmp_path):
    """A pre-trained encoder (no span head in its weights) starts QA fine-tuning via --restore-file: the head
    is added fresh, the encoder weights are the checkpoint's."""
    import torch
    checkpoint, _ = trained
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state["model"] = {k: v for k, v in state["model"].items() if not k.startswith("classification_heads.")}
    headless = tmp_path / "pretrained.pt"
    torch.save(state, headless)
    save = tmp_path / "ckpt"
    proc = run(train_args(prepared[0], save, 1, extra=[
        "--restore-file", headless, "--reset-optimizer", "--reset-dataloader", "--reset-meters",
        "--reset-lr-scheduler", "--lr", "1e-12", "--disable-validation"]))
    assert "Overwriting classification_heads.span_head.out_proj.weight" in proc.stdout + proc.stderr
    after = torch.load(save / "checkpoint_last.pt", map_location="cpu", weights_only=False)["model"]
    key = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert torch.allclose(after[key], state["model"][key], atol=1e-6)
    assert "classification_heads.span_head.dense.weight" in after


@pytest.mark.slow
def test_stripped_test_file_is_predicted_not_scored(trained, fixture, tmp_path):
    """XTREME's download script empties test answers; such a language gets predictions, no score."""
    checkpoint, _ = trained
    task_dir = tmp_path / "xquad"
    paragraphs = eval_paragraphs("en")
    for p in paragraphs:
        p["qas"][0]["answers"] = [{"answer_start": 0, "text": ""}]
    squad_file(task_dir / "xquad.en.json", paragraphs)
    results = evaluate(eval_request("xquad", checkpoint, task_dir, fixture, tmp_path / "out"), print)
    assert results["unscored"] == ["en"] and results["scores"] == {} and results["avg_metric"] is None
    predictions = json.loads((tmp_path / "out" / "predictions" / "xquad" / "test-en.json").read_text())
    assert set(predictions) == {p["qas"][0]["id"] for p in paragraphs}
    assert not (tmp_path / "out" / "labels" / "xquad" / "test-en.json").exists()


def test_tydiqa_and_mlqa_file_layout(tmp_path):
    tydi = tmp_path / "tydiqa"
    squad_file(tydi / "tydiqa-goldp-v1.1-train" / "tydiqa.en.train.json", [])
    for lang in ("en", "ru", "te"):
        squad_file(tydi / "tydiqa-goldp-v1.1-dev" / f"tydiqa.goldp.{lang}.dev.json", [])
    train, dev = qa.train_dev_files("tydiqa", tydi)
    assert train.name == "tydiqa.en.train.json" and dev.name == "tydiqa.goldp.en.dev.json"
    assert list(qa.test_files("tydiqa", tydi)) == ["en", "ru", "te"]
    mlqa = tmp_path / "mlqa"
    for c, q in (("en", "en"), ("de", "de"), ("de", "en"), ("en", "de")):
        squad_file(mlqa / "MLQA_V1" / "test" / f"test-context-{c}-question-{q}.json", [])
    assert list(qa.test_files("mlqa", mlqa)) == ["de", "en"]
    assert sorted(qa.generalized_files("mlqa", mlqa, ["de", "en"])) == [("de", "en"), ("en", "de")]
    with pytest.raises(qa.QADataError, match="pass --train-file"):
        qa.train_dev_files("mlqa", mlqa)
    squad_file(tmp_path / "squad" / "train-v1.1.json", [])
    squad_file(tmp_path / "squad" / "dev-v1.1.json", [])
    assert qa.train_dev_files("mlqa", mlqa)[0] == tmp_path / "squad" / "train-v1.1.json"
