"""UD-POS / WikiANN tagging end to end: XTREME-layout files -> prepare() -> fairseq-train --task
xtreme_tagging -> evaluate() -> predictions/<task>/test-<lang>.tsv, scored against an independent seqeval call."""
import json
import random
from pathlib import Path

import pytest
import torch

from weam_testing import TINY_ROBERTA, USER_DIR, run, tool, write_lines
from xtreme_testing import train_spm

from fairseq_weam.text.pieces import word_spans
from fairseq_weam.xtreme.requests import PrepareRequest
from fairseq_weam.xtreme import tagging

# --- fixtures in XTREME's layout -------------------------------------------------------------------------
PER, LOC, ORG = [["anna"], ["boris", "smith"], ["clara", "jones"]], [["paris"], ["rome"], ["oslo", "bay"]], \
    [["acme"], ["globex", "corp"]]
FILLER = ["the", "a", "visited", "met", "with", "in", "works", "for", "said", "today", "and"]
CYRILLIC = dict(zip("abcdefghijklmnoprstuvwyz", "абцдефгхийклмнопрстуввыз"))


def ner_sentences(n, seed, long_every=0):
    """(words, IOB2 tags) sentences: filler with one to three entities of one or two words."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words, tags = [], []
        for _ in range(rng.randint(1, 3)):
            for _ in range(rng.randint(1, 3)):
                words.append(rng.choice(FILLER))
                tags.append("O")
            kind, names = rng.choice([("PER", PER), ("LOC", LOC), ("ORG", ORG)])
            name = rng.choice(names)
            words += name
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
        if long_every and i % long_every == 0:  # longer than --max-len: cut into chunks
            words, tags = words * 4, tags * 4
        out.append((words, tags))
    return out


POS = {"the": "DET", "a": "DET", "dog": "NOUN", "cat": "NOUN", "house": "NOUN", "runs": "VERB",
       "sees": "VERB", "in": "ADP", "on": "ADP", "big": "ADJ", "red": "ADJ", ".": "PUNCT", "and": "CCONJ"}


def pos_sentences(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = ["the", rng.choice(["big", "red"]), rng.choice(["dog", "cat"]), rng.choice(["runs", "sees"]),
                 rng.choice(["in", "on"]), rng.choice(["the", "a"]), "house"]
        if rng.random() < 0.5:
            words += ["and", rng.choice(["runs", "sees"])]
        words.append(".")
        out.append((words, [POS[w] for w in words]))
    return out


def translate(sentences, lang):
    """A fake translation word by word (tags unchanged): German-like suffix, or Cyrillic letters."""
    if lang == "en":
        return sentences
    if lang == "ru":
        return [([("".join(CYRILLIC.get(c, c) for c in w)) for w in words], tags) for words, tags in sentences]
    return [([w + "en" if w.isalpha() else w for w in words], tags) for words, tags in sentences]


def write_tagged(path, sentences, labelled=True):
    """XTREME's layout: word<TAB>tag lines (word only when not labelled), a blank line between sentences."""
    lines = []
    for words, tags in sentences:
        lines += [f"{w}\t{t}" if labelled else w for w, t in zip(words, tags)] + [""]
    write_lines(path, lines[:-1])
    return path


def write_task(base, make, n_train, test_langs, **kwargs):
    task_dir = Path(base) / "task"
    write_tagged(task_dir / "train-en.tsv", make(n_train, 1, **kwargs))
    write_tagged(task_dir / "dev-en.tsv", make(24, 2, **kwargs))
    test = make(20, 3, **kwargs)
    for lang in test_langs:
        write_tagged(task_dir / f"test-{lang}.tsv", translate(test, lang))
    # the sentencepiece model sees the sentences (one per line), not the tags
    text_dir = Path(base) / "spm_text"
    write_lines(text_dir / "text.tsv", [" ".join(w) for f in sorted(task_dir.glob("*.tsv"))
                                         for w, _ in read_blocks(f)])
    spm_model, dictionary = train_spm(Path(base) / "spm", text_dir)
    return task_dir, spm_model, dictionary


def read_blocks(path):
    """(words, tags) per blank-line separated block of a 'word<TAB>tag' file (independent of the reader)."""
    blocks = [b for b in Path(path).read_text(encoding="utf-8").split("\n\n") if b.strip()]
    rows = [[line.split("\t") for line in b.strip("\n").split("\n")] for b in blocks]
    return [([r[0] for r in b], [r[-1] for r in b]) for b in rows]


def prepare(task, task_dir, spm_model, dictionary, dest, **kwargs):
    return tagging.prepare(PrepareRequest(task=task, task_dir=str(task_dir), dest=str(dest),
                                          spm_model=str(spm_model), dictionary=str(dictionary), **kwargs),
                           progress=lambda msg: None)


def train_args(bin_dir, save_dir, method="none", max_update=40, extra=()):
    return [tool("fairseq-train"), bin_dir, "--user-dir", USER_DIR, "--task", "xtreme_tagging",
            "--criterion", "xtreme_tagging", "--robust-method", method, *TINY_ROBERTA,
            "--optimizer", "adam", "--lr", "3e-3", "--lr-scheduler", "fixed", "--batch-size", "16",
            "--max-update", str(max_update), "--dropout", "0.0", "--attention-dropout", "0.0",
            "--cpu", "--num-workers", "0", "--seed", "1", "--save-dir", save_dir, "--no-epoch-checkpoints",
            "--best-checkpoint-metric", "accuracy", "--maximize-best-checkpoint-metric",
            "--log-format", "json", "--log-interval", "1", *extra]


def train_losses(proc):
    losses = []
    for line in (proc.stdout + proc.stderr).splitlines():
        if '"train_inner"' in line or ("train_loss" not in line and '"loss"' in line and "{" in line):
            try:
                losses.append(float(json.loads(line[line.index("{"):])["loss"]))
            except (ValueError, KeyError):
                pass
    return losses


_CACHE = {}


def panx(base):
    if "panx" not in _CACHE:
        task_dir, spm_model, dictionary = write_task(base, ner_sentences, 160, ["en", "de", "ru"],
                                                     long_every=10)
        bin_dir = Path(base) / "bin"
        report = prepare("panx", task_dir, spm_model, dictionary, bin_dir, max_len=40)
        _CACHE["panx"] = (task_dir, spm_model, dictionary, bin_dir, report)
    return _CACHE["panx"]


@pytest.fixture(scope="module")
def panx_data(tmp_path_factory):
    return panx(tmp_path_factory.mktemp("panx"))


# --- reading and encoding ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_prepare_binarizes_first_piece_labels(panx_data):
    task_dir, spm_model, dictionary, bin_dir, report = panx_data
    assert report["labels"] == ["B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"]
    assert report["subsets"]["train"]["split_sentences"] > 0  # the long sentences were chunked
    assert set(report["subsets"]) == {"train", "valid", "test.en", "test.de", "test.ru"}
    for name in report["subsets"]:
        for column in ("input0", "label"):
            assert (bin_dir / column / f"{name}.bin").is_file()
    labels = (bin_dir / "label" / "dict.txt").read_text().split("\n")
    assert [line.split()[0] for line in labels if line] == report["labels"]
    # every word of every sentence lands on exactly one first piece, chunk after chunk, in order
    encoder = tagging.WordEncoder(spm_model, 40)
    sentences = read_blocks(task_dir / "test-ru.tsv")
    for words, tags in sentences:
        chunks, cut = encoder.chunks(words)
        assert cut == 0 and all(len(c.pieces) <= 38 for c in chunks)
        got = []
        for c in chunks:
            spans = word_spans(c.pieces)
            got += ["".join(c.pieces[k] for k in span).replace("\u2581", "") for span in spans]
            assert tagging.label_line(c, tags).split()[0] != tagging.NO_TAG
        assert got == words


def test_read_errors_name_file_and_line(tmp_path):
    path = write_lines(tmp_path / "train-en.tsv", ["anna\tB-PER", "smith\tI-PER", "", "rome\tB-CITY"])
    with pytest.raises(tagging.TaggingDataError, match=r"train-en.tsv:4: unknown tag 'B-CITY'"):
        tagging.read_tagged(path, tagging.task_tags("panx"))
    path = write_lines(tmp_path / "dev-en.tsv", ["anna\tB-PER", "smith\tI-PER\textra"])
    with pytest.raises(tagging.TaggingDataError, match=r"dev-en.tsv:2: expected 'word<TAB>tag'"):
        tagging.read_tagged(path, tagging.task_tags("panx"))
    path = write_lines(tmp_path / "test-de.tsv", ["anna\tB-PER", "", "smith"])
    with pytest.raises(tagging.TaggingDataError, match=r"test-de.tsv:3: no tag on this line"):
        tagging.read_tagged(path, tagging.task_tags("panx"), require_tags=False)
    # the public test layout (words only) reads as unlabelled sentences
    path = write_lines(tmp_path / "test-fr.tsv", ["anna", "smith", "", "-DOCSTART-", "rome", ""])
    sentences = tagging.read_tagged(path, tagging.task_tags("panx"), require_tags=False)
    assert [s.words for s in sentences] == [("anna", "smith"), ("rome",)]
    assert sentences[0].tags is None and sentences[1].line == 5


@pytest.mark.slow
def test_long_word_keeps_its_first_piece(panx_data):
    _, spm_model, _, _, _ = panx_data
    encoder = tagging.WordEncoder(spm_model, 5)  # 3 pieces per chunk
    chunks, cut = encoder.chunks(["globexglobexcorp", "a", "rome"])
    assert cut == 1 and chunks[0].word_starts == [0] and len(chunks[0].pieces) == 3
    assert sum(len(c.word_starts) for c in chunks) == 3


# --- training and evaluation ------------------------------------------------------------------------------
def trained(base, data):
    if "trained" not in _CACHE:
        save_dir = Path(base) / "ckpt"
        proc = run(train_args(data[3], save_dir, "none", 40))
        _CACHE["trained"] = (proc, save_dir)
    return _CACHE["trained"]


@pytest.fixture(scope="module")
def panx_model(tmp_path_factory, panx_data):
    return trained(tmp_path_factory.mktemp("panx_model"), panx_data)


@pytest.mark.slow
def test_fairseq_train_loss_falls(panx_model):
    proc, save_dir = panx_model
    losses = train_losses(proc)
    assert len(losses) >= 30, proc.stdout[-2000:]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert (save_dir / "checkpoint_best.pt").is_file()


@pytest.mark.slow
def test_resume_keeps_the_token_head(panx_data, panx_model, tmp_path):
    """fairseq's save/load keeps the head: a resumed run starts at the loss it stopped at, not at chance."""
    proc, save_dir = panx_model
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    (resumed_dir / "checkpoint_last.pt").write_bytes((save_dir / "checkpoint_last.pt").read_bytes())
    resumed = run(train_args(panx_data[3], resumed_dir, "none", 43))
    assert "Loaded checkpoint" in resumed.stdout + resumed.stderr
    before, after = train_losses(proc), train_losses(resumed)
    assert len(after) == 3 and max(after) < 2 * max(before[-5:]) and max(after) < 0.5 * before[0]


@pytest.mark.slow
def test_restore_file_from_masked_lm_adds_the_head(panx_data, tmp_path):
    """--restore-file of a pre-trained masked_lm checkpoint: encoder weights carried over, token head created."""
    bin_dir = panx_data[3]
    run([tool("fairseq-train"), bin_dir / "input0", "--task", "masked_lm", "--criterion", "masked_lm",
         *TINY_ROBERTA, "--tokens-per-sample", "32", "--disable-validation", "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8",
         "--max-update", "2", "--cpu", "--num-workers", "0", "--save-dir", tmp_path / "mlm",
         "--no-epoch-checkpoints", "--user-dir", USER_DIR])
    pretrained = tmp_path / "mlm" / "checkpoint_last.pt"
    run(train_args(bin_dir, tmp_path / "ft", "none", 1, extra=[
        "--restore-file", pretrained, "--reset-optimizer", "--reset-dataloader", "--reset-meters",
        "--reset-lr-scheduler", "--lr", "1e-12"]))
    from fairseq import checkpoint_utils
    before = checkpoint_utils.load_checkpoint_to_cpu(str(pretrained))["model"]
    after = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "ft" / "checkpoint_last.pt"))["model"]
    key = "encoder.sentence_encoder.embed_tokens.weight"
    assert torch.allclose(before[key], after[key], atol=1e-6)
    assert not any(k.startswith("classification_heads.") for k in before)
    assert after["classification_heads.token_classification_head.out_proj.weight"].shape[0] == 7


@pytest.mark.slow
@pytest.mark.parametrize("method,logged", [("adversarial", "adv_loss"), ("noise", "noise_loss")])
def test_robust_methods_train(panx_data, tmp_path, method, logged):
    proc = run(train_args(panx_data[3], tmp_path / method, method, 6, extra=["--adv-steps", "2"]))
    assert f'"train_{logged}"' in proc.stdout + proc.stderr or f'"{logged}"' in proc.stdout + proc.stderr
    losses = train_losses(proc)
    assert len(losses) == 6 and all(loss == loss for loss in losses)


def evaluate_panx(panx_data, save_dir, out_dir, **kwargs):
    from fairseq_weam.evaluation import tagging as tagging_evaluation
    from fairseq_weam.xtreme.requests import EvaluateRequest
    task_dir, spm_model, dictionary, _, _ = panx_data
    request = EvaluateRequest(task="panx", checkpoint=str(save_dir / "checkpoint_best.pt"), task_dir=str(task_dir),
                              spm_model=str(spm_model), dictionary=str(dictionary), out_dir=str(out_dir),
                              max_len=40, **kwargs)
    return tagging_evaluation.evaluate(request, progress=lambda msg: None)


@pytest.mark.slow
def test_evaluate_writes_predictions_scored_as_seqeval(panx_data, panx_model, tmp_path):
    from seqeval.metrics import f1_score
    _, save_dir = panx_model
    results = evaluate_panx(panx_data, save_dir, tmp_path / "out")
    assert results["languages"] == ["de", "en", "ru"] and results["unscored"] == []
    for lang in ("en", "de", "ru"):
        written = tmp_path / "out" / "predictions" / "panx" / f"test-{lang}.tsv"
        gold = read_blocks(panx_data[0] / f"test-{lang}.tsv")
        text = written.read_text(encoding="utf-8")
        blocks = [b.split("\n") for b in text.rstrip("\n").split("\n\n")]
        assert [len(b) for b in blocks] == [len(words) for words, _ in gold]  # one tag per input word
        assert all(tag in tagging.TASK_TAGS["panx"] for b in blocks for tag in b)
        expected = 100 * f1_score([tags for _, tags in gold], blocks)
        assert results["scores"][lang]["f1"] == pytest.approx(expected, abs=1e-9)
        assert (tmp_path / "out" / "labels" / "panx" / f"test-{lang}.tsv").is_file()
    assert results["scores"]["en"]["f1"] > 50  # it learned the toy entities
    assert results["avg_metric"] == pytest.approx(sum(s["f1"] for s in results["scores"].values()) / 3)


# --- the recipe, through the CLIs (UD-POS) ----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*seems not to be NE tag")
def test_recipe_udpos_through_the_clis(tmp_path):
    """examples/finetune/tagging.sh: weam-xtreme-prepare --task udpos, fairseq-train --task xtreme_tagging,
    weam-evaluate --task udpos; results.json agrees with seqeval on the written predictions."""
    import os
    from seqeval.metrics import f1_score
    from weam_testing import BIN, REPO
    task_dir, spm_model, dictionary = write_task(tmp_path, pos_sentences, 96, ["en", "ru"])
    out = tmp_path / "run"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1",
           "TASK": "udpos", "TASK_DIR": str(task_dir), "DICT": str(dictionary), "SPM_MODEL": str(spm_model),
           "OUT": str(out), "ARCH_FLAGS": " ".join(TINY_ROBERTA), "DEVICE_FLAGS": "--cpu --num-workers 0",
           "DEVICE": "cpu", "EPOCHS": "3", "BATCH": "16", "UPDATE_FREQ": "1", "LR": "3e-3", "MAX_LEN": "32",
           "WORKERS": "1"}
    run(["bash", REPO / "examples" / "finetune" / "tagging.sh"], env=env)
    results = json.loads((out / "eval" / "results.json").read_text(encoding="utf-8"))
    assert results["task"] == "udpos" and results["languages"] == ["en", "ru"]
    for lang in ("en", "ru"):
        gold = [tags for _, tags in read_blocks(task_dir / f"test-{lang}.tsv")]
        text = (out / "eval" / "predictions" / "udpos" / f"test-{lang}.tsv").read_text(encoding="utf-8")
        predicted = [b.split("\n") for b in text.rstrip("\n").split("\n\n")]
        assert [len(p) for p in predicted] == [len(g) for g in gold]
        assert results["scores"][lang]["f1"] == pytest.approx(100 * f1_score(gold, predicted), abs=1e-9)
    assert results["scores"]["en"]["f1"] > 50
    # a tag outside UD's set: one line naming file:line, nothing written
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("train-en.tsv", "dev-en.tsv", "test-en.tsv"):
        (bad / name).write_bytes((task_dir / name).read_bytes())
    (bad / "dev-en.tsv").write_text("the\tDET\ndog\tNOUNS\n", encoding="utf-8")
    proc = run([tool("weam-xtreme-prepare"), bad, "--task", "udpos", "--destdir", tmp_path / "bad-bin",
                "--spm-model", spm_model, "--dict", dictionary], check=False)
    assert proc.returncode == 1 and not (tmp_path / "bad-bin").exists()
    assert proc.stderr.strip().splitlines()[-1].startswith("weam-xtreme-prepare: error: ")
    assert "dev-en.tsv:2: unknown tag 'NOUNS'" in proc.stderr
