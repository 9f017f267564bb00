"""One-process binarization: byte for byte what ``fairseq-preprocess`` writes; one pool per run; text binarized
while the aligner runs."""
import multiprocessing

import pytest
from test_prepare_pipeline import FAKE_FAST_ALIGN, config, make_raw

from fairseq_weam.fairseq_preprocess import run_fairseq_preprocess
from fairseq_weam.prepare import worker_pool
from fairseq_weam.prepare.binarize import binarize_pair, binarized_names
from fairseq_weam.prepare.config import PrepareError
from fairseq_weam.prepare.pipeline import prepare

SPLITS = ("train", "valid")


def write_inputs(pieces, n_symbols):
    """Piece files of en-de (unknown tokens, odd whitespace, an empty line) with links, and a dict."""
    pieces.mkdir()
    symbols = [f"▁w{k}" for k in range(n_symbols)]
    dict_path = pieces / "dict.txt"
    dict_path.write_text("".join(f"{s} {n_symbols - k}\n" for k, s in enumerate(symbols)) + "<unk> 1 #fairseq:overwrite\n",
                         encoding="utf-8")
    for split, n in (("train", 300), ("valid", 7)):
        src, tgt, links = [], [], []
        for i in range(n):
            words = [symbols[(i * 7 + j * 13) % n_symbols] for j in range(1 + i % 9)]
            if i % 5 == 0:
                words.append("▁never-seen")
            src.append(("\u00a0 " if i % 11 == 0 else "") + " ".join(words) + ("\t\x1f" if i % 6 == 0 else ""))
            tgt.append(" ".join(reversed(words)) if i != 3 else "")
            links.append(" ".join(f"{j}-{len(words) - 1 - j}" for j in range(len(words)) if (i + j) % 4))
        for suffix, lines in (("en", src), ("de", tgt), ("align", links)):
            (pieces / f"{split}.en-de.{suffix}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dict_path


@pytest.mark.slow
@pytest.mark.parametrize("n_symbols", [300, 70000])  # uint16 and uint32 ids
def test_binarized_files_are_those_of_fairseq_preprocess(tmp_path, n_symbols):
    pieces = tmp_path / "pieces"
    dict_path = write_inputs(pieces, n_symbols)
    expected = tmp_path / "fairseq"
    args = ["--source-lang", "en", "--target-lang", "de", "--align-suffix", "align", "--srcdict", dict_path,
            "--tgtdict", dict_path, "--destdir", expected, "--workers", "1",
            "--trainpref", pieces / "train.en-de", "--validpref", pieces / "valid.en-de"]
    run_fairseq_preprocess(args, "the reference")
    names = binarized_names(("en", "de"), SPLITS) + ["dict.en.txt", "dict.de.txt"]
    for chunk_bytes in (64, 1 << 20):  # many chunks over two workers, one chunk per file
        out = tmp_path / f"ours-{chunk_bytes}"
        out.mkdir()
        binarize_pair(pieces, ("en", "de"), SPLITS, dict_path, {n: out / n for n in names}, workers=2,
                      tmp_dir=tmp_path, chunk_bytes=chunk_bytes)
        for name in names:
            assert (out / name).read_bytes() == (expected / name).read_bytes(), (chunk_bytes, name)
    assert not list(tmp_path.glob("weam-binarize-*"))


@pytest.mark.parametrize("line", ["0-0 1-2-3", "0-0 4", "-1 0-0", "0-0 1-", "1-x", "0-0 1-23-4", "1--2", "0-0\n3", "٣-1"])
def test_a_malformed_link_is_one_line_and_leaves_nothing(tmp_path, line):
    pieces = tmp_path / "pieces"
    dict_path = write_inputs(pieces, 50)
    (pieces / "valid.en-de.align").write_text(f"0-1 2-3\n{line}\n", encoding="utf-8")
    names = binarized_names(("en", "de"), SPLITS)
    with pytest.raises(PrepareError, match=r"valid\.en-de\.align: a link is not of the form i-j") as err:
        binarize_pair(pieces, ("en", "de"), SPLITS, dict_path, {n: tmp_path / n for n in names}, tmp_dir=tmp_path)
    assert "\n" not in str(err.value)
    assert not list(tmp_path.glob("weam-binarize-*")) and not list(tmp_path.glob("*.bin"))


WAITING_FAST_ALIGN = FAKE_FAST_ALIGN.replace("import sys\n", """import sys, time
from pathlib import Path
work = next(p for p in Path(sys.argv[sys.argv.index("-i") + 1]).parents if p.name == ".work")
deadline = time.time() + 60
while not list(work.glob("weam-binarize-*/train.*.part0")) and time.time() < deadline:
    time.sleep(0.05)
with open(work.parent.parent / "seen.txt", "a") as f:
    print(sorted(p.name for p in work.glob("weam-binarize-*/*.part*")), file=f)
""")


@pytest.mark.slow
def test_one_pool_per_run_and_the_text_binarizes_while_the_aligner_runs(tmp_path, monkeypatch):
    make_raw(tmp_path / "RAW", pairs=(("en", "de"), ("en", "fr")))
    fake = tmp_path / "fast_align"
    fake.write_text(WAITING_FAST_ALIGN)
    fake.chmod(0o755)
    pools = []
    context = multiprocessing.get_context("fork")

    class CountingContext:
        def Pool(self, *args, **kwargs):  # noqa: N802 (multiprocessing's name)
            pools.append(args)
            return context.Pool(*args, **kwargs)

    monkeypatch.setattr(worker_pool.multiprocessing, "get_context", lambda method: CountingContext())
    prepare(config(tmp_path, aligner="fast_align", fast_align_bin=str(fake), workers=2), log=lambda *_: None)
    assert len(pools) == 1 and pools[0][0] == 2
    seen = (tmp_path / "seen.txt").read_text().splitlines()
    assert len(seen) == 4  # forward and reverse, two pairs
    # every aligner run found binarization under way (its wait did not time out), and text was binarizing during
    # at least one of them (which files are in flight at each moment depends on the scheduling: a pair's links
    # may be the only thing binarizing while the next pair's aligner runs)
    assert all(line != "[]" for line in seen), seen
    assert any("train.en-" in line for line in seen), seen
    assert (tmp_path / "DATA" / "train.align.en-fr.bin").exists()
