"""Tatoeba, LAReQA and Mewsli-X end to end with a tiny masked_lm: XTREME-layout fixtures -> evaluate() ->
predictions files, with accuracy / mAP@20 recomputed in numpy from per-sentence (unbatched) pooled states."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from weam_testing import TINY_ROBERTA, USER_DIR, run, tool, write_lines
from xtreme_testing import train_spm

from fairseq_weam.xtreme import retrieval_data
from fairseq_weam.xtreme.io import XtremeDataError
from fairseq_weam.xtreme.requests import EvaluateRequest

EN = ["the cat sleeps", "a dog runs home", "we eat bread", "the sun is hot", "she reads a book", "rain falls"]
RU = ["кошка спит", "собака бежит домой", "мы едим хлеб", "солнце горячее", "она читает книгу", "идёт дождь"]
DE = ["die katze schläft", "ein hund läuft heim", "wir essen brot", "die sonne ist heiß", "sie liest ein buch",
      "es regnet"]


def sorted_english(lines):
    return [lines[i] for i in sorted(range(len(lines)), key=lambda i: lines[i])]


def write_tatoeba(root):
    root = Path(root)
    for lang, src in (("ru", RU), ("de", DE)):
        write_lines(root / f"{lang}-en.{lang}", src)
        write_lines(root / f"{lang}-en.en", sorted_english(EN))
    write_lines(root / "tatoeba.rus-eng.eng", EN)  # LASER's unsorted English: the gold of ru only
    return root


def squad(lang, texts, questions):
    paragraphs = []
    for p, sentences in enumerate(texts):
        context, breaks = "", []
        for s in sentences:
            breaks.append([len(context), len(context) + len(s)])
            context += s + " "
        qas = [{"id": f"q{p}{k}", "question": q, "answers": [{"text": sentences[k], "answer_start": breaks[k][0]}]}
               for k, q in enumerate(questions[p])]
        paragraphs.append({"context": context.strip(), "sentence_breaks": breaks, "qas": qas})
    return {"data": [{"title": lang, "paragraphs": paragraphs}]}


def write_lareqa(root):
    root = Path(root) / "xquad-r"
    root.mkdir(parents=True)
    (root / "en.json").write_text(json.dumps(squad("en", [EN[:3], EN[3:]], [["who sleeps", "who runs"],
                                                                           ["what is hot"]])))
    (root / "ru.json").write_text(json.dumps(squad("ru", [RU[:3], RU[3:]], [["кто спит", "кто бежит"],
                                                                           ["что горячее"]]), ensure_ascii=False))
    return root.parent


ENTITIES = [(f"Q{i}", f"{w} is a thing number {i}") for i, w in enumerate(EN + RU + DE + EN + RU)]


def write_mewslix(root, gold):
    root = Path(root)
    write_lines(root / "candidate_set_entities.jsonl", [json.dumps(
        {"entity_id": e, "title": e, "description": d, "sentence_spans": [{"start": 0, "end": len(d)}],
         "description_language": "en", "description_url": ""}, ensure_ascii=False) for e, d in ENTITIES])
    for lang, sentences in (("en", EN), ("uk", RU)):  # Cyrillic; ru is no Mewsli-X language
        rows, labels = [], {}
        for i, s in enumerate(sentences):
            text = f"Intro here. {s} {{x}} today."
            start = text.index(s)
            word = s.split()[1]
            m_start = start + s.index(word)
            mention = {"example_id": f"{lang}{i}", "entity_id": "" if lang == "uk" else gold.get(f"{lang}{i}", "Q0"),
                       "mention_span": {"start": m_start, "end": m_start + len(word), "text": word}}
            labels[f"{lang}{i}"] = [mention["entity_id"]]
            rows.append(json.dumps({"context": {"text": text, "language": lang, "document_id": f"d{i}",
                                                "sentence_spans": [{"start": 0, "end": 11},
                                                                   {"start": 12, "end": len(text)}]},
                                    "mentions": [mention]}, ensure_ascii=False))
        write_lines(root / "wikinews_mentions" / f"test-{lang}.jsonl", rows)
        write_lines(root / "wikinews_labels" / f"test-{lang}.json", [json.dumps(labels)])
    return root


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """(spm model, dict, masked_lm checkpoint) trained a few updates on the fixtures' text."""
    base = tmp_path_factory.mktemp("retrieval_lm")
    text = EN + RU + DE + [d for _, d in ENTITIES] + ["who sleeps", "кто спит", "Intro here (x) today"]
    write_lines(base / "text" / "all.tsv", [f"{t}\t{t}" for t in text])
    model, dictionary = train_spm(base / "spm", base / "text")
    import sentencepiece as spm
    proc = spm.SentencePieceProcessor(model_file=str(model))
    write_lines(base / "train.txt", [" ".join(proc.encode(t, out_type=str)) for t in text * 4])
    run([tool("fairseq-preprocess"), "--only-source", "--srcdict", dictionary, "--trainpref", base / "train.txt",
         "--validpref", base / "train.txt", "--destdir", base / "bin", "--workers", "1"])
    run([tool("fairseq-train"), base / "bin", "--user-dir", USER_DIR, "--task", "masked_lm", "--criterion",
         "masked_lm", *TINY_ROBERTA, "--tokens-per-sample", "32", "--optimizer", "adam", "--lr", "1e-3",
         "--batch-size", "8", "--max-update", "4", "--cpu", "--num-workers", "0", "--seed", "1",
         "--save-dir", base / "ckpt", "--no-epoch-checkpoints", "--disable-validation"])
    return model, dictionary, base / "ckpt" / "checkpoint_last.pt"


def request(lm, task, task_dir, out, layer=-1):
    return EvaluateRequest(task=task, checkpoint=str(lm[2]), task_dir=str(task_dir), spm_model=str(lm[0]),
                           dictionary=str(lm[1]), out_dir=str(out), layer=layer, batch_size=4)


def pooled(embedder, texts, layer):
    """Independent pooling: one unpadded sentence at a time, mean over the non-special positions, normalized."""
    out = []
    with torch.no_grad():
        for t in texts:
            ids = embedder.ids(t)
            tokens = torch.cat([torch.tensor([0]), ids, torch.tensor([2])]).unsqueeze(0)
            _, extra = embedder.model(tokens, features_only=True, return_all_hiddens=True)
            v = extra["inner_states"][layer][1:-1, 0].mean(0).numpy()
            out.append(v / np.linalg.norm(v))
    return np.stack(out)


def ap_at_20(targets, ranked):
    hits, total = 0, 0.0
    for rank, c in enumerate(ranked[:20], 1):
        if c in targets:
            hits += 1
            total += hits / rank
    return total / min(len(targets), 20)


@pytest.mark.slow
def test_tatoeba_accuracy_equals_numpy_nearest_neighbours(workdir, tiny_lm):
    from fairseq_weam.evaluation import retrieval_tasks
    task_dir = write_tatoeba(workdir / "tatoeba")
    req = request(tiny_lm, "tatoeba", task_dir, workdir / "out", layer=1)
    results = retrieval_tasks.evaluate(req, progress=lambda m: None)
    assert results["languages"] == ["ru"] and results["unscored"] == ["de"]
    embedder = retrieval_tasks.Embedder(req)
    english = sorted_english(EN)
    similarity = pooled(embedder, english, 1) @ pooled(embedder, RU, 1).T
    nearest = similarity.argmax(1)
    written = [int(x) for x in (workdir / "out" / "predictions" / "tatoeba" / "test-ru.tsv").read_text().split()]
    assert written == nearest.tolist()
    gold = [EN.index(e) for e in english]
    assert results["scores"]["ru"]["accuracy"] == pytest.approx(100 * np.mean(nearest == np.array(gold)))
    assert (workdir / "out" / "predictions" / "tatoeba" / "test-de.tsv").read_text().count("\n") == 6


@pytest.mark.slow
def test_lareqa_map_at_20_equals_numpy(workdir, tiny_lm):
    from fairseq_weam.evaluation import retrieval_tasks
    task_dir = write_lareqa(workdir / "lareqa")
    req = request(tiny_lm, "lareqa", task_dir, workdir / "out")
    results = retrieval_tasks.evaluate(req, progress=lambda m: None)
    data = retrieval_data.read_lareqa(task_dir)
    assert len(data.candidates) == 12 and data.gold["q00_en"] == ["en_1_0", "ru_1_0"]
    embedder = retrieval_tasks.Embedder(req)
    pool = pooled(embedder, [f"{c.sentence} {c.context}" for c in data.candidates], -1)
    for lang in ("en", "ru"):
        qs = [q for q in data.questions if q.lang == lang]
        scores = pooled(embedder, [q.text for q in qs], -1) @ pool.T
        expected = np.mean([ap_at_20(set(data.gold[q.uid]), [data.candidates[i].uid for i in np.argsort(-s)])
                            for q, s in zip(qs, scores)])
        assert results["scores"][lang]["map@20"] == pytest.approx(100 * expected, abs=1e-4)


@pytest.mark.slow
def test_mewslix_map_at_20_and_gold_beyond_20_scores_zero(workdir, tiny_lm):
    from fairseq_weam.evaluation import retrieval_tasks
    task_dir = write_mewslix(workdir / "mewslix", {})
    req = request(tiny_lm, "mewslix", task_dir, workdir / "out")
    embedder = retrieval_tasks.Embedder(req)
    mentions = retrieval_data.read_mewslix_mentions(task_dir, "en")
    assert mentions[0].query == "cat: the { cat } sleeps (x) today."
    pool = pooled(embedder, [d for _, d in ENTITIES], -1)
    scores = pooled(embedder, [m.query for m in mentions], -1) @ pool.T
    order = np.argsort(-scores, axis=1)
    # en0's gold is its last-ranked entity (rank 30 > 20: reciprocal rank 0), en1's its third, the rest first
    gold = {"en0": ENTITIES[order[0, -1]][0], "en1": ENTITIES[order[1, 2]][0]}
    gold.update({f"en{i}": ENTITIES[order[i, 0]][0] for i in range(2, 6)})
    write_mewslix(task_dir, gold)
    results = retrieval_tasks.evaluate(req, progress=lambda m: None)
    assert results["languages"] == ["en"] and results["unscored"] == ["uk"]
    assert results["scores"]["en"]["map@20"] == pytest.approx(100 * (0 + 1 / 3 + 4) / 6, abs=1e-4)
    written = json.loads((workdir / "out" / "predictions" / "mewslix" / "test-en.json").read_text())
    assert written["en1"][:3] == [ENTITIES[i][0] for i in order[1, :3]] and len(written["en0"]) == 20
    assert (workdir / "out" / "predictions" / "mewslix" / "test-uk.json").is_file()


def test_malformed_retrieval_inputs_name_the_file(workdir):
    root = write_tatoeba(workdir / "t")
    write_lines(root / "ru-en.ru", RU[:3] + ["", *RU[4:]])
    with pytest.raises(XtremeDataError, match=r"ru-en.ru:4: empty line"):
        retrieval_data.read_tatoeba(root, "ru")
    write_lines(root / "ru-en.ru", RU[:5])
    with pytest.raises(XtremeDataError, match=r"ru-en.en: 6 sentences, but ru-en.ru has 5"):
        retrieval_data.read_tatoeba(root, "ru")
    m = write_mewslix(workdir / "m", {})
    path = m / "wikinews_mentions" / "test-en.jsonl"
    path.write_text(path.read_text().splitlines()[0] + "\n{broken\n")
    with pytest.raises(XtremeDataError, match=r"test-en.jsonl:2: not a JSON object"):
        retrieval_data.read_mewslix_mentions(m, "en")


@pytest.mark.slow
def test_weam_evaluate_command_runs_tatoeba_into_a_shared_predictions_folder(workdir, tiny_lm):
    task_dir = write_tatoeba(workdir / "tatoeba")
    proc = run([tool("weam-evaluate"), "--task", "tatoeba", "--checkpoint", tiny_lm[2], "--task-dir", task_dir,
                "--spm-model", tiny_lm[0], "--dict", tiny_lm[1], "--out-dir", workdir / "out", "--layer", "1",
                "--predictions-dir", workdir / "submission"])
    results = json.loads((workdir / "out" / "results.json").read_text())
    assert results["task"] == "tatoeba" and results["scores"]["ru"]["accuracy"] == results["avg_metric"]
    assert "| ru |" in proc.stdout
    assert (workdir / "submission" / "tatoeba" / "test-ru.tsv").read_text().count("\n") == 6
    # classification-only flags are refused for another family, in one line
    bad = run([tool("weam-evaluate"), "--task", "tatoeba", "--checkpoint", tiny_lm[2], "--task-dir", task_dir,
               "--spm-model", tiny_lm[0], "--dict", tiny_lm[1], "--out-dir", workdir / "bad", "--pgd-eps", "1"],
              check=False)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "weam-evaluate: error: --pgd-eps: for sentence classification only, not tatoeba")
