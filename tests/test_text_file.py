"""Every line-oriented reader of user files goes through fairseq_weam.text_file: the same file:line error for
bytes that are not UTF-8, the same missing-file error, and a byte order mark dropped."""
import pytest

from fairseq_weam.text_file import numbered_lines
from fairseq_weam.errors import WeamError
from fairseq_weam.xtreme.io import read_pairs
from fairseq_weam.xtreme.predictions import read_predictions
from fairseq_weam.xtreme.retrieval_data import read_tatoeba
from fairseq_weam.xtreme.tagging import TASK_TAGS, read_tagged
from fairseq_weam.xtreme.xcopa import read_xcopa

BAD = b"\xff\xfe"


def test_lines_numbered_newlines_and_bom_dropped(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufefffirst\r\nsecond\n\nlast".encode("utf-8"))
    assert list(numbered_lines(path)) == [(1, "first"), (2, "second"), (3, ""), (4, "last")]


def test_skip_mode_yields_none_for_bad_lines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"ok\n" + BAD + b"\nok2\n")
    assert list(numbered_lines(path, on_bad_utf8="skip")) == [(1, "ok"), (2, None), (3, "ok2")]


def _tsv(path):
    path.write_bytes(b"a b\tc d\tentailment\nx " + BAD + b"\ty\tneutral\n")
    return lambda: read_pairs(path, ("entailment", "neutral", "contradiction"))


def _tags(path):
    path.write_bytes(b"Paris\tPROPN\n" + BAD + b"\tNOUN\n")
    return lambda: read_tagged(path, TASK_TAGS["udpos"])


def _xcopa(path):
    path.write_bytes(b'{"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": 0}\n'
                     b'{"premise": "' + BAD + b'"}\n')
    return lambda: read_xcopa(path)


def _predictions(path):
    path.write_bytes(b"entailment\n" + BAD + b"\n")
    return lambda: read_predictions(path, "xnli")


def _tatoeba(path):
    (path.parent / "de-en.en").write_bytes(b"one\ntwo\n")
    (path.parent / "de-en.de").write_bytes(b"eins\n" + BAD + b"\n")
    return lambda: read_tatoeba(path.parent, "de")


@pytest.mark.parametrize("make, name", [(_tsv, "test-en.tsv"), (_tags, "test-de.tsv"), (_xcopa, "test-et.jsonl"),
                                        (_predictions, "test-de.tsv"), (_tatoeba, "de-en.de")])
def test_every_reader_names_file_and_line_of_bad_bytes(tmp_path, make, name):
    read = make(tmp_path / name)
    with pytest.raises(WeamError, match=rf"{name}:2: bytes that are not UTF-8 \(invalid start byte at byte \d"):
        read()


@pytest.mark.parametrize("make", [_tsv, _tags, _xcopa, _predictions])
def test_every_reader_names_a_missing_file(tmp_path, make):
    path = tmp_path / "missing.tsv"
    read = make(path)
    path.unlink()
    with pytest.raises(WeamError, match=r"missing\.tsv: no such file"):
        read()
