"""weam-augment and the synonym substitution it uses: case/punctuation awareness, determinism, reports."""
import json
import random
from collections import Counter

import pytest

from fairseq_weam.cli import augment as augment_cli
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter, load_neighbours, split_token
from weam_testing import run, tool, write_lines

NEIGHBOURS = {"good": ["fine", "nice"], "movie": ["film"], "bad": [], "the": []}


@pytest.fixture
def neighbours_file(tmp_path):
    path = tmp_path / "neighbours.json"
    path.write_text(json.dumps(NEIGHBOURS))
    return path


def test_case_and_punctuation_are_restored(neighbours_file):
    sub = SynonymSubstituter(load_neighbours(neighbours_file))
    assert split_token("(Good!") == ("(", "Good", "!")
    seen = Counter()
    rng = random.Random(0)
    for _ in range(300):
        out = sub.perturb('"Good" MOVIE, the bad movie.', rng)
        first, second, _, _, last = out.split()
        assert first in {'"Good"', '"Fine"', '"Nice"'}
        assert second in {"MOVIE,", "FILM,"}
        assert last in {"movie.", "film."}
        seen[first] += 1
    # Uniform over [word] + neighbours: each of the 3 options about 1/3 of the time.
    assert all(80 < seen[w] < 120 for w in ('"Good"', '"Fine"', '"Nice"')), seen
    assert sub.perturb("nothing to do here", rng) == "nothing to do here"


def test_cli_copies_keep_clean_determinism_and_report(tmp_path, neighbours_file):
    src = tmp_path / "task"
    rows = ["The good movie.\tA Good film!\t1", "no neighbours here\tnone at all\t0"]
    write_lines(src / "train-en.tsv", rows)
    write_lines(src / "dev-en.tsv", ["a\tb\t0"])
    write_lines(src / "test-de.tsv", ["c\td\t1"])
    proc = run([tool("weam-augment"), src, tmp_path / "out", "--neighbours", neighbours_file, "--copies", "4",
                "--keep-clean", "--seed", "3", "--task", "pawsx"])
    lines = (tmp_path / "out" / "train-en.tsv").read_text().splitlines()
    assert len(lines) == 2 * 5
    assert lines[0] == rows[0] and lines[5] == rows[1]          # clean original first
    assert all(line.endswith("\t1") for line in lines[:5]) and all(line.endswith("\t0") for line in lines[5:])
    assert lines[6:] == [rows[1]] * 4                            # nothing to substitute
    assert (tmp_path / "out" / "test-de.tsv").read_text() == "c\td\t1\n"
    report = json.loads((tmp_path / "out" / "augment_report.json").read_text())
    assert report["examples"] == 2 and report["written"] == 10
    assert report["examples_changed_share"] == 0.5
    assert "50.0% of the pairs changed" in proc.stdout
    # Same seed, same output; another seed, another output.
    augment_cli.main([str(src), str(tmp_path / "again"), "--neighbours", str(neighbours_file), "--copies", "4",
                      "--keep-clean", "--seed", "3", "--task", "pawsx"])
    assert (tmp_path / "again" / "train-en.tsv").read_text() == "\n".join(lines) + "\n"
    augment_cli.main([str(src), str(tmp_path / "other"), "--neighbours", str(neighbours_file), "--copies", "4",
                      "--seed", "4", "--task", "pawsx"])
    other = (tmp_path / "other" / "train-en.tsv").read_text().splitlines()
    assert len(other) == 8 and other[:4] != lines[1:5]


@pytest.mark.parametrize("content,message", [
    ("[1, 2]", "expected a JSON object"),
    ('{"good": "fine"}', "neighbours of 'good' must be a list"),
    ("{not json", "cannot read neighbours JSON"),
])
def test_bad_neighbours_file(tmp_path, capsys, content, message):
    write_lines(tmp_path / "task" / "train-en.tsv", ["a\tb\t0"])
    (tmp_path / "n.json").write_text(content)
    assert augment_cli.main([str(tmp_path / "task"), str(tmp_path / "out"), "--neighbours",
                             str(tmp_path / "n.json"), "--task", "pawsx"]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_unlabelled_training_line_is_an_error(tmp_path, capsys, neighbours_file):
    write_lines(tmp_path / "task" / "train-en.tsv", ["a\tb\t0", "good\tmovie"])
    assert augment_cli.main([str(tmp_path / "task"), str(tmp_path / "out"), "--neighbours", str(neighbours_file),
                             "--task", "pawsx"]) == 1
    assert "train-en.tsv:2: no label" in capsys.readouterr().err
