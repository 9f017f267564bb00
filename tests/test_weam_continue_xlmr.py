"""Continue pre-training from a checkpoint in XLM-R's layout (model.pt, dict.txt, sentencepiece.bpe.model)."""
import random
import shutil

import pytest
import sentencepiece as spm
from weam_pair_data import write_word_bitext
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool, write_lines

pytestmark = pytest.mark.slow


def word_list(rng, n):
    letters = "abcdefghijklmnoprstuvwz"
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 8))))
    return sorted(words)


def make_xlmr_like_checkpoint(root, raw):
    """A directory like xlmr.base/: sentencepiece model, its fairseq dict, and a 1-update masked_lm model.pt."""
    ckpt = root / "xlmr.tiny"
    ckpt.mkdir()
    corpus = (raw / "train.en-de.en").read_text() + (raw / "train.en-de.de").read_text()
    write_lines(root / "spm_corpus.txt", corpus.splitlines())
    spm.SentencePieceTrainer.train(input=str(root / "spm_corpus.txt"), model_prefix=str(ckpt / "sentencepiece.bpe"),
                                   vocab_size=100, character_coverage=1.0, minloglevel=2)
    processor = spm.SentencePieceProcessor(model_file=str(ckpt / "sentencepiece.bpe.model"))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    write_lines(ckpt / "dict.txt", [f"{p} 1" for p in pieces if p not in ("<unk>", "<s>", "</s>")])

    mono = root / "mono"
    for split in ("train", "valid"):
        text = (raw / f"{split}.en-de.en").read_text().splitlines()
        write_lines(mono / f"{split}.txt", [" ".join(processor.encode(line, out_type=str)) for line in text])
    run([tool("fairseq-preprocess"), "--only-source", "--srcdict", ckpt / "dict.txt", "--trainpref",
         mono / "train.txt", "--validpref", mono / "valid.txt", "--destdir", mono / "bin", "--workers", "1"])
    run([tool("fairseq-train"), mono / "bin", "--task", "masked_lm", "--criterion", "masked_lm", *TINY_ROBERTA,
         "--sample-break-mode", "eos", "--tokens-per-sample", "64", "--batch-size", "8", "--optimizer", "adam", "--lr", "1e-3",
         "--max-update", "1", "--save-dir", root / "mlm_ckpt", "--cpu", "--num-workers", "0",
         "--no-epoch-checkpoints", "--user-dir", USER_DIR])
    shutil.copy(root / "mlm_ckpt" / "checkpoint_last.pt", ckpt / "model.pt")
    return ckpt


def test_continue_pretraining_from_an_xlmr_layout_checkpoint(tmp_path):
    raw = tmp_path / "RAW"
    rng = random.Random(0)
    write_word_bitext(raw, word_list(rng, 40), word_list(rng, 40), n_train=160, n_valid=40, max_len=9)
    xlmr = make_xlmr_like_checkpoint(tmp_path, raw)
    data = tmp_path / "DATA"
    run([tool("weam-prepare"), "--raw-dir", raw, "--dest-dir", data, "--spm-model", xlmr / "sentencepiece.bpe.model",
         "--dict", xlmr / "dict.txt", "--aligner", "precomputed", "--workers", "1"])
    assert (data / "dict.txt").read_text().split("\n")[0] == (xlmr / "dict.txt").read_text().split("\n")[0]

    proc = run([tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
                *TINY_ROBERTA, "--tokens-per-sample", "64", "--batch-size", "8", "--optimizer", "adam",
                "--lr", "1e-4", "--max-update", "2", "--save-dir", tmp_path / "weam_ckpt", "--cpu",
                "--num-workers", "0", "--log-format", "simple", "--log-interval", "1",
                "--no-epoch-checkpoints", "--finetune-from-model", xlmr / "model.pt"])
    log = proc.stdout + proc.stderr
    assert f"loading pretrained model from {xlmr / 'model.pt'}" in log
    assert "num_updates=2" in log and "cl_tokens=" in log
    assert (tmp_path / "weam_ckpt" / "checkpoint_last.pt").exists()
