"""``weam-prepare`` against hostile input and faults (issue 8): every case is an error naming the user's
file and line, or a counted skip; interruptions and failures leave no half-written output."""
import errno
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_prepare_pipeline import FAKE_FAST_ALIGN, config, make_raw, read_lines
from weam_testing import tool, write_lines

from fairseq_weam.align.external_tool import AlignerError
from fairseq_weam.align.pharaoh import AlignmentError
from fairseq_weam.cli import prepare as prepare_cli
from fairseq_weam.prepare.config import PrepareError
from fairseq_weam.prepare.pipeline import prepare
from fairseq_weam.prepare.sentencepiece_model import train_sentencepiece

quiet = dict(log=lambda *_: None)

#: fast_align stand-in that, when FAKE_ALIGN_MARKER is set, touches that file and then hangs (a long run).
SLOW_FAST_ALIGN = FAKE_FAST_ALIGN.replace("import sys\n", """import os, sys, time
if os.environ.get("FAKE_ALIGN_MARKER"):
    open(os.environ["FAKE_ALIGN_MARKER"], "w").close()
    time.sleep(120)
""", 1)


def raw_with_identity_links(tmp_path):
    """en-de raw text with word links i-i over the source words (the translation keeps word order); the
    train split's (source, target, links) lines, to edit and write back with :func:`write_train`."""
    raw = make_raw(tmp_path / "RAW")
    for split in ("train", "valid"):
        src = read_lines(raw / f"{split}.en-de.en")
        write_lines(raw / f"{split}.en-de.align", [" ".join(f"{i}-{i}" for i in range(len(s.split()))) for s in src])
    return raw, [read_lines(raw / f"train.en-de.{x}") for x in ("en", "de", "align")]


def write_train(raw, src, tgt, align):
    for x, lines in zip(("en", "de", "align"), (src, tgt, align)):
        write_lines(raw / f"train.en-de.{x}", lines)


def fake_binary(tmp_path, text=SLOW_FAST_ALIGN, name="fast_align"):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def drops(tmp_path, split="train", dest="DATA"):
    return json.loads((tmp_path / dest / "prep_report.json").read_text())["pairs"]["en-de"][split]


# item 1 ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_token_deleted_by_sentencepiece_is_an_error_on_the_raw_line_or_a_counted_skip(tmp_path):
    raw, (src, tgt, align) = raw_with_identity_links(tmp_path)
    # four whitespace words, but sentencepiece drops the zero-width space: links 0-0 1-1 2-2 would shift
    src[4], tgt[4], align[4] = "file \u200b open save", "FILE OPEN SAVE", "0-0 1-1 2-2"
    src[7], tgt[7], align[7] = "w1 w2 \x7f w3", "W1 W2 W3", "0-0 1-1 2-2"  # DEL
    write_train(raw, src, tgt, align)
    with pytest.raises(PrepareError) as err:
        prepare(config(tmp_path, aligner="precomputed"), **quiet)
    message = str(err.value)
    assert f"{raw / 'train.en-de.en'}:5: 4 words" in message and "3 words" in message
    assert "train.en-de.align:5" in message and "--on-bad-link skip" in message
    assert not list((tmp_path / "DATA").glob("*.bin"))
    prepare(config(tmp_path, aligner="precomputed", on_bad_link="skip"), **quiet)
    report = drops(tmp_path)
    assert report["drops"] == {"word_count": 2} and report["pairs_out"] == 78
    assert "word_count 2" in (tmp_path / "DATA/prep_report.txt").read_text()


# item 12 --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_bad_link_names_the_raw_file_and_line_and_a_bom_is_not_a_link(tmp_path):
    raw, (src, tgt, align) = raw_with_identity_links(tmp_path)
    src[1] = tgt[2] = ""  # two pairs dropped by cleaning before the bad line: cleaned row 7 is raw line 9
    align[0] = "\ufeff" + align[0]  # a byte order mark, as some editors write
    align[8] += " 40-0"
    write_train(raw, src, tgt, align)
    with pytest.raises(AlignmentError, match=rf"^{raw / 'train.en-de.align'}:9: link 40-0 is outside"):
        prepare(config(tmp_path, aligner="precomputed"), **quiet)
    align[8] = align[8][:-len(" 40-0")]
    write_lines(raw / "train.en-de.align", align)
    prepare(config(tmp_path, aligner="precomputed"), **quiet)
    assert drops(tmp_path)["pairs_out"] == 78


# item 2 ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_unknown_piece_share_is_reported_and_a_mismatched_dict_is_refused(tmp_path):
    make_raw(tmp_path / "RAW")
    prepare(config(tmp_path), **quiet)
    data = tmp_path / "DATA"
    assert drops(tmp_path)["unk_share"] == {"en": 0.0, "de": 0.0}
    # "another model's dict": the pieces of the German side are missing from it
    pieces = data / ".work/pieces"
    en_pieces = {p for line in read_lines(pieces / "train.en-de.en") + read_lines(pieces / "valid.en-de.en")
                 for p in line.split()}
    write_lines(tmp_path / "other_dict.txt", [f"{p} 1" for p in sorted(en_pieces)])
    de = [p for split in ("train", "valid") for line in read_lines(pieces / f"{split}.en-de.de") for p in line.split()]
    de_share = sum(p not in en_pieces for p in de) / len(de)
    assert de_share > 0.3
    given = dict(spm_model=str(data / "sentencepiece.bpe.model"), dict=str(tmp_path / "other_dict.txt"),
                 dest_dir=str(tmp_path / "DATA2"))
    with pytest.raises(PrepareError) as err:
        prepare(config(tmp_path, **given), **quiet)
    message = str(err.value)
    assert "of the de pieces" in message and f"{100 * de_share:.1f}%" in message and "--max-unk-share" in message
    assert "does not match the sentencepiece model" in message and "\n" not in message
    assert not list((tmp_path / "DATA2").glob("*.bin"))
    prepare(config(tmp_path, max_unk_share=1.0, **given), **quiet)
    train = drops(tmp_path, dest="DATA2")
    de_train = [p for line in read_lines(pieces / "train.en-de.de") for p in line.split()]
    assert train["unk_share"]["en"] == 0.0
    assert train["unk_share"]["de"] == round(sum(p not in en_pieces for p in de_train) / len(de_train), 4)
    assert "<unk> en 0.0% / de " in (tmp_path / "DATA2/prep_report.txt").read_text()


# item 7 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag, value, name", [
    ("fast_align_bin", "/nowhere/fast_align", "fast_align"),
    ("eflomal_bin", "/nowhere/eflomal-align", "eflomal-align"),
    ("atools_bin", "/nowhere/atools", "atools"),
])
def test_missing_aligner_binary_fails_before_the_first_stage(tmp_path, flag, value, name):
    make_raw(tmp_path / "RAW")
    aligner = "fast_align" if flag == "fast_align_bin" else "eflomal"
    with pytest.raises(AlignerError, match=f"{name} binary not found at '{value}'"):
        prepare(config(tmp_path, aligner=aligner, **{flag: value}), **quiet)
    assert not (tmp_path / "DATA").exists()  # no stage ran


@pytest.mark.slow
def test_a_rebuilt_aligner_binary_reruns_the_align_stage(tmp_path):
    make_raw(tmp_path / "RAW")
    fake = fake_binary(tmp_path, FAKE_FAST_ALIGN)
    prepare(config(tmp_path, aligner="fast_align", fast_align_bin=str(fake)), **quiet)
    fake.write_text(FAKE_FAST_ALIGN + "# rebuilt\n")
    messages = []
    prepare(config(tmp_path, aligner="fast_align", fast_align_bin=str(fake)), log=messages.append)
    ran = sorted(m.split()[1].rstrip(":") for m in messages if m.startswith("stage") and "done" in m)
    assert ran == ["align:en-de", "binarize:en-de"]


# item 8 ---------------------------------------------------------------------------------------------
def test_a_split_without_pairs_is_an_error_before_binarizing(tmp_path):
    raw = make_raw(tmp_path / "RAW")
    for lang in ("en", "de"):
        write_lines(raw / f"valid.en-de.{lang}", [])
    with pytest.raises(PrepareError, match=r"valid\.en-de.*0 pairs.*0 in"):
        prepare(config(tmp_path), **quiet)
    assert not list((tmp_path / "DATA").glob("*.bin"))
    # every valid pair over --max-len pieces: dropped while encoding
    long = [" ".join(f"w{k % 9}" for k in range(60 + i)) for i in range(5)]
    write_lines(raw / "valid.en-de.en", long)
    write_lines(raw / "valid.en-de.de", [s.upper() for s in long])
    with pytest.raises(PrepareError, match=r"valid\.en-de.*0 pairs.*5 in; dropped: too_long_pieces 5"):
        prepare(config(tmp_path, max_len=50), **quiet)
    assert not list((tmp_path / "DATA").glob("*.bin")) and not (tmp_path / "DATA/prep_report.json").exists()


# item 9 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lines", [[], ["\u200b", "\x01 \x7f"]])
def test_empty_training_text_says_it_is_empty(tmp_path, lines):
    text = write_lines(tmp_path / "train.en-de.en", lines)
    with pytest.raises(PrepareError) as err:
        train_sentencepiece([text], tmp_path / "m.model", vocab_size=100)
    assert "empty" in str(err.value) and str(text) in str(err.value) and "vocab-size" not in str(err.value)


# item 13 --------------------------------------------------------------------------------------------
def test_incomplete_pair_files_are_an_error(tmp_path):
    raw = make_raw(tmp_path / "RAW")
    for split in ("train", "valid"):
        shutil.copy(raw / f"{split}.en-de.en", raw / f"{split}.en-fr.en")
        shutil.copy(raw / f"{split}.en-de.de", raw / f"{split}.en-fr.fra")
    with pytest.raises(PrepareError, match=rf"{raw / 'train.en-fr.en'}.*{raw / 'train.en-fr.fr'} is missing"):
        prepare(config(tmp_path), **quiet)
    assert not (tmp_path / "DATA").exists()


# item 14 --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_disk_full_is_one_line_and_leaves_no_half_written_output(tmp_path, monkeypatch, capsys):
    make_raw(tmp_path / "RAW")
    from fairseq_weam.prepare import binarize

    def disk_full(source, target):
        Path(target).write_bytes(Path(source).read_bytes()[:10])  # half of the file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(binarize.shutil, "move", disk_full)
    code = prepare_cli.main(["--raw-dir", str(tmp_path / "RAW"), "--dest-dir", str(tmp_path / "DATA"),
                             "--vocab-size", "80"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("weam-prepare: error: No space left on device"), err
    data = tmp_path / "DATA"
    assert not [p for p in data.rglob("*") if p.name.endswith((".bin", ".idx", ".partial", ".tmp"))]
    assert not (data / "prep_report.json").exists() and not list((data / ".work").glob("weam-*"))


# items 10 and 11 ------------------------------------------------------------------------------------
def start_slow_prepare(tmp_path, dest, fake):
    """``weam-prepare`` in a subprocess, hung inside fast_align (mid-run) once the returned marker exists."""
    marker = tmp_path / f"aligning-{dest.name}"
    env = dict(os.environ, FAKE_ALIGN_MARKER=str(marker), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [tool("weam-prepare"), "--raw-dir", str(tmp_path / "RAW"), "--dest-dir", str(dest), "--vocab-size", "80",
         "--aligner", "fast_align", "--fast-align-bin", str(fake), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.2)
    return proc


def contract_files(dest):
    return {p.name: p.read_bytes() for p in Path(dest).iterdir()
            if p.suffix in (".bin", ".idx", ".model") or p.name.startswith("dict")}


@pytest.mark.slow
def test_sigterm_removes_temporaries_and_a_rerun_gives_identical_output(tmp_path):
    make_raw(tmp_path / "RAW")
    fake = fake_binary(tmp_path)
    dest = tmp_path / "DATA"
    proc = start_slow_prepare(tmp_path, dest, fake)
    assert list((dest / ".work").glob("weam-align-*"))  # mid-run: the aligner's temporary directory exists
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines() == ["weam-prepare: interrupted"], err
    leftovers = [p for p in dest.rglob("*") if p.name.endswith((".partial", ".tmp")) or p.name.startswith(
        ("weam-align-", "weam-binarize-"))]
    assert not leftovers and not list(dest.glob("*.bin")) and not (dest / ".lock").exists()
    settings = dict(aligner="fast_align", fast_align_bin=str(fake), workers=2)  # the model records its threads
    prepare(config(tmp_path, **settings), **quiet)
    prepare(config(tmp_path, dest_dir=str(tmp_path / "UNINTERRUPTED"), **settings), **quiet)
    assert contract_files(dest) == contract_files(tmp_path / "UNINTERRUPTED")
    assert len(contract_files(dest)) == 12 + 3 + 1  # 3 streams x 2 splits x (bin, idx); 3 dicts; model


@pytest.mark.slow
def test_a_second_run_into_the_same_dest_is_refused_naming_the_holder(tmp_path):
    make_raw(tmp_path / "RAW", n_train=20, n_valid=6)
    fake = fake_binary(tmp_path)
    dest = tmp_path / "DATA"
    first = start_slow_prepare(tmp_path, dest, fake)
    try:
        second = subprocess.run([tool("weam-prepare"), "--raw-dir", str(tmp_path / "RAW"), "--dest-dir", str(dest),
                                 "--vocab-size", "80"], capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("weam-prepare: error:"), second.stderr
        assert f"pid {first.pid}" in lines[0] and "since" in lines[0] and str(dest) in lines[0]
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 130
    prepare(config(tmp_path), **quiet)  # the lock went with its holder
    assert (dest / "train.en-de.en.bin").exists()
