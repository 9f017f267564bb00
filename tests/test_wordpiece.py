"""WordPiece pieces (``##`` continuations) through the one word-boundary module, as every caller uses it."""
from fairseq.data import Dictionary

from fairseq_weam.text.pieces import (
    piece_of_wordpiece, word_ids, word_spans, word_start_table, wordpiece_of_piece, words_from_pieces,
)

TOKENS = ["un", "##believ", "##able", "!", "über", "##all", "##", "x"]


def grouped(tokens):
    """Words as WordPiece defines them, written out here: ``##x`` (x non-empty) continues the word before."""
    words = []
    for k, t in enumerate(tokens):
        if k and t.startswith("##") and len(t) > 2:
            words[-1] += t[2:]
        else:
            words.append(t)
    return words


def test_spelled_wordpieces_give_wordpiece_words_and_spans():
    pieces = [piece_of_wordpiece(t) for t in TOKENS]
    assert pieces == ["▁un", "believ", "able", "▁!", "▁über", "all", "▁##", "▁x"]
    assert words_from_pieces(pieces) == grouped(TOKENS) == ["unbelievable", "!", "überall", "##", "x"]
    assert word_spans(pieces) == [range(0, 3), range(3, 4), range(4, 6), range(6, 7), range(7, 8)]
    assert [wordpiece_of_piece(p) for p in pieces] == TOKENS


def test_word_start_table_of_a_wordpiece_dictionary_follows_continuations():
    d = Dictionary()
    for t in TOKENS:
        d.add_symbol(piece_of_wordpiece(t))
    d.add_symbol("<mask>")
    table = word_start_table(d)
    ids = [d.bos()] + [d.index(piece_of_wordpiece(t)) for t in TOKENS] + [d.eos()]
    expected_starts = [True] + [not (k and t.startswith("##") and len(t) > 2) for k, t in enumerate(TOKENS)] + [True]
    assert table[ids].tolist() == expected_starts
    assert word_ids(ids, table).tolist() == [0, 1, 1, 1, 2, 3, 3, 4, 5, 6]
    assert table[d.index("<mask>")]
