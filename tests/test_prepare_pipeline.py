"""``weam-prepare`` as a library on tiny corpora: the data contract, bad inputs, restartable stages."""
import json
import os
import sys
from pathlib import Path

import pytest
from fairseq.data import Dictionary, data_utils
from weam_testing import random_sentences, write_lines

from fairseq_weam.align.external_tool import AlignerError
from fairseq_weam.align.pharaoh import AlignmentError
from fairseq_weam.prepare import binarize as binarize_module
from fairseq_weam.prepare.config import PrepareConfig, PrepareError
from fairseq_weam.prepare.pipeline import prepare

FAKE_FAST_ALIGN = f"""#!{sys.executable}
import sys
path = sys.argv[sys.argv.index("-i") + 1]
for line in open(path, encoding="utf-8"):
    src, tgt = (side.split() for side in line.split(" ||| "))
    print(" ".join(f"{{i}}-{{j}}" for i, s in enumerate(src) for j, t in enumerate(tgt) if s.lower() == t.lower()))
"""


def translate(line):
    """A word-for-word 'translation': the same words in upper case (length ratio about 1)."""
    return line.upper()


def make_raw(raw, pairs=(("en", "de"),), n_train=80, n_valid=24, seed=0):
    for k, (l1, l2) in enumerate(pairs):
        for split, n in (("train", n_train), ("valid", n_valid)):
            src = random_sentences(n, vocab_size=30, seed=seed + 10 * k + (split == "valid"))
            write_lines(raw / f"{split}.{l1}-{l2}.{l1}", src)
            write_lines(raw / f"{split}.{l1}-{l2}.{l2}", [translate(s) for s in src])
    return raw


def config(tmp_path, **overrides):
    values = dict(raw_dir=str(tmp_path / "RAW"), dest_dir=str(tmp_path / "DATA"), vocab_size=80)
    values.update(overrides)
    return PrepareConfig(**values)


def read_lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


def snapshot(dest):
    return {p.relative_to(dest): p.stat().st_mtime_ns for p in Path(dest).rglob("*") if p.is_file()}


@pytest.mark.slow
def test_data_contract_and_alignments(tmp_path):
    make_raw(tmp_path / "RAW", pairs=(("en", "de"), ("en", "fr")))
    prepare(config(tmp_path, workers=2), log=lambda *_: None)
    data = tmp_path / "DATA"
    names = {p.name for p in data.iterdir() if p.is_file()}
    for pair, tgt in (("en-de", "de"), ("en-fr", "fr")):
        for split in ("train", "valid"):
            for stem in (f"{split}.{pair}.en", f"{split}.{pair}.{tgt}", f"{split}.align.{pair}"):
                assert {stem + ".bin", stem + ".idx"} <= names
    assert {"dict.txt", "dict.en.txt", "dict.de.txt", "dict.fr.txt", "sentencepiece.bpe.model",
            "prep_report.json", "prep_report.txt"} <= names
    assert not list(data.rglob("*.partial"))

    # dict.txt: no sentencepiece control pieces, loadable by fairseq, counts of the encoded corpus
    entries = [line.split() for line in read_lines(data / "dict.txt")]
    assert not {"<unk>", "<s>", "</s>", "<pad>"} & {piece for piece, _ in entries}
    pieces = data / ".work/pieces"
    corpus = [p for lang in ("en", "de", "fr") for f in pieces.glob(f"*.{lang}")
              for line in read_lines(f) for p in line.split()]
    counts = {piece: int(n) for piece, n in entries}
    assert sum(counts.values()) == len(corpus)
    assert all(counts[piece] == corpus.count(piece) for piece in set(corpus))
    dictionary = Dictionary.load(str(data / "dict.txt"))
    assert len(dictionary) == 4 + len(entries)

    # the binarized text is the pieces (+ </s>), the alignments are piece links inside each pair
    src = data_utils.load_indexed_dataset(str(data / "train.en-de.en"), dictionary)
    tgt = data_utils.load_indexed_dataset(str(data / "train.en-de.de"), dictionary)
    align = data_utils.load_indexed_dataset(str(data / "train.align.en-de"), None)
    src_lines = read_lines(pieces / "train.en-de.en")
    assert len(src) == len(tgt) == len(align) == len(src_lines) == 80
    for k in range(len(src)):
        assert dictionary.string(src[k]) == src_lines[k]
        links = align[k].view(-1, 2)
        assert len(links) > 0
        assert links[:, 0].max() < len(src[k]) - 1 and links[:, 1].max() < len(tgt[k]) - 1  # never </s>
    report = json.loads((data / "prep_report.json").read_text())
    train = report["pairs"]["en-de"]["train"]
    assert train["pairs_in"] == train["pairs_out"] == 80
    assert train["aligned_share_src"] > 0.8 and train["links_per_sentence"] > 1
    assert set(report["stages"]) >= {"clean:en-de", "sentencepiece", "encode:en-de", "dict", "unk:en-de", "align:en-de",
                                     "binarize:en-de", "binarize:en-fr"}


@pytest.mark.slow
def test_rerun_skips_complete_stages_and_keeps_mtimes(tmp_path):
    make_raw(tmp_path / "RAW")
    prepare(config(tmp_path), log=lambda *_: None)
    before = snapshot(tmp_path / "DATA")
    messages = []
    prepare(config(tmp_path), log=messages.append)
    assert snapshot(tmp_path / "DATA") == before
    skipped = [m for m in messages if m.endswith("skipped (outputs complete)")]
    assert len(skipped) == 7, messages
    # a changed setting re-runs only the stages that depend on it
    messages.clear()
    prepare(config(tmp_path, first_piece_only=True), log=messages.append)
    ran = sorted(m.split()[1].rstrip(":") for m in messages if m.startswith("stage") and "done" in m)
    assert ran == ["align:en-de", "binarize:en-de"]
    after = snapshot(tmp_path / "DATA")
    for name in ("sentencepiece.bpe.model", "dict.txt", ".work/pieces/train.en-de.en"):
        assert after[Path(name)] == before[Path(name)]
    assert after[Path("train.align.en-de.bin")] != before[Path("train.align.en-de.bin")]


@pytest.mark.slow
def test_failed_stage_leaves_no_half_written_output(tmp_path, monkeypatch):
    make_raw(tmp_path / "RAW")

    def crash(*args, **kwargs):
        outputs = args[4]
        next(iter(outputs.values())).write_bytes(b"half")  # a partial file is written, then the stage dies
        raise KeyboardInterrupt

    monkeypatch.setattr("fairseq_weam.prepare.pipeline.binarize_pair", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare(config(tmp_path), log=lambda *_: None)
    data = tmp_path / "DATA"
    assert not list(data.glob("*.bin")) and not list(data.glob("*.idx")) and not list(data.rglob("*.partial"))
    assert not (data / "prep_report.json").exists()
    monkeypatch.setattr("fairseq_weam.prepare.pipeline.binarize_pair", binarize_module.binarize_pair)
    messages = []
    prepare(config(tmp_path), log=messages.append)
    assert "stage align:en-de: skipped (outputs complete)" in messages
    assert (data / "train.en-de.en.bin").exists()


def test_line_count_mismatch_writes_nothing(tmp_path):
    raw = make_raw(tmp_path / "RAW")
    write_lines(raw / "valid.en-de.de", read_lines(raw / "valid.en-de.de")[:-3])
    with pytest.raises(PrepareError) as err:
        prepare(config(tmp_path), log=lambda *_: None)
    assert f"{raw / 'valid.en-de.en'} has 24 lines and {raw / 'valid.en-de.de'} has 21 lines" in str(err.value)
    assert not (tmp_path / "DATA").exists()


@pytest.mark.slow
@pytest.mark.parametrize("workers,chunk", [(1, None), (2, 2)])  # (2, 2): line 5 is in the third block of raw lines
def test_bad_utf8_error_or_skip(tmp_path, monkeypatch, workers, chunk):
    from fairseq_weam.prepare import cleaning

    if chunk:
        monkeypatch.setattr(cleaning, "_CHUNK", chunk)  # the workers are forked after this
    raw = make_raw(tmp_path / "RAW")
    lines = (raw / "train.en-de.de").read_bytes().split(b"\n")
    lines[4] = b"W1 \xff\xfe W2"
    (raw / "train.en-de.de").write_bytes(b"\n".join(lines))
    with pytest.raises(PrepareError, match=r"train\.en-de\.de:5: bytes that are not UTF-8.*--on-bad-utf8 skip"):
        prepare(config(tmp_path, workers=workers), log=lambda *_: None)
    prepare(config(tmp_path, on_bad_utf8="skip", workers=workers), log=lambda *_: None)
    report = json.loads((tmp_path / "DATA/prep_report.json").read_text())["pairs"]["en-de"]["train"]
    assert report["drops"] == {"bad_utf8": 1} and report["pairs_out"] == 79
    kept = [n for n in range(1, 81) if n != 5]
    assert read_lines(tmp_path / "DATA/.work/clean/train.en-de.lines") == [str(n) for n in kept]
    raw_en = read_lines(raw / "train.en-de.en")
    assert read_lines(tmp_path / "DATA/.work/clean/train.en-de.en") == [" ".join(raw_en[n - 1].split()) for n in kept]


@pytest.mark.slow
def test_cleaning_drops_both_sides_and_counts_reasons(tmp_path):
    raw = make_raw(tmp_path / "RAW")
    src, tgt = read_lines(raw / "train.en-de.en"), read_lines(raw / "train.en-de.de")
    src[0], tgt[1] = "   ", ""                                  # empty (either side)
    src[2] = tgt[2] = "w1 " * 300                               # over --max-chars
    src[3] = " ".join(["w2 w3"] * 30); tgt[3] = src[3].upper()  # 60 words: over --max-len pieces
    src[4], tgt[4] = "w1", "W1 W2 W3 W4 W5 W6 W7"                # extreme length ratio
    write_lines(raw / "train.en-de.en", src)
    write_lines(raw / "train.en-de.de", tgt)
    prepare(config(tmp_path, max_chars=500, max_len=50), log=lambda *_: None)
    report = json.loads((tmp_path / "DATA/prep_report.json").read_text())["pairs"]["en-de"]["train"]
    assert report["drops"] == {"empty": 2, "too_long_chars": 1, "too_long_pieces": 1, "length_ratio": 1}
    assert report["pairs_out"] == 75
    text = lambda line: line.replace(" ", "").replace("\u2581", " ").strip()  # noqa: E731
    kept_src = [text(line) for line in read_lines(tmp_path / "DATA/.work/pieces/train.en-de.en")]
    kept_tgt = [text(line) for line in read_lines(tmp_path / "DATA/.work/pieces/train.en-de.de")]
    assert len(kept_src) == 75 and all(translate(s) == t for s, t in zip(kept_src, kept_tgt))  # sides stay together
    assert "train: 80 -> 75 pairs (dropped: empty 2, too_long_chars 1, too_long_pieces 1, length_ratio 1)" in \
        (tmp_path / "DATA/prep_report.txt").read_text()


@pytest.mark.slow
def test_precomputed_alignments_and_bad_links(tmp_path):
    raw = make_raw(tmp_path / "RAW")
    for split in ("train", "valid"):
        write_lines(raw / f"{split}.en-de.align",
                    [" ".join(f"{i}-{i}" for i in range(len(s.split()))) for s in read_lines(raw / f"{split}.en-de.en")])
    prepare(config(tmp_path, aligner="precomputed"), log=lambda *_: None)
    pieces = tmp_path / "DATA/.work/pieces"
    src = [line.split() for line in read_lines(pieces / "train.en-de.en")]
    for words, line in zip(src, read_lines(pieces / "train.en-de.align")):
        links = {tuple(map(int, t.split("-"))) for t in line.split()}
        assert {i for i, _ in links} == set(range(len(words)))  # every piece of word i gets word i's link

    lines = read_lines(raw / "train.en-de.align")
    lines[6] += " 40-0"
    lines[9] = "0-0 1_1"
    write_lines(raw / "train.en-de.align", lines)
    with pytest.raises(AlignmentError, match=r"train\.en-de\.align:7: link 40-0 is outside"):
        prepare(config(tmp_path, aligner="precomputed"), log=lambda *_: None)
    prepare(config(tmp_path, aligner="precomputed", on_bad_link="skip"), log=lambda *_: None)
    report = json.loads((tmp_path / "DATA/prep_report.json").read_text())["pairs"]["en-de"]["train"]
    assert report["drops"] == {"bad_link": 2} and report["pairs_out"] == 78


def test_precomputed_needs_alignment_files_of_the_right_length(tmp_path):
    raw = make_raw(tmp_path / "RAW")
    write_lines(raw / "train.en-de.align", ["0-0"] * 80)
    with pytest.raises(PrepareError, match=r"missing file .*valid\.en-de\.align"):
        prepare(config(tmp_path, aligner="precomputed"), log=lambda *_: None)
    write_lines(raw / "valid.en-de.align", ["0-0"] * 23)
    with pytest.raises(PrepareError, match=r"valid\.en-de\.align has 23 lines"):
        prepare(config(tmp_path, aligner="precomputed"), log=lambda *_: None)


@pytest.mark.slow
def test_aligner_failure_is_reported_and_cleaned_up(tmp_path):
    make_raw(tmp_path / "RAW")
    with pytest.raises(AlignerError, match="fast_align binary not found at '/nowhere/fast_align'"):
        prepare(config(tmp_path, aligner="fast_align", fast_align_bin="/nowhere/fast_align"), log=lambda *_: None)
    work = tmp_path / "DATA/.work"
    assert not list(work.glob("weam-align-*")) and not list(work.rglob("*.partial"))
    assert not (work / "pieces/train.en-de.align").exists()
    fake = tmp_path / "fast_align"
    fake.write_text(FAKE_FAST_ALIGN)
    fake.chmod(0o755)
    prepare(config(tmp_path, aligner="fast_align", fast_align_bin=str(fake)), log=lambda *_: None)
    report = json.loads((tmp_path / "DATA/prep_report.json").read_text())["pairs"]["en-de"]["train"]
    assert report["aligned_share_src"] == 1.0  # every word has its upper-case copy


@pytest.mark.slow
def test_given_sentencepiece_model_and_dict(tmp_path):
    make_raw(tmp_path / "RAW")
    prepare(config(tmp_path), log=lambda *_: None)
    first = tmp_path / "DATA"
    given = tmp_path / "xlmr"
    given.mkdir()
    for name in ("sentencepiece.bpe.model", "dict.txt"):
        (given / name).write_bytes((first / name).read_bytes())
    with open(given / "dict.txt", "a") as f:
        f.write("madeupword0000 0\n")  # a given dict is copied as it is, not recomputed
    prepare(config(tmp_path, dest_dir=str(tmp_path / "DATA2"), spm_model=str(given / "sentencepiece.bpe.model"),
                   dict=str(given / "dict.txt")), log=lambda *_: None)
    out = tmp_path / "DATA2"
    assert (out / "dict.txt").read_bytes() == (given / "dict.txt").read_bytes()
    assert (out / "sentencepiece.bpe.model").read_bytes() == (given / "sentencepiece.bpe.model").read_bytes()
    assert (out / "train.en-de.en.bin").read_bytes() == (first / "train.en-de.en.bin").read_bytes()
    with pytest.raises(PrepareError, match="--spm-model and --dict go together"):
        prepare(config(tmp_path, spm_model=str(given / "sentencepiece.bpe.model")), log=lambda *_: None)


def test_bad_arguments(tmp_path):
    make_raw(tmp_path / "RAW")
    with pytest.raises(PrepareError, match="--aligner must be one of"):
        prepare(config(tmp_path, aligner="giza"), log=lambda *_: None)
    with pytest.raises(PrepareError, match=r"missing raw file .*train\.en-xx\.en"):
        prepare(config(tmp_path, pairs=["en-xx"]), log=lambda *_: None)
    os.makedirs(tmp_path / "EMPTY")
    with pytest.raises(PrepareError, match="no language pairs found"):
        prepare(config(tmp_path, raw_dir=str(tmp_path / "EMPTY")), log=lambda *_: None)
