"""weam-alignment-stability: cosine 1 at radius 0 for identical states, monotone under random noise on a fixed
model, PGD below noise, the radius-0 numbers against an independent per-sentence computation and against
weam-retrieval, pre-trained and fine-tuned checkpoints through the CLI, one-line errors."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fairseq_weam  # noqa: F401
from fairseq_weam.evaluation.alignment_stability import StabilityOptions, evaluate_stability
from fairseq_weam.evaluation.retrieval import RetrievalOptions, evaluate_retrieval, load_encoder
from fairseq_weam.data.aligned_pair_dataset import load_dictionary
from stability_testing import raw_pairs, write_parallel
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool
from xtreme_testing import finetune_args, tiny_prepared

RADII = (0.0, 0.5, 1.0, 2.0, 4.0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(pre-trained checkpoint, translated data root, its data dir, identical data dir, fine-tuned checkpoint)."""
    base = tmp_path_factory.getbasetemp() / "xtreme"
    _, spm_model, dictionary, bin_dir = tiny_prepared(base)
    root = tmp_path_factory.mktemp("stability")
    data = write_parallel(root / "translated", spm_model, dictionary)
    same = write_parallel(root / "identical", spm_model, dictionary, identical=True)
    pre = root / "pre"
    run([tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
         *TINY_ROBERTA, "--tokens-per-sample", "64", "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "16",
         "--max-update", "3", "--cpu", "--num-workers", "0", "--seed", "1", "--save-dir", pre,
         "--disable-validation", "--no-epoch-checkpoints"])
    tuned = root / "tuned"
    run(finetune_args(bin_dir, tuned, "none", 2, ["--finetune-from-model", pre / "checkpoint_last.pt",
                                                   "--parallel-data", data, "--parallel-loss", "agreement"]))
    return pre / "checkpoint_last.pt", root / "translated", data, same, tuned / "checkpoint_best.pt"


def test_identical_states_give_cosine_one_and_noise_is_monotone(setup):
    pre, _, _, same, _ = setup
    report = evaluate_stability(pre, same, StabilityOptions(radii=RADII, attacks=("noise",), max_sentences=24,
                                                            noise_samples=2))
    curve = report["average"]["noise"]
    assert curve["cosine"][0] == pytest.approx(1.0, abs=1e-5)
    assert curve["word_acc"][0] == 1.0 and curve["sentence_acc"][0] == 1.0
    assert all(b <= a + 1e-9 for a, b in zip(curve["cosine"], curve["cosine"][1:])), curve["cosine"]
    assert curve["cosine"][-1] < 0.99
    expected_auc = np.trapz(curve["cosine"], RADII) / RADII[-1]
    assert report["auc"]["noise"]["cosine"] == pytest.approx(expected_auc)


def independent_cosine(checkpoint, root, data, n):
    """Mean linked-word cosine at radius 0: each sentence encoded alone, words from the ▁ of the raw pieces,
    word links from the raw piece links."""
    dictionary = load_dictionary(data)
    model, _ = load_encoder(checkpoint, dictionary, str(data), encoder_only=True)
    cosines = []
    with torch.no_grad():
        for x, y, links in raw_pairs(root)[:n]:
            words = []
            for pieces in (x, y):
                tokens = torch.tensor([[dictionary.bos()] + [dictionary.index(p) for p in pieces] + [dictionary.eos()]])
                states = model(tokens, features_only=True)[0][0, 1:-1]
                word_of = np.cumsum([p.startswith("\u2581") for p in pieces]) - 1
                words.append((torch.stack([states[torch.from_numpy(word_of == w)].mean(0)
                                           for w in range(word_of[-1] + 1)]), word_of))
            (wx, x_of), (wy, y_of) = words
            for a, b in sorted({(int(x_of[i]), int(y_of[j])) for i, j in links}):
                cosines.append(float(F.cosine_similarity(wx[a], wy[b], dim=0)))
    return float(np.mean(cosines))


def test_radius_zero_against_independent_numbers_and_pgd_below_noise(setup):
    pre, root, data, _, _ = setup
    report = evaluate_stability(pre, data, StabilityOptions(radii=(0.0, 1.0, 3.0), max_sentences=20,
                                                            noise_samples=1, pgd_steps=3, batch_size=8))
    noise, pgd = report["average"]["noise"], report["average"]["pgd"]
    assert noise["cosine"][0] == pgd["cosine"][0] == pytest.approx(independent_cosine(pre, root, data, 20), abs=1e-5)
    retrieval = evaluate_retrieval(pre, data, RetrievalOptions(max_sentences=20))["average"]
    assert noise["word_acc"][0] == pytest.approx(retrieval["word_acc"])
    assert noise["sentence_acc"][0] == pytest.approx(retrieval["sentence_acc"])
    for k in (1, 2):  # PGD maximizes the misalignment: below random noise of the same radius
        assert pgd["cosine"][k] < noise["cosine"][k] - 1e-3


def test_cli_pretrained_and_finetuned(setup, tmp_path):
    pre, _, data, _, tuned = setup
    out = tmp_path / "out"
    run([tool("weam-alignment-stability"), f"before={pre}", f"after={tuned}", f"after={pre}", "--data", data,
         "--out-dir", out, "--radii", "0,1,2", "--max-sentences", "8", "--noise-samples", "1", "--pgd-steps", "1"])
    result = json.loads((out / "stability.json").read_text())
    assert [r["label"] for r in result["runs"]] == ["before", "after", "after"]
    after = [r["report"]["auc"]["pgd"]["cosine"] for r in result["runs"][1:]]
    assert result["summary"]["after"]["auc"]["pgd"]["cosine"] == pytest.approx([np.mean(after), np.std(after)])
    assert result["summary"]["after"]["runs"] == 2
    assert (out / "stability.png").read_bytes()[:4] == b"\x89PNG"
    assert "| before | 1 |" in (out / "stability.md").read_text()


@pytest.mark.parametrize("args,message", [
    (["--radii", "1,0"], "--radii 1.0,0.0: give increasing radii >= 0"),
    (["--radii", "0,x"], "--radii 0,x: give comma-separated numbers"),
    (["--split", "train2"], "no language pair for split 'train2'"),
])
def test_bad_inputs_fail_in_one_line(setup, tmp_path, args, message):
    pre, _, data, _, _ = setup
    proc = run([tool("weam-alignment-stability"), pre, "--data", data, "--out-dir", tmp_path / "o", *args],
               check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("weam-alignment-stability: error: ") and message in line, proc.stderr[-1000:]
    assert not (tmp_path / "o").exists()


def test_missing_checkpoint_and_unaligned_split(setup, tmp_path):
    pre, _, data, _, _ = setup
    proc = run([tool("weam-alignment-stability"), tmp_path / "none.pt", "--data", data, "--out-dir", tmp_path / "o"],
               check=False)
    assert proc.stderr.strip().splitlines()[-1] == f"weam-alignment-stability: error: checkpoint {tmp_path}/none.pt not found"
    unaligned = tmp_path / "d"
    unaligned.mkdir()
    for f in data.iterdir():
        if not f.name.startswith("valid.align"):
            (unaligned / f.name).write_bytes(f.read_bytes())
    with pytest.raises(Exception, match="word alignments of en-de"):
        evaluate_stability(pre, unaligned, StabilityOptions(radii=(0.0,), max_sentences=4))
