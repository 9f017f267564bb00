"""The official per-language metrics and the submission files, against figures computed by hand."""
import json

import pytest

from fairseq_weam.xtreme.metrics import (MetricsError, average_precision_at_k, mlqa_normalize, score_language,
                                         squad_normalize, unanswered)
from fairseq_weam.xtreme.predictions import (PredictionFormatError, read_labels, read_predictions, task_file,
                                             write_labels, write_predictions)


def squad_data(*questions):
    return [{"title": "t", "paragraphs": [{"context": "c", "qas": [
        {"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in answers]}
        for qid, answers in questions]}]}]


def test_squad_normalization_removes_case_ascii_punctuation_articles_and_extra_spaces():
    assert squad_normalize("  The Eiffel,  Tower! ") == "eiffel tower"
    assert squad_normalize("Anna and the theatre") == "anna and theatre"  # whole words only
    assert squad_normalize("¿perros?") == "¿perros"  # SQuAD: ASCII punctuation only


def test_mlqa_normalization_is_per_language():
    assert mlqa_normalize("¿Los perros?", "es") == "perros"
    assert mlqa_normalize("„Der große Hund“", "de") == "große hund"
    assert mlqa_normalize("北京大学，2008年", "zh") == "北 京 大 学 2008 年"
    assert mlqa_normalize("الكتاب", "ar") == "كتاب"
    assert mlqa_normalize("भारत।", "hi") == "भारत"  # the danda is Unicode punctuation
    assert mlqa_normalize("cái bàn của tôi", "vi") == "bàn tôi"
    with pytest.raises(MetricsError, match="no normalization for language 'fr'"):
        mlqa_normalize("le chat", "fr")


def test_qa_exact_match_and_f1_by_hand():
    gold = squad_data(("q1", ["The red house"]), ("q2", ["a big dog", "dog"]), ("q3", ["cat"]))
    predictions = {"q1": "red house.", "q2": "the big black dog", "other": "x"}
    scores = score_language("xquad", gold, predictions, "en")
    # q1 exact; q2: best of F1("big black dog" vs "big dog") = 2*(2/3*1)/(5/3) = 0.8 and vs "dog" = 0.5; q3 none
    assert scores == pytest.approx({"exact_match": 100 / 3, "f1": 100 * (1 + 0.8 + 0) / 3})
    assert unanswered(gold, predictions) == ["q3"]
    # MLQA Chinese: character tokens
    zh = score_language("mlqa", squad_data(("z", ["北京大学"])), {"z": "北京"}, "zh")
    assert zh == pytest.approx({"exact_match": 0.0, "f1": 100 * 2 * (1 * 0.5) / 1.5})
    # the same strings under SQuAD's normalization are one token each: no overlap
    assert score_language("xquad", squad_data(("z", ["北京大学"])), {"z": "北京"}, "zh")["f1"] == 0.0


def test_ner_f1_counts_whole_entities_only():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]
    # gold entities PER[0:2], LOC[3], ORG[0]; predicted PER[0:1] (wrong span), LOC, ORG: 2 of 3 right each way
    assert score_language("panx", gold, pred, "en") == pytest.approx(
        {"f1": 100 * 2 / 3, "precision": 100 * 2 / 3, "recall": 100 * 2 / 3})


def test_bucc_mewslix_lareqa_and_accuracy_by_hand():
    bucc = score_language("bucc2018", ["a\t1", "b\t2", "c\t3", "d\t4"], ["a\t1", "b\t9"], "de")
    assert bucc == pytest.approx({"f1": 100 * 2 * 0.5 * 0.25 / 0.75, "precision": 50.0, "recall": 25.0})
    others = [f"e{k}" for k in range(30)]
    gold = {"m1": ["G"], "m2": ["G"], "m3": ["G"], "m4": ["G"]}
    ranked = {"m1": ["G"] + others, "m2": others[:19] + ["G"], "m3": others[:20] + ["G"]}  # m4 unpredicted
    assert score_language("mewslix", gold, ranked, "en") == pytest.approx({"map@20": 100 * (1 + 1 / 20) / 4})
    # AP@20: targets a, b at ranks 1 and 3; a repeated prediction counts once; over min(#targets, 20)
    assert average_precision_at_k(["a", "b"], ["a", "x", "a", "b"]) == pytest.approx((1 + 2 / 4) / 2)
    assert average_precision_at_k([f"t{k}" for k in range(25)], [f"t{k}" for k in range(25)]) == 1.0
    lareqa = score_language("lareqa", {"q": ["a", "b"], "r": ["c"]}, {"q": ["a", "x", "b"]}, "en")
    assert lareqa == pytest.approx({"map@20": 100 * ((1 + 2 / 3) / 2 + 0) / 2})
    assert score_language("tatoeba", ["3", "5", "7"], [3, 5, 8], "de") == pytest.approx({"accuracy": 200 / 3})
    assert score_language("xcopa", [0, 1, 1, 0], [0, 1, 0, 0], "et") == {"accuracy": 75.0}


def test_count_mismatches_are_errors_naming_where():
    with pytest.raises(MetricsError, match=r"^p\.tsv: 1 examples predicted but the gold file has 2"):
        score_language("xnli", ["neutral", "entailment"], ["neutral"], "en", where="p.tsv")
    with pytest.raises(MetricsError, match=r"^p\.tsv:4: sentence 2 has 1 predicted tags"):
        score_language("udpos", [["NOUN", "VERB"], ["DET", "NOUN"]], [["NOUN", "VERB"], ["DET"]], "en",
                       where="p.tsv")


# Every task: what the writer writes is what the official reader's format is, and reads back.
ROUND_TRIPS = [
    ("xnli", ["neutral", "entailment"], "neutral\nentailment\n"),
    ("pawsx", ["1", "0"], "1\n0\n"),
    ("tatoeba", [12, 0], "12\n0\n"),
    ("bucc2018", [("de-1", "en-7")], "de-1\ten-7\n"),
    ("udpos", [["NOUN", "VERB"], ["PUNCT"]], "NOUN\nVERB\n\nPUNCT\n"),
    ("panx", [["B-PER", "I-PER"], ["O"]], "B-PER\nI-PER\n\nO\n"),
    ("xcopa", [1, {"idx": 4, "label": 0}], '{"label": 1}\n{"idx": 4, "label": 0}\n'),
]


@pytest.mark.parametrize("task, content, text", ROUND_TRIPS)
def test_line_formats_are_the_official_ones_and_read_back(tmp_path, task, content, text):
    path = write_predictions(tmp_path, task, "de", content)
    assert path == tmp_path / task / f"test-de.{'jsonl' if task == 'xcopa' else 'tsv'}"
    assert path.read_text(encoding="utf-8") == text
    expected = {"tatoeba": ["12", "0"], "bucc2018": ["de-1\ten-7"], "xcopa": [1, 0]}.get(task, content)
    assert read_predictions(path, task) == expected


def test_json_formats_read_back(tmp_path):
    data = squad_data(("q1", ["Köln"]))
    write_labels(tmp_path / "labels", "mlqa", "de", data)
    assert json.loads(task_file(tmp_path / "labels", "mlqa", "de").read_text())["data"] == data
    assert read_labels(task_file(tmp_path / "labels", "mlqa", "de"), "mlqa") == data
    path = write_predictions(tmp_path, "tydiqa", "ru", {"q1": "Москва"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"q1": "Москва"} and "Москва" in path.read_text()
    path = write_labels(tmp_path, "mewslix", "ja", {"m1": "Q5"})
    assert path.name == "test-ja.json" and read_labels(path, "mewslix") == {"m1": ["Q5"]}
    path = write_predictions(tmp_path, "lareqa", "el", {"q": ["c2", "c1"]})
    assert path.name == "test-el.json" and read_predictions(path, "lareqa") == {"q": ["c2", "c1"]}


@pytest.mark.parametrize("task, content, message", [
    ("xnli", ["neutral", "maybe"], "unknown prediction 'maybe'"),
    ("panx", [["B-PER", "I PER"]], "sentence 1: tag 'I PER' must be one word"),
    ("panx", [[]], "sentence 1 must be a non-empty list of tags"),
    ("tatoeba", [-1], "not a non-negative sentence index"),
    ("xcopa", [2], "must be 0 or 1"),
    ("xquad", {"q": 3}, "predictions must be a dict {question id: answer text}"),
    ("mewslix", ["Q1"], "expected a dict"),
])
def test_the_writer_refuses_what_the_official_scorer_could_not_read(tmp_path, task, content, message):
    with pytest.raises(PredictionFormatError, match=message.replace("{", r"\{").replace("}", r"\}")):
        write_predictions(tmp_path, task, "en", content)
    assert not (tmp_path / task / "test-en.tsv").exists()
    with pytest.raises(PredictionFormatError, match="bad language code"):
        write_predictions(tmp_path, "xnli", "../en", ["neutral"])


def test_qa_labels_without_answers_name_the_question(tmp_path):
    path = tmp_path / "test-en.json"
    path.write_text(json.dumps({"data": squad_data(("q1", []))}))
    with pytest.raises(PredictionFormatError, match=r"test-en.json: question 'q1' needs an 'id' and a non-empty"):
        read_labels(path, "xquad")
