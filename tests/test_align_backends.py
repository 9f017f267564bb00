"""Aligner backends: fast_align through a stand-in executable, atools through a stand-in, eflomal for real."""
import stat
import sys
import textwrap

import pytest
from weam_testing import random_sentences

from fairseq_weam.align.external_tool import AlignerError
from fairseq_weam.align.word_aligners import align_word_corpus

# Speaks fast_align's command line (-i FILE -d -o -v [-r]) and output format: links i-j between equal
# words (source-target order in both directions, as fast_align prints them). Logs its arguments.
FAKE_FAST_ALIGN = """\
#!{python}
import sys
args = sys.argv[1:]
import os
with open({log!r}, "a") as log:
    log.write(" ".join(args[2:]) + " OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "unset") + "\\n")
if {fail}:
    sys.stderr.write("reading corpus\\nERROR: boom, corpus too small\\n")
    sys.exit(3)
path = args[args.index("-i") + 1]
for line in open(path, encoding="utf-8"):
    # tokenized as fast_align does: on ' ' and tab, and a tab also separates the sides
    tokens = [t for t in line.rstrip("\\n").replace("\\t", " ||| ").split(" ") if t]
    cut = tokens.index("|||") if "|||" in tokens else len(tokens)  # the first ||| token ends the source
    src, tgt = tokens[:cut], tokens[cut + 1:]
    links = [f"{{i}}-{{j}}" for i, s in enumerate(src) for j, t in enumerate(tgt) if s == t]
    if "-r" in args:
        links = links[::-1]
    print(" ".join(links))
"""


def write_script(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def fake_fast_align(tmp_path, fail=False):
    return write_script(tmp_path / "fast_align", FAKE_FAST_ALIGN.format(
        python=sys.executable, log=str(tmp_path / "calls.log"), fail=fail))


def test_fast_align_standin(tmp_path):
    src = [["a", "b", "c"], ["x", "y"]]
    tgt = [["c", "b", "z"], ["y", "y", "x"]]
    work = tmp_path / "work"
    work.mkdir()
    links = align_word_corpus(src, tgt, aligner="fast_align", fast_align_bin=fake_fast_align(tmp_path),
                              tmp_dir=work)
    assert links == [{(1, 1), (2, 0)}, {(0, 2), (1, 0), (1, 1)}]
    # one OpenMP thread: fast_align with several gives different links on each run
    assert (tmp_path / "calls.log").read_text().splitlines() == [
        "-d -o -v OMP_NUM_THREADS=1", "-d -o -v -r OMP_NUM_THREADS=1"]
    assert not list(work.iterdir())  # temporary files removed


def test_fast_align_failure_reports_stderr_and_cleans_up(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(AlignerError) as err:
        align_word_corpus([["a"]], [["a"]], aligner="fast_align", fast_align_bin=fake_fast_align(tmp_path, fail=True),
                          tmp_dir=work)
    assert "fast_align failed (exit status 3)" in str(err.value)
    assert "ERROR: boom, corpus too small" in str(err.value)
    assert not list(work.iterdir())


def test_missing_binaries_say_how_to_install(tmp_path, monkeypatch):
    with pytest.raises(AlignerError, match=r"fast_align binary not found at '/no/fast_align'.*github.com/clab/fast_align"):
        align_word_corpus([["a"]], [["a"]], aligner="fast_align", fast_align_bin="/no/fast_align", tmp_dir=tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AlignerError, match="fast_align binary not found on PATH"):
        align_word_corpus([["a"]], [["a"]], aligner="fast_align", tmp_dir=tmp_path)
    with pytest.raises(AlignerError, match="eflomal-align binary not found at '/no/eflomal'.*pip install eflomal"):
        align_word_corpus([["a"]], [["a"]], aligner="eflomal", eflomal_bin="/no/eflomal", tmp_dir=tmp_path)
    with pytest.raises(AlignerError, match="atools binary not found at '/no/atools'"):
        align_word_corpus([["a"]], [["a"]], aligner="eflomal", atools_bin="/no/atools", tmp_dir=tmp_path)


def test_atools_is_used_when_found(tmp_path):
    log = tmp_path / "atools.log"
    atools = write_script(tmp_path / "atools", textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        open({str(log)!r}, "w").write(" ".join(sys.argv[1:]))
        print("0-0 1-1")
        """))
    links = align_word_corpus([["a", "b"]], [["a", "b"]], aligner="fast_align", fast_align_bin=fake_fast_align(tmp_path),
                              atools_bin=atools, heuristic="intersect", tmp_dir=tmp_path)
    assert links == [{(0, 0), (1, 1)}]
    args = log.read_text().split()
    assert args[0] == "-i" and args[2] == "-j" and args[4:] == ["-c", "intersect"]


def test_fast_align_output_of_wrong_length_is_an_error(tmp_path):
    short = write_script(tmp_path / "fast_align", f"#!{sys.executable}\nprint('0-0')\n")
    with pytest.raises(AlignerError, match="wrote 1 lines of links for 2 sentence pairs"):
        align_word_corpus([["a"], ["b"]], [["a"], ["b"]], aligner="fast_align", fast_align_bin=short, tmp_dir=tmp_path)


def test_eflomal_on_a_tiny_corpus(tmp_path):
    sentences = [s.split() for s in random_sentences(60, vocab_size=30, seed=1)]
    for words in sentences[::3]:
        words.insert(1, "|||")  # eflomal reads -s/-t files (no ||| separator): a plain word there
    targets = [[w.upper() for w in s] for s in sentences]  # a word-for-word "translation"
    links = align_word_corpus(sentences, targets, aligner="eflomal", tmp_dir=tmp_path)
    assert len(links) == len(sentences)
    total = sum(len(l) for l in links)
    diagonal = sum(i == j for l in links for i, j in l)
    assert total >= 0.8 * sum(len(s) for s in sentences)
    assert diagonal >= 0.8 * total, (diagonal, total)
    assert not list(tmp_path.iterdir())


def test_separator_as_a_word_keeps_the_word_count(tmp_path):
    # "|||" is fast_align's side separator: as a word it would end the source early and shift every link.
    src = [["a", "|||", "b"], ["|||"], ["x", "y"]]
    tgt = [["b", "|||", "a", "|||"], ["z", "|||"], ["y", "|||", "x"]]
    links = align_word_corpus(src, tgt, aligner="fast_align", heuristic="union",
                              fast_align_bin=fake_fast_align(tmp_path), tmp_dir=tmp_path)
    # The stand-in links equal words: work out the same from the words themselves.
    expected = [{(i, j) for i, s in enumerate(x) for j, t in enumerate(y) if s == t} for x, y in zip(src, tgt)]
    assert links == expected
    assert (1, 1) in links[0] and (1, 3) in links[0]  # the "|||" words align with each other


def test_bad_aligner_links_do_not_suggest_on_bad_link(tmp_path):
    outside = write_script(tmp_path / "fast_align", f"#!{sys.executable}\nprint('0-0 0-7')\n")
    with pytest.raises(AlignerError) as err:
        align_word_corpus([["a"]], [["a"]], aligner="fast_align", fast_align_bin=outside, tmp_dir=tmp_path)
    message = str(err.value)
    assert "fast_align output line 1: link 0-7 is outside the sentence pair" in message
    assert "--on-bad-link" not in message  # that flag is about the user's own link files


def test_short_atools_output_is_an_error(tmp_path):
    atools = write_script(tmp_path / "atools", f"#!{sys.executable}\nprint('0-0')\n")
    with pytest.raises(AlignerError, match=r"^atools \(.*/atools\) wrote 1 lines of links for 3 sentence pairs;"):
        align_word_corpus([["a"], ["b"], ["c"]], [["a"], ["b"], ["c"]], aligner="fast_align",
                          fast_align_bin=fake_fast_align(tmp_path), atools_bin=atools, tmp_dir=tmp_path)
