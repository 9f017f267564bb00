"""``--aligner-input text``: the aligner reads the cleaned text as sentencepiece normalizes it, so it starts before
sentencepiece is trained. Its words are the ``▁``-words of the pieces (checked here against sentencepiece's own
encoding of hostile text), the output equals that of aligning the pieces (pairs dropped by encoding included), and
a pair whose words differ loses its links and is counted."""
import json

import pytest
import sentencepiece as spm
from test_prepare_overlap import fake_aligner
from test_prepare_pipeline import config, make_raw, read_lines

from fairseq_weam.prepare import piece_alignment
from fairseq_weam.prepare.pipeline import prepare
from fairseq_weam.prepare.sentencepiece_model import train_sentencepiece

HOSTILE = [
    "plain words here", "  leading and   inner\tspaces ", "ﬁle ﬂow ﬀ", "ＦＵＬＬ　ｗｉｄｔｈ　１２３", "a ¨ b ´ c",
    "zero\u200bwidth joiner\u200d here", "soft\u00adhyphen", "x ( y ) z", "e\u0301 combining", "Ⅻ ① ㎏ ™",
    "emoji 😀👍🏽 done", "עברית مرحبا", "a\u00a0b\u2009c", "tab\u3000ideographic", "dots…and—dashes",
    "literal ▁ boundary ▁x", "Ǆ ǅ ǆ", "ﾊﾝｶｸ ｶﾀｶﾅ", "\u2028line sep", "x\u0007bell",
]


def piece_words(processor, text):
    """The ``▁``-words of sentencepiece's encoding of ``text``, computed here from the pieces alone."""
    words = []
    for piece in processor.encode(text, out_type=str):
        if piece.startswith("▁") or not words:
            words.append(piece)
        else:
            words[-1] += piece
    return " ".join(w.replace("▁", "") or "▁" for w in words)


def test_text_words_are_the_piece_words_of_a_trained_and_a_given_model(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.write_text("\n".join(HOSTILE * 3 + ["some more ordinary text for the model"] * 20) + "\n", encoding="utf-8")
    model = tmp_path / "m.model"
    train_sentencepiece([corpus], model, vocab_size=120)
    processor = spm.SentencePieceProcessor(model_file=str(model))
    cleaned = [" ".join(text.split()) + "\n" for text in HOSTILE]  # as cleaning leaves it
    for source in ("rule:" + piece_alignment.TRAINED_NORMALIZATION, str(model)):
        lines, words = piece_alignment._text_words_task(([cleaned, cleaned[::-1]], source))
        assert lines == len(HOSTILE) and words[0][0] == "".join(piece_words(processor, text[:-1]) + "\n" for text in cleaned)
        assert words[1][0] == "".join(piece_words(processor, text[:-1]) + "\n" for text in cleaned[::-1])


def prepared(tmp_path, name, monkeypatch, **overrides):
    fake = fake_aligner(tmp_path, monkeypatch)
    cfg = config(tmp_path, dest_dir=str(tmp_path / name), aligner="fast_align", fast_align_bin=fake, workers=2,
                 max_ratio=1.5, **overrides)
    prepare(cfg, log=lambda *_: None)
    return tmp_path / name


@pytest.mark.slow
def test_text_input_gives_the_pieces_output_and_starts_before_sentencepiece(tmp_path, monkeypatch):
    raw = make_raw(tmp_path / "RAW", pairs=(("en", "de"), ("en", "fr")))
    for split in ("train", "valid"):  # pairs that encoding drops (length ratio), in both splits
        for lang, text in (("en", "w1 w2 w3 w4 w5 w6 w7 w8"), ("de", "W1")):
            path = raw / f"{split}.en-de.{lang}"
            lines = read_lines(path)
            path.write_text("\n".join(lines[:3] + [text] + lines[3:] + [text]) + "\n", encoding="utf-8")
    text = prepared(tmp_path, "TEXT", monkeypatch)
    pieces = prepared(tmp_path, "PIECES", monkeypatch, aligner_input="pieces")
    report = json.loads((text / "prep_report.json").read_text())
    assert report["pairs"]["en-de"]["train"]["drops"]["length_ratio"] == 2
    assert report["pairs"]["en-de"]["valid"]["drops"]["length_ratio"] == 2
    for pair in ("en-de", "en-fr"):
        for split in ("train", "valid"):
            assert read_lines(text / f".work/pieces/{split}.{pair}.align") == read_lines(pieces / f".work/pieces/{split}.{pair}.align")
            assert report["pairs"][pair][split]["words_changed"] == 0
            assert (text / f"{split}.align.{pair}.bin").read_bytes() == (pieces / f"{split}.align.{pair}.bin").read_bytes()
    steps = {name: (start, end) for name, start, end in report["timeline"]}
    assert steps["aligner:en-de"][0] < steps["sentencepiece"][1]  # the first aligner ran while sentencepiece trained
    assert steps["aligner:en-de"][0] <= steps["clean:en-fr"][0]  # and started before the next pair was cleaned
    assert steps["aligner:en-de"][1] <= steps["aligner:en-fr"][0]  # the next one queued after it, never both at once
    piece_steps = {name: (start, end) for name, start, end in json.loads((pieces / "prep_report.json").read_text())["timeline"]}
    assert piece_steps["aligner:en-de"][0] >= piece_steps["encode:en-de"][1]


@pytest.mark.slow
def test_a_pair_whose_text_words_differ_loses_its_links_and_is_counted(tmp_path, monkeypatch):
    make_raw(tmp_path / "RAW")
    wrong = read_lines(tmp_path / "RAW/train.en-de.en")[5]
    words_line = piece_alignment.text_words_line
    monkeypatch.setattr(piece_alignment, "text_words_line",  # the workers are forked after this
                        lambda normalized: words_line(normalized) + (" extra" if normalized == "▁" + wrong.replace(" ", "▁") else ""))
    text = prepared(tmp_path, "TEXT", monkeypatch)
    monkeypatch.setattr(piece_alignment, "text_words_line", words_line)
    pieces = prepared(tmp_path, "PIECES", monkeypatch, aligner_input="pieces")
    text_links, piece_links = (read_lines(d / ".work/pieces/train.en-de.align") for d in (text, pieces))
    assert text_links[5] == "" and piece_links[5] != ""
    assert text_links[:5] + text_links[6:] == piece_links[:5] + piece_links[6:]
    report = json.loads((text / "prep_report.json").read_text())
    assert report["pairs"]["en-de"]["train"]["words_changed"] == 1
    assert "1 pairs without links" in (text / "prep_report.txt").read_text()


def test_queued_aligners_run_one_after_the_other_and_not_after_a_failure(tmp_path, monkeypatch):
    from fairseq_weam.align.external_tool import AlignerError
    from fairseq_weam.align.word_aligners import BackgroundAligner

    fake = fake_aligner(tmp_path, monkeypatch, seconds=0.5)
    for side in ("src", "tgt"):
        (tmp_path / side).write_text("a b\nc\n", encoding="utf-8")

    def aligner(name, after=None):
        out = tmp_path / name
        out.mkdir()
        return BackgroundAligner(tmp_path / "src", tmp_path / "tgt", out / "f", out / "r", "fast_align", fake, None,
                                 tmp_path, after=after)

    first = aligner("one")
    second = aligner("two", after=first)
    second.wait()
    first.wait()
    assert first.ended <= second.started  # queued: the second ran once the first had ended
    assert (tmp_path / "two" / "f").read_text() == "0-0 1-1\n0-0\n"

    broken = aligner("broken")
    broken.stop()  # stopped (an error elsewhere): what is queued after it does not run
    queued = aligner("queued", after=broken)
    with pytest.raises(AlignerError, match="not run: the aligner before it failed or was stopped"):
        queued.wait()
    assert not (tmp_path / "queued" / "f").exists()
