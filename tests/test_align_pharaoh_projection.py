"""Pharaoh parsing and validation, and word -> piece projection."""
import random

import pytest

from fairseq_weam.align.pharaoh import (
    AlignmentError, format_links, parse_link_block, parse_links, read_pharaoh_file, read_valid_links,
)
from fairseq_weam.align.piece_projection import project_links
from fairseq_weam.text.pieces import word_layout, word_spans, words_from_pieces


def test_parse_and_format():
    assert parse_links("2-1 0-0  1-1\n") == {(0, 0), (1, 1), (2, 1)}
    assert format_links({(2, 1), (0, 0), (1, 1)}) == "0-0 1-1 2-1"
    assert parse_links("") == frozenset()


@pytest.mark.parametrize("token", ["0-", "a-1", "1:2", "1-2-3", "-1-2", "3"])
def test_malformed_link_names_file_and_line(tmp_path, token):
    path = tmp_path / "x.align"
    path.write_text(f"0-0\n0-0 {token}\n")
    with pytest.raises(AlignmentError, match=rf"x\.align:2: malformed link '{token}'"):
        read_pharaoh_file(path)


def test_link_outside_sentence():
    with pytest.raises(AlignmentError, match=r"f:7: link 3-0 is outside the sentence pair \(3 source and 2 target"):
        read_valid_links("0-0 3-0", 3, 2, "f:7")
    with pytest.raises(AlignmentError, match="link 0-2"):
        read_valid_links("0-2", 3, 2, "f:7")
    assert read_valid_links("0-2", 3, 2, "f:7", on_bad_link="skip") is None
    assert read_valid_links("x", 3, 2, "f:7", on_bad_link="skip") is None
    assert read_valid_links("2-1", 3, 2, "f:7", on_bad_link="skip") == {(2, 1)}


def test_words_are_runs_of_pieces_from_a_boundary():
    pieces = ["▁Sicher", "heits", "kopie", "▁von", "▁", "文件", "."]
    assert word_spans(pieces) == [range(0, 3), range(3, 4), range(4, 7)]
    assert words_from_pieces(pieces) == ["Sicherheitskopie", "von", "文件."]
    assert words_from_pieces(["▁", "▁a"]) == ["▁", "a"]  # a lone boundary piece stays a word
    assert word_spans(["ab", "▁c"]) == [range(0, 1), range(1, 2)]  # the first piece always starts a word
    assert word_spans([]) == []


def test_projection_every_piece_and_first_piece_only():
    src = word_spans(["▁Zoom", "▁in", "g"])          # words: [0], [1, 2]
    tgt = word_spans(["▁Ver", "größ", "ern"])         # word: [0, 1, 2]
    assert project_links({(0, 0)}, src, tgt) == {(0, 0), (0, 1), (0, 2)}
    assert project_links({(1, 0)}, src, tgt) == {(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)}
    assert project_links({(1, 0)}, src, tgt, first_piece_only=True) == {(1, 0)}
    assert project_links(set(), src, tgt) == frozenset()


def test_word_layout_of_many_lines_equals_word_spans():
    rng = random.Random(5)
    choices = ["▁Sicher", "heits", "▁", "文件", "e▁", "▁😀", "ß", "▁a▁b"]
    lines = [[rng.choice(choices) for _ in range(rng.randint(1, 8))] for _ in range(300)]
    layout = word_layout([" ".join(pieces) for pieces in lines])
    for n, pieces in enumerate(lines):
        first_word, first_piece = layout.word_offset[n], layout.piece_offset[n]
        words = [range(layout.word_start[w] - first_piece, layout.word_end[w] - first_piece)
                 for w in range(first_word, first_word + layout.words[n])]
        assert layout.pieces[n] == len(pieces) and words == word_spans(pieces)
    for odd in (["▁a  ▁b"], ["▁a", ""], ["▁a\tb"], [" ▁a"], ["▁a\x1cb"], []):
        assert word_layout(odd) is None, odd


def test_link_block_equals_lines_parsed_one_by_one():
    lines = ["0-0 2-1  1-1", "", "10-3", "0-0 0-0"]
    numbers, counts = parse_link_block("".join(line + "\n" for line in lines))
    assert counts == [len(line.split()) for line in lines]
    pairs = list(zip(numbers[0::2].tolist(), numbers[1::2].tolist()))
    assert pairs == [tuple(map(int, token.split("-"))) for line in lines for token in line.split()]
    for bad in ("0-0 1-\n", "0-0 a-1\n", "1-2-3\n", "3\n", "-1-2\n", "0-0 ٣-1\n", "1:2\n"):
        assert parse_link_block(bad) is None, bad
