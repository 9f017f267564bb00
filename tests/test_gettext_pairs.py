"""weam-gettext-pairs on a tiny locale tree written by the test: layout, labels, parallel rows, no leaks."""

import json

import pytest

from fairseq_weam.cli import gettext_pairs
from fairseq_weam.corpus.gettext_pair_task import PairTaskSettings, program_of, terms, write_task
from fairseq_weam.xtreme.io import check_parallel, read_pairs, read_test_sets
from test_gettext_bitext import write_mo

PROGRAMS = {
    "editor": [f"open the file number {i} now" for i in range(12)],
    "viewer-2": [f"show the picture number {i} please" for i in range(12)],
    "viewer-2-properties": [f"the picture zoom level {i}" for i in range(12)],   # same program as viewer-2
    "mailer": [f"send the mail number {i} today" for i in range(12)] + ["open the file number 0 now"],
}


@pytest.fixture
def locale_dir(tmp_path):
    root = tmp_path / "locale"
    for lang in ("de", "fr"):
        for domain, messages in PROGRAMS.items():
            entries = {m: f"{lang}: {m}" for m in messages}
            if lang == "fr" and domain == "editor":
                entries.pop(messages[-1])   # untranslated in fr: not usable
            write_mo(root / lang / "LC_MESSAGES" / f"{domain}.mo", entries)
    return root


def settings(locale_dir, **kw):
    kw = {"label": "same_program", "train_size": 40, **kw}
    return PairTaskSettings(langs=("de", "fr"), locale_dir=str(locale_dir), dev_size=8, test_size=8,
                            min_words=1, min_per_program=5, candidates=5, **kw)


def test_program_folding():
    assert program_of("gtk20-properties") == program_of("gtk20") == "gtk"
    assert program_of("postgres-15") == "postgres" and program_of("iso_3166-1") == "iso"


def test_task_layout_labels_and_parallel_rows(locale_dir, tmp_path):
    report = write_task(tmp_path / "task", settings(locale_dir))
    task = tmp_path / "task"
    assert report["pairs"] == {"train": 40, "dev": 8, "test": 8}
    assert set(report["programs"]) == {"editor", "viewer", "mailer"}
    assert (task / "labels.txt").read_text().splitlines() == ["0", "1"]
    assert report["counts"]["dropped_ambiguous_program"] == 2   # "open the file number 0 now": both programs
    program = {m: program_of(d) for d, ms in PROGRAMS.items() for m in ms}
    train = read_pairs(task / "train-en.tsv", ["0", "1"])
    for ex in train + read_pairs(task / "dev-en.tsv", ["0", "1"]):
        assert ex.label == str(int(program[ex.sentence1] == program[ex.sentence2]))
        assert ex.sentence1 != ex.sentence2
    tests = read_test_sets(task, ["0", "1"])
    assert list(tests) == ["en", "de", "fr"]
    check_parallel(task, tests)
    for en, de in zip(tests["en"], tests["de"]):
        assert (de.sentence1, de.sentence2) == (f"de: {en.sentence1}", f"de: {en.sentence2}")
    seen_in_training = {s for ex in train for s in (ex.sentence1, ex.sentence2)}
    assert not seen_in_training & {s for ex in tests["en"] for s in (ex.sentence1, ex.sentence2)}
    assert "open the file number 11 now" not in {s for ex in train for s in (ex.sentence1, ex.sentence2)}
    assert report["positive_share"]["train"] == 0.5
    # Deterministic for a seed.
    write_task(tmp_path / "again", settings(locale_dir))
    assert (tmp_path / "again" / "train-en.tsv").read_text() == (task / "train-en.tsv").read_text()


def test_cli_errors(locale_dir, tmp_path, capsys):
    assert gettext_pairs.main([str(tmp_path / "t"), "--langs", "xx", "--locale-dir", str(locale_dir)]) == 1
    assert "no gettext catalogs for language 'xx'" in capsys.readouterr().err
    (tmp_path / "exists").mkdir()
    assert gettext_pairs.main([str(tmp_path / "exists"), "--locale-dir", str(locale_dir)]) == 1
    assert "exists" in capsys.readouterr().err


def test_max_programs_keeps_the_largest(locale_dir, tmp_path):
    report = write_task(tmp_path / "task", settings(locale_dir, max_programs=2))
    # viewer: 24 messages (two domains folded); mailer: 12; editor: 10 (one ambiguous, one untranslated in fr)
    assert report["programs"] == {"mailer": 12, "viewer": 24}
    assert report["counts"]["dropped_other_program"] == 10


def test_shared_term_labels(locale_dir, tmp_path):
    report = write_task(tmp_path / "task", settings(locale_dir, label="shared_term"))
    rows = read_pairs(tmp_path / "task" / "train-en.tsv", ["0", "1"])
    assert len(rows) == 40 and report["positive_share"]["train"] == 0.5
    for ex in rows:   # e.g. "picture" is a shared term, "the"/"file" do not count
        assert ex.label == str(int(bool(terms(ex.sentence1) & terms(ex.sentence2)))), ex
    assert terms("Open the file, THEN save it: numbers") == {"numbers"}
    check_parallel(tmp_path / "task", read_test_sets(tmp_path / "task", ["0", "1"]))
    with pytest.raises(ValueError, match="unknown label kind"):
        write_task(tmp_path / "bad", settings(locale_dir, label="topic"))


def _overlap(ex):
    a, b = (set(s.lower().split()) for s in (ex.sentence1, ex.sentence2))
    return len(a & b) / len(a | b)


def test_random_and_overlap_negatives(tmp_path):
    """Random negatives (the default) are random term-disjoint messages; overlap negatives are harder."""
    import random
    rng = random.Random(0)
    short = ["the", "a", "to", "in", "on", "at", "by", "of", "is", "it", "an", "as"]
    letters = "abcdefghijklmnopqrstuvwxyz"
    messages = sorted({" ".join(rng.sample(short, 4) + ["term" + letters[i % 26], f"n{i}"]) for i in range(300)})
    root = tmp_path / "locale"
    for lang in ("de", "fr"):
        write_mo(root / lang / "LC_MESSAGES" / "app.mo", {m: f"{lang}: {m}" for m in messages})
    mean_negative_overlap = {}
    for negatives in ("random", "overlap"):
        out = tmp_path / negatives
        report = write_task(out, settings(root, label="shared_term", negatives=negatives, train_size=200))
        assert report["settings"]["negatives"] == negatives and report["positive_share"]["train"] == 0.5
        rows = read_pairs(out / "train-en.tsv", ["0", "1"])
        for ex in rows:
            assert ex.label == str(int(bool(terms(ex.sentence1) & terms(ex.sentence2)))), ex
        negative = [_overlap(ex) for ex in rows if ex.label == "0"]
        mean_negative_overlap[negatives] = sum(negative) / len(negative)
        tests = read_test_sets(out, ["0", "1"])
        check_parallel(out, tests)
        for en, fr in zip(tests["en"], tests["fr"]):
            assert (fr.sentence1, fr.sentence2, fr.label) == (f"fr: {en.sentence1}", f"fr: {en.sentence2}", en.label)
    assert mean_negative_overlap["overlap"] > mean_negative_overlap["random"] + 0.1, mean_negative_overlap
    with pytest.raises(ValueError, match="unknown negatives"):
        write_task(tmp_path / "bad", settings(root, negatives="hardest"))


def test_same_seed_same_task_other_seed_other_task(locale_dir, tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_task(tmp_path / name, settings(locale_dir, label="shared_term", seed=seed))
    for f in ("train-en.tsv", "dev-en.tsv", "test-en.tsv", "test-de.tsv", "test-fr.tsv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert (tmp_path / "a" / "train-en.tsv").read_bytes() != (tmp_path / "c" / "train-en.tsv").read_bytes()


def test_cli_succeeds_after_an_interrupted_run(locale_dir, tmp_path, capsys):
    """A killed run leaves `.OUT.tmp` behind; the next run must replace it, not fail forever (issue 8, item 14)."""
    stale = tmp_path / ".task.tmp"
    (stale / "sub").mkdir(parents=True)
    (stale / "train-en.tsv").write_text("half\twritten\n")
    (stale / "sub" / "junk").write_text("junk")
    argv = [str(tmp_path / "task"), "--langs", "de,fr", "--locale-dir", str(locale_dir), "--label", "shared_term",
            "--negatives", "overlap", "--candidates", "5", "--train-size", "20", "--dev-size", "4",
            "--test-size", "4", "--min-words", "1", "--min-per-program", "5"]
    assert gettext_pairs.main(argv) == 0, capsys.readouterr().err
    assert not stale.exists()
    assert sorted(p.name for p in (tmp_path / "task").iterdir()) == [
        "dev-en.tsv", "gettext_pairs_report.json", "labels.txt", "test-de.tsv", "test-en.tsv", "test-fr.tsv", "train-en.tsv"]
    assert len(read_pairs(tmp_path / "task" / "train-en.tsv", ["0", "1"])) == 20
    report = json.loads((tmp_path / "task" / "gettext_pairs_report.json").read_text())
    assert report["settings"]["negatives"] == "overlap" and report["settings"]["candidates"] == 5


def test_program_task_single_sentence_labels_balanced_and_parallel(locale_dir, tmp_path):
    """--label program: one text column, the label is the message's real program, classes balanced,
    test rows in de/fr are the translations of the English rows, and a rerun writes the same files."""
    s = settings(locale_dir, label="program", train_size=15)
    report = write_task(tmp_path / "task", s)
    task = tmp_path / "task"
    program = {m: program_of(d) for d, ms in PROGRAMS.items() for m in ms}
    labels = sorted(report["programs"])
    assert labels == ["editor", "mailer", "viewer"]
    assert (task / "labels.txt").read_text().splitlines() == labels   # finetune.sh's TASK=labels default
    assert report["label_counts"]["train"] == {p: 5 for p in labels}
    for name in ("train-en", "dev-en", "test-en", "test-de", "test-fr"):
        assert all(len(line.split("\t")) == 2 for line in (task / f"{name}.tsv").read_text().splitlines())
    train = read_pairs(task / "train-en.tsv", labels)
    dev = read_pairs(task / "dev-en.tsv", labels)
    for ex in train + dev:
        assert ex.sentence2 is None and ex.label == program[ex.sentence1]
    tests = read_test_sets(task, labels)
    assert list(tests) == ["en", "de", "fr"]
    for lang in ("de", "fr"):
        assert [(f"{lang}: {en.sentence1}", en.label) for en in tests["en"]] == \
               [(x.sentence1, x.label) for x in tests[lang]]
    assert not {ex.sentence1 for ex in train} & {ex.sentence1 for ex in tests["en"] + dev}
    write_task(tmp_path / "again", s)
    for name in ("train-en", "dev-en", "test-en", "test-de"):
        assert (task / f"{name}.tsv").read_bytes() == (tmp_path / "again" / f"{name}.tsv").read_bytes()


def test_program_task_cli(locale_dir, tmp_path, capsys):
    assert gettext_pairs.main([str(tmp_path / "task"), "--label", "program", "--langs", "de,fr", "--locale-dir",
                               str(locale_dir), "--train-size", "9", "--dev-size", "3", "--test-size", "3",
                               "--min-words", "1", "--min-per-program", "5", "--max-programs", "2"]) == 0
    rows = (tmp_path / "task" / "train-en.tsv").read_text().splitlines()
    assert len(rows) == 8 and len({r.split("\t")[1] for r in rows}) == 2   # 2 largest programs, 4 each
