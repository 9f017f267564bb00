"""Word segmentation of Chinese / Japanese / Thai for the aligner: exact over pieces, counted, reported."""
import io
import json
from pathlib import Path

import jieba
import pytest
import sentencepiece as spm
from pythainlp.tokenize import word_tokenize

from fairseq_weam.cli.prepare import main as prepare_main
from fairseq_weam.prepare.config import PrepareConfig
from fairseq_weam.prepare.pipeline import prepare
from fairseq_weam.text import segmentation
from fairseq_weam.text.segmentation import SegmentationError, load_segmenter, segmented_spans, segmenter_name

ZH_EN = [
    ("无法保存文件，因为磁盘已满。", "Could not save the file because the disk is full."),
    ("请选择要打开的文件夹。", "Please choose the folder to open."),
    ("密码错误，请重试。", "Wrong password, please try again."),
    ("正在下载更新。", "Downloading updates."),
    ("文件已删除。", "The file was deleted."),
    ("打开文件", "Open file"),
    ("保存文件", "Save file"),
    ("删除文件夹", "Delete folder"),
    ("无法打开文件夹。", "Could not open the folder."),
    ("请输入密码。", "Please enter the password."),
    ("磁盘已满。", "The disk is full."),
    ("正在保存文件。", "Saving the file."),
]
JA = ["ファイルを保存できませんでした。", "開くフォルダーを選択してください。",
      "パスワードが間違っています。もう一度お試しください。", "GNOME 3.2 の更新をダウンロードしています"]
TH = ["ไม่สามารถบันทึกไฟล์ได้", "กรุณาเลือกโฟลเดอร์ที่จะเปิด", "รหัสผ่านไม่ถูกต้อง กรุณาลองอีกครั้ง"]


def piece_model(lines, vocab_size=120):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(list(lines) * 3), model_writer=model, vocab_size=vocab_size,
                                   character_coverage=1.0, hard_vocab_limit=False, minloglevel=2)
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def reference_boundaries(text, segmenter):
    """Character offsets where the library's own words begin, from cumulative lengths (whitespace dropped)."""
    if segmenter == "jieba":
        words = jieba.lcut(text)
    elif segmenter == "pythainlp":
        words = word_tokenize(text, engine="newmm")
    else:
        import fugashi
        import unidic_lite
        tagger = fugashi.Tagger(f'-d "{unidic_lite.DICDIR}" -r "{unidic_lite.DICDIR}/mecabrc"')
        words = [node.white_space + node.surface for node in tagger(text)]
    starts, offset = set(), 0
    for word in words:
        lead = len(word) - len(word.lstrip())
        if word.strip():
            starts.add(offset + lead)
        offset += len(word)
    assert offset == len(text)
    return starts


def reference_word_of(pieces, boundaries):
    """Word index of each piece: a new word at the first piece, a ``▁`` piece, or a piece whose first character
    (after ``▁``) is a segmenter word start, unless the word so far has no text (a lone ``▁``)."""
    word_of, offset, current, has_text = [], 0, -1, False
    for k, piece in enumerate(pieces):
        first = offset + len(piece) - len(piece.lstrip("\u2581"))
        if k == 0 or piece.startswith("\u2581") or (first in boundaries and has_text):
            current, has_text = current + 1, False
        has_text = has_text or piece.strip("\u2581") != ""
        word_of.append(current)
        offset += len(piece)
    return word_of


def check_exact(pieces, spans, inside, boundaries):
    """Spans cover the pieces in order, as the reference rule says; the segmenter starts that are not at a
    piece's first character (nor after a space) are the count ``inside``."""
    assert [pieces[k] for span in spans for k in span] == pieces and all(len(s) for s in spans)
    assert [w for w, span in enumerate(spans) for _ in span] == reference_word_of(pieces, boundaries)
    firsts, offset = set(), 0
    for piece in pieces:
        firsts.add(offset + len(piece) - len(piece.lstrip("\u2581")))
        offset += len(piece)
    text = "".join(pieces).replace("\u2581", " ")
    assert inside == sum(1 for b in boundaries if b not in firsts and not text[b - 1].isspace())


@pytest.mark.parametrize("segmenter,lines", [("jieba", [zh for zh, _ in ZH_EN]), ("fugashi", JA), ("pythainlp", TH)])
def test_segmented_words_are_exact_runs_of_pieces(segmenter, lines):
    sp = piece_model(lines)
    starts = load_segmenter(segmenter)
    words = space_words = 0
    for line in lines:
        pieces = sp.encode(line, out_type=str)
        spans, inside = segmented_spans(pieces, starts)
        text = "".join(pieces).replace("\u2581", " ")
        check_exact(pieces, spans, inside, reference_boundaries(text, segmenter))
        words, space_words = words + len(spans), space_words + len(text.split())
    assert words > 2 * space_words


def test_boundary_inside_a_piece_merges_the_words_it_spans():
    # jieba: 我们 / 在 / 北京大学 / 学习; 北京大学 begins inside the piece 在北
    spans, inside = segmented_spans(["\u2581我们", "在北", "京大学", "学习"], load_segmenter("jieba"))
    assert spans == [range(0, 1), range(1, 3), range(3, 4)] and inside == 1
    # a lone ▁ piece joins the word after it; Latin words keep their ▁ boundaries
    spans, inside = segmented_spans(["\u2581", "文件", "\u2581GNOME", "的"], load_segmenter("jieba"))
    assert spans == [range(0, 2), range(2, 3), range(3, 4)] and inside == 0


def test_sudachi_is_exact_too():
    sp = piece_model(JA)
    for line in JA:
        pieces = sp.encode(line, out_type=str)
        spans, _ = segmented_spans(pieces, load_segmenter("sudachi"))
        assert [pieces[k] for span in spans for k in span] == pieces and len(spans) > 1


def test_language_codes_choose_the_segmenter():
    assert [segmenter_name(c) for c in ("zh", "zh_CN", "zh-TW", "ja", "th", "en", "de")] == \
        ["jieba", "jieba", "jieba", "fugashi", "pythainlp", None, None]
    assert segmenter_name("ja", ja_segmenter="sudachi") == "sudachi" and segmenter_name("zh_CN", "off") is None


def test_missing_segmenter_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(segmentation.PACKAGES, "jieba", ("no-such-segmenter-package",))
    with pytest.raises(SegmentationError, match="pip install no-such-segmenter-package"):
        segmentation.segmenter_version("jieba")


def test_bad_flag_is_one_line_error(tmp_path, capsys):
    (tmp_path / "RAW").mkdir()
    assert prepare_main(["--raw-dir", str(tmp_path / "RAW"), "--dest-dir", str(tmp_path / "D"),
                         "--word-segmentation", "maybe"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--word-segmentation must be one of auto, off" in err[0]


def read_lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


def write_raw(raw):
    raw.mkdir()
    for split, rows in (("train", ZH_EN * 4), ("valid", ZH_EN[:6])):
        for side, lang in ((1, "en"), (0, "zh_CN")):
            (raw / f"{split}.en-zh_CN.{lang}").write_text("".join(r[side] + "\n" for r in rows), encoding="utf-8")


def independent_word_figures(data, split, segmented):
    """Per language: (words per sentence, links per word, aligned-word share) recounted from the piece files,
    the piece links and the library segmenter (piece links are full word rectangles: word links come back)."""
    sides = {lang: [line.split() for line in open(data / ".work/pieces" / f"{split}.en-zh_CN.{lang}", encoding="utf-8")]
             for lang in ("en", "zh_CN")}
    links = [[tuple(map(int, link.split("-"))) for link in line.split()]
             for line in open(data / ".work/pieces" / f"{split}.en-zh_CN.align", encoding="utf-8")]
    words, linked, word_links = {"en": 0, "zh_CN": 0}, {"en": 0, "zh_CN": 0}, 0
    for en, zh, line_links in zip(sides["en"], sides["zh_CN"], links):
        zh_cuts = reference_boundaries("".join(zh).replace("\u2581", " "), "jieba") if segmented else set()
        en_of, zh_of = reference_word_of(en, set()), reference_word_of(zh, zh_cuts)
        pairs = {(en_of[a], zh_of[b]) for a, b in line_links}
        assert set(line_links) == {(a, b) for a in range(len(en)) for b in range(len(zh))
                                   if (en_of[a], zh_of[b]) in pairs}  # exact projection: whole words linked
        word_links += len(pairs)
        words["en"] += en_of[-1] + 1
        words["zh_CN"] += zh_of[-1] + 1
        linked["en"] += len({a for a, _ in pairs})
        linked["zh_CN"] += len({b for _, b in pairs})
    n = len(links)
    return {lang: (words[lang] / n, word_links / words[lang], linked[lang] / words[lang]) for lang in words}


@pytest.mark.slow
def test_prepare_zh_en_end_to_end_segmented_and_reported(tmp_path):
    write_raw(tmp_path / "RAW")
    reports = {}
    for mode in ("off", "auto"):
        cfg = PrepareConfig(raw_dir=str(tmp_path / "RAW"), dest_dir=str(tmp_path / "DATA"), vocab_size=120,
                            spm_character_coverage=1.0, word_segmentation=mode)
        lines = prepare(cfg, log=lambda *_: None)
        data = tmp_path / "DATA"
        report = json.loads((data / "prep_report.json").read_text(encoding="utf-8"))
        reports[mode] = report
        assert report["stages"]["align:en-zh_CN"]["status"] == "ran"  # the flag is part of the signature
        for split in ("train", "valid"):
            figures = report["pairs"]["en-zh_CN"][split]["words"]
            sentences = report["pairs"]["en-zh_CN"][split]["pairs_out"]
            expected = independent_word_figures(data, split, mode == "auto")
            for lang, (per_sentence, links_per_word, share) in expected.items():
                got = figures[lang]
                assert got["segmenter"] == ("jieba" if mode == "auto" and lang == "zh_CN" else None)
                assert got["words_per_sentence"] == pytest.approx(per_sentence, abs=1e-3)
                assert got["links_per_word"] == pytest.approx(links_per_word, abs=1e-4)
                assert got["aligned_word_share"] == pytest.approx(share, abs=1e-4)
            assert sentences == len(read_lines(data / ".work/pieces" / f"{split}.en-zh_CN.en"))
        assert any(line.startswith("zh_CN words (") for line in lines)
    off, auto = reports["off"]["languages"]["zh_CN"], reports["auto"]["languages"]["zh_CN"]
    assert off["words_per_sentence"] == off["space_words_per_sentence"] == auto["space_words_per_sentence"]
    assert auto["words_per_sentence"] > 3 * off["words_per_sentence"]
    assert reports["off"]["languages"]["en"]["words_per_sentence"] == reports["auto"]["languages"]["en"]["words_per_sentence"]
    again = prepare(PrepareConfig(raw_dir=str(tmp_path / "RAW"), dest_dir=str(tmp_path / "DATA"), vocab_size=120,
                                  spm_character_coverage=1.0), log=lambda *_: None)
    assert again[-1] == "every stage was complete: nothing was rewritten"
    assert Path(tmp_path / "DATA" / "train.align.en-zh_CN.bin").exists()
