"""weam-convert to-hf: a tiny WEAM model and a classifier fine-tuned from it, trained here, as XLM-R directories."""
import random

import pytest
import sentencepiece as spm
import torch
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool, write_lines

pytestmark = pytest.mark.slow

TRAIN = ["--optimizer", "adam", "--lr", "1e-3", "--max-update", "2", "--cpu", "--num-workers", "0",
         "--no-epoch-checkpoints", "--batch-size", "8", "--user-dir", USER_DIR]


def sentences(rng, words, n):
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 8))) for _ in range(n)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """DATA (weam-prepare, trained sentencepiece), a 2-update WEAM checkpoint, and a 2-update classifier from it."""
    root = tmp_path_factory.mktemp("xlmr")
    rng = random.Random(0)
    en = ["house", "tree", "garden", "window", "river", "mountain", "small", "green"]
    de = ["Haus", "Baum", "Garten", "Fenster", "Fluss", "Berg", "klein", "grün"]
    for split, n in (("train", 80), ("valid", 16)):
        x, y, links = [], [], []
        for _ in range(n):
            words = [rng.randrange(len(en)) for _ in range(rng.randint(3, 7))]
            x.append(" ".join(en[k] for k in words))
            y.append(" ".join(de[k] for k in words))
            links.append(" ".join(f"{w}-{w}" for w in range(len(words))))
        write_lines(root / "RAW" / f"{split}.en-de.en", x)
        write_lines(root / "RAW" / f"{split}.en-de.de", y)
        write_lines(root / "RAW" / f"{split}.en-de.align", links)
    data = root / "DATA"
    run([tool("weam-prepare"), "--raw-dir", root / "RAW", "--dest-dir", data, "--aligner", "precomputed",
         "--vocab-size", "60", "--workers", "1"])
    run([tool("fairseq-train"), data, "--task", "weam", "--criterion", "weam", *TINY_ROBERTA,
         "--tokens-per-sample", "64", "--save-dir", root / "weam", *TRAIN])

    processor = spm.SentencePieceProcessor(model_file=str(data / "sentencepiece.bpe.model"))
    cls_raw = root / "cls_raw"
    for split, n in (("train", 32), ("valid", 8)):
        pairs = [(a, b) for a, b in zip(sentences(rng, en + de, n), sentences(rng, en + de, n))]
        for k, side in enumerate(("input0", "input1")):
            write_lines(cls_raw / f"{split}.{side}", [" ".join(processor.encode(p[k], out_type=str)) for p in pairs])
        write_lines(cls_raw / f"{split}.label", [rng.choice(["entailment", "contradiction"]) for _ in pairs])
    cls = root / "CLS"
    for side in ("input0", "input1"):
        run([tool("fairseq-preprocess"), "--only-source", "--srcdict", data / "dict.txt", "--trainpref",
             cls_raw / f"train.{side}", "--validpref", cls_raw / f"valid.{side}", "--destdir", cls / side,
             "--workers", "1"])
    run([tool("fairseq-preprocess"), "--only-source", "--trainpref", cls_raw / "train.label", "--validpref",
         cls_raw / "valid.label", "--destdir", cls / "label", "--workers", "1"])
    run([tool("fairseq-train"), cls, "--task", "sentence_prediction", "--criterion", "sentence_prediction",
         "--num-classes", "2", "--init-token", "0", "--separator-token", "2", *TINY_ROBERTA, "--save-dir",
         root / "cls_ckpt", "--restore-file", root / "weam" / "checkpoint_last.pt", "--reset-optimizer",
         "--reset-dataloader", "--reset-meters", "--reset-lr-scheduler", *TRAIN])
    return root


def fairseq_model(checkpoint, data):
    from fairseq import checkpoint_utils

    import fairseq_weam  # noqa: F401  (registers the weam task; checkpoints read weights-only)

    (model,), _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], arg_overrides={"data": str(data)})
    return model.eval(), task


def fairseq_ids(processor, dictionary, texts):
    """``<s> a </s>`` or ``<s> a </s> </s> b </s>`` (RoBERTa's pair layout) through sentencepiece and dict.txt."""
    ids = [0]
    for k, text in enumerate(texts):
        ids += ([2] if k else []) + [dictionary.index(p) for p in processor.encode(text, out_type=str)] + [2]
    return ids


def padded(rows):
    batch = torch.full((len(rows), max(map(len, rows))), 1)
    for k, row in enumerate(rows):
        batch[k, :len(row)] = torch.tensor(row)
    return batch


def test_masked_lm_export_gives_fairseq_logits_and_ids(trained):
    from transformers import AutoTokenizer, XLMRobertaForMaskedLM

    from fairseq_weam.cli.convert import main

    out = trained / "hf_mlm"
    assert main(["to-hf", str(trained / "weam" / "checkpoint_last.pt"), str(out)]) == 0
    model, task = fairseq_model(trained / "weam" / "checkpoint_last.pt", trained / "DATA")
    processor = spm.SentencePieceProcessor(model_file=str(trained / "DATA" / "sentencepiece.bpe.model"))
    texts = ["house tree  garden", "grün Fluss Berg klein Haus Fenster", "windowriver xyz"]
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    rows = [fairseq_ids(processor, task.dictionary, [t]) for t in texts]
    assert [tokenizer(t)["input_ids"] for t in texts] == rows
    mask_id = task.dictionary.index("<mask>")
    assert tokenizer.mask_token_id == mask_id and tokenizer.pad_token_id == 1
    rows[0][2] = mask_id
    batch = padded(rows)
    hf = XLMRobertaForMaskedLM.from_pretrained(str(out)).eval()
    with torch.no_grad():
        expected, _ = model(batch)
        got = hf(input_ids=batch, attention_mask=(batch != 1).long()).logits
    real = batch != 1
    assert expected.shape == got.shape
    assert (expected[real] - got[real]).abs().max() < 1e-5


def test_classifier_export_gives_fairseq_logits(trained):
    from transformers import AutoTokenizer, XLMRobertaForSequenceClassification

    from fairseq_weam.cli.convert import main

    out = trained / "hf_cls"
    assert main(["to-hf", str(trained / "cls_ckpt" / "checkpoint_last.pt"), str(out),
                 "--spm-model", str(trained / "DATA" / "sentencepiece.bpe.model")]) == 0
    model, task = fairseq_model(trained / "cls_ckpt" / "checkpoint_last.pt", trained / "CLS")
    processor = spm.SentencePieceProcessor(model_file=str(trained / "DATA" / "sentencepiece.bpe.model"))
    pairs = [("house tree", "Haus Baum"), ("green river mountain small", "Fenster")]
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    rows = [fairseq_ids(processor, task.source_dictionary, p) for p in pairs]
    assert [tokenizer(a, b)["input_ids"] for a, b in pairs] == rows
    batch = padded(rows)
    hf = XLMRobertaForSequenceClassification.from_pretrained(str(out)).eval()
    labels = [task.label_dictionary[i + task.label_dictionary.nspecial] for i in range(2)]
    assert [hf.config.id2label[i] for i in range(2)] == labels
    with torch.no_grad():
        expected, _ = model(batch, features_only=True, classification_head_name="sentence_classification_head")
        got = hf(input_ids=batch, attention_mask=(batch != 1).long()).logits
    assert expected.shape == got.shape == (2, 2)
    assert (expected - got).abs().max() < 1e-5
