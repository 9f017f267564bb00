"""weam-retrieval under attack: PGD on the query lowers its similarity to its translation, the greedy synonym
attack picks the most damaging substitution, the command writes the robustness curve, bad inputs get one line."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fairseq_weam.cli.retrieval import main as retrieval_main
from fairseq_weam.data import load_aligned_pairs
from fairseq_weam.evaluation.retrieval_attack import pgd_sentence_vectors, synonym_attack
from fairseq_weam.robust.embedding_attack import PGDSettings
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter
from fairseq_weam.tasks.weam import WeamConfig, WeamTask
from contrastive_testing import aligned_data, hybrid_training_run, tiny_model

WB = "\u2581"


@pytest.fixture(scope="module")
def setting():
    data = aligned_data()
    task = WeamTask.setup_task(WeamConfig(data=str(data), seed=1, train_subset="train", finetune_from_model=None,
                                          restore_file="checkpoint_last.pt", tokens_per_sample=64))
    model = tiny_model(task, seed=1).requires_grad_(False)
    dataset = load_aligned_pairs(str(data), "valid", "en-de", task.dictionary, 30)
    items = [dataset[i] for i in range(12)]
    return task.dictionary, model, [it["x"] for it in items], [it["y"] for it in items]


def mean_pooled(model, dictionary, sentence):
    """The test's own sentence vector: mean of the last-layer states of the pieces of <s> s </s>."""
    tokens = torch.cat([torch.tensor([dictionary.bos()]), sentence, torch.tensor([dictionary.eos()])]).unsqueeze(0)
    with torch.no_grad():
        states = model(tokens, features_only=True)[0][0]
    return states[1:-1].mean(0)


def test_pgd_on_the_query_lowers_its_similarity_to_its_translation(setting):
    dictionary, model, xs, ys = setting
    y_vectors = torch.stack([mean_pooled(model, dictionary, y) for y in ys])
    clean = F.cosine_similarity(torch.stack([mean_pooled(model, dictionary, x) for x in xs]), y_vectors)
    previous = clean
    for radius in (0.002, 0.01, 0.05):
        settings = PGDSettings(eps=radius, step_size=2.5 * radius / 3, steps=3, random_init=False)
        attacked = pgd_sentence_vectors(model, dictionary, xs, y_vectors, -1, 5, settings)
        similarity = F.cosine_similarity(attacked, y_vectors)
        assert (similarity < clean - 1e-4).all(), (radius, similarity, clean)
        assert similarity.mean() < previous.mean()  # a larger ball pushes further
        previous = similarity


class PieceWords:
    """Text <-> pieces for the test dictionary: word ``a3s0`` is the pieces ``▁a3 s0``."""

    def __init__(self, dictionary):
        self.dictionary = dictionary

    def text(self, pieces):
        return "".join(self.dictionary[i] for i in pieces.tolist()).replace(WB, " ").strip()

    def pieces(self, text):
        out = []
        for word in text.split():
            for cut in range(len(word), 0, -1):
                if self.dictionary.index(WB + word[:cut]) != self.dictionary.unk():
                    out.append(self.dictionary.index(WB + word[:cut]))
                    if cut < len(word):
                        out.append(self.dictionary.index(word[cut:]))
                    break
        return torch.tensor(out, dtype=torch.long)


def test_synonym_attack_makes_the_substitution_that_lowers_the_similarity_most(setting):
    dictionary, model, xs, ys = setting
    text = PieceWords(dictionary)
    query = xs[0]
    words = text.text(query).split()
    assert torch.equal(text.pieces(" ".join(words)), query)
    neighbours = {words[0].lower(): ["a1", "a2", "a4"], words[1].lower(): ["a7", "a9"]}
    y_vectors = torch.stack([mean_pooled(model, dictionary, y) for y in ys])
    gold = y_vectors[0]
    trials = [words[:pos] + [r] + words[pos + 1:] for pos in (0, 1) for r in neighbours[words[pos]]]
    scores = [float(F.cosine_similarity(mean_pooled(model, dictionary, text.pieces(" ".join(t))), gold, dim=0))
              for t in trials]
    clean = float(F.cosine_similarity(mean_pooled(model, dictionary, query), gold, dim=0))
    vector, changed, attackable = synonym_attack(model, dictionary, text, SynonymSubstituter(neighbours), query, 0,
                                                 y_vectors, -1, budget=1)
    assert attackable and min(scores) < clean  # the case the test is about (fixed model and data)
    best = trials[int(np.argmin(scores))]
    assert changed == 1
    assert torch.allclose(vector, mean_pooled(model, dictionary, text.pieces(" ".join(best))), atol=1e-5)
    _, changed, _ = synonym_attack(model, dictionary, text, SynonymSubstituter({"zz": ["a1"]}), query, 0,
                                   y_vectors, -1, budget=1)
    assert changed == 0  # no word with neighbours: the query is left alone


def error_line(capsys, argv):
    assert retrieval_main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("weam-retrieval: error: "), err
    return err[0]


def test_bad_attack_inputs_get_one_line(capsys, tmp_path):
    data = str(aligned_data())
    base = [str(tmp_path / "missing.pt"), "--data", data]
    assert "expected comma-separated numbers" in error_line(capsys, base + ["--attack-radii", "a,b"])
    assert "every radius must be > 0" in error_line(capsys, base + ["--attack-radii", "0.5,-1"])
    assert "need --attack-radii" in error_line(capsys, base + ["--synonym-attack"])
    assert "missing.json: cannot read neighbours JSON" in error_line(
        capsys, base + ["--attack-radii", "1", "--neighbours", str(tmp_path / "missing.json")])
    assert "sentencepiece model not found" in error_line(capsys, base + ["--attack-radii", "1", "--synonym-attack"])
    assert "expected LABEL=report1.json" in error_line(capsys, ["--compare", "weam", "--curve-dir", str(tmp_path)])
    (tmp_path / "plain.json").write_text(json.dumps({"pairs": {}}))
    assert "run weam-retrieval with --attack-radii" in error_line(
        capsys, ["--compare", f"weam={tmp_path / 'plain.json'}", "--curve-dir", str(tmp_path)])


@pytest.mark.slow
def test_command_writes_the_robustness_curve_and_compares_seeds(tmp_path, capsys):
    checkpoint, _ = hybrid_training_run()
    out = tmp_path / "report.json"
    assert retrieval_main([str(checkpoint), "--data", str(aligned_data()), "--max-sentences", "16",
                           "--attack-radii", "0.1,1", "--pgd-steps", "2", "--output", str(out),
                           "--curve-dir", str(tmp_path / "curve")]) == 0
    report = json.loads(out.read_text())
    curve = report["attack_curve"]
    assert [p["radius"] for p in curve] == [0.0, 0.1, 1.0]
    # radius 0 is the clean sentence retrieval weam-retrieval reports without attack
    assert curve[0]["sentence_acc"] == pytest.approx(report["average"]["sentence_acc"], abs=1e-6)
    assert curve[0]["similarity"] > curve[1]["similarity"] > curve[2]["similarity"]
    assert (tmp_path / "curve" / "robustness_curve.png").stat().st_size > 1000
    assert json.loads((tmp_path / "curve" / "robustness_curve.json").read_text())["average"] == curve
    capsys.readouterr()
    assert retrieval_main(["--compare", f"a={out},{out}", "--compare", f"b={out}",
                           "--curve-dir", str(tmp_path / "cmp")]) == 0
    table = (tmp_path / "cmp" / "retrieval_summary.md").read_text()
    assert table.splitlines()[2].startswith(f"| a | 2 | {100 * curve[0]['sentence_acc']:.1f} ± 0.0 |")
