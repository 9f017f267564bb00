"""The align stage streams its files in chunks run in the worker pool: the same .align files and figures
whatever the chunk size or pool, equal to a projection computed here, and errors that name the right line."""
import random
import stat
import sys
from types import SimpleNamespace

import pytest

from fairseq_weam.align.external_tool import AlignerError
from fairseq_weam.align.piece_projection import projected_line
from fairseq_weam.align.symmetrization import symmetrize
from fairseq_weam.prepare import piece_alignment
from fairseq_weam.prepare.piece_alignment import align_pair
from fairseq_weam.prepare.worker_pool import WorkerPool
from fairseq_weam.text.pieces import word_spans

B = "\u2581"

# fast_align's command line; links between equal words, the same in both directions (so every
# symmetrization keeps them all). A source word "BAD" gets a link past the end of the target.
FAKE_FAST_ALIGN = """\
#!{python}
import sys
args = sys.argv[1:]
for line in open(args[args.index("-i") + 1], encoding="utf-8"):
    src, tgt = (side.split() for side in line.split(" ||| "))
    links = [f"{{i}}-{{j}}" for i, s in enumerate(src) for j, t in enumerate(tgt) if s == t]
    links += [f"{{i}}-{{len(tgt)}}" for i, s in enumerate(src) if s == "BAD"]
    print(" ".join(links))
"""


def fake_fast_align(tmp_path):
    path = tmp_path / "fast_align"
    path.write_text(FAKE_FAST_ALIGN.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def cfg(tmp_path, **kw):
    return SimpleNamespace(**dict(dict(
        aligner="fast_align", symmetrize="grow-diag-final-and", fast_align_bin=fake_fast_align(tmp_path),
        eflomal_bin=None, atools_bin=None, word_segmentation="auto", ja_segmenter="fugashi",
        first_piece_only=False), **kw))


def random_pieces(rng, words):
    """A line of pieces: each word a ``▁``-piece and up to two continuation pieces."""
    pieces = []
    for _ in range(rng.randint(1, 7)):
        word = rng.choice(words)
        cut = sorted(rng.sample(range(1, len(word)), min(len(word) - 1, rng.randint(0, 2))))
        parts = [word[a:b] for a, b in zip([0] + cut, cut + [len(word)])]
        pieces += [B + parts[0]] + parts[1:]
    return pieces


def write_splits(tmp_path, lines):
    """``lines[split]`` = [(src pieces, tgt pieces)]; the piece files and the align stage's arguments."""
    ins, outs = {}, {}
    for split, rows in lines.items():
        paths = [tmp_path / f"{split}.{side}" for side in ("x", "y")]
        for side, path in enumerate(paths):
            path.write_text("".join(" ".join(row[side]) + "\n" for row in rows), encoding="utf-8")
        ins[split], outs[split] = paths, tmp_path / f"{split}.align"
    return ins, outs


def expected_align(x, y, first_piece_only=False):
    """Piece links of equal ``▁``-words, computed from the pieces alone."""
    def words(pieces):
        starts = [k for k, p in enumerate(pieces) if p.startswith(B)]
        bounds = list(zip(starts, starts[1:] + [len(pieces)]))
        return [("".join(pieces[a:b]), list(range(a, b))) for a, b in bounds]
    links = set()
    for xw, xs in words(x):
        for yw, ys in words(y):
            if xw == yw:
                links |= {(a, b) for a in xs[:1 if first_piece_only else None] for b in ys[:1 if first_piece_only else None]}
    return " ".join(f"{a}-{b}" for a, b in sorted(links))


def run(tmp_path, ins, outs, config, pool=None, chunk_lines=1000, langs=("de", "fr")):
    stats = align_pair(ins, outs, config, tmp_path, langs, pool=pool, chunk_lines=chunk_lines)
    return stats, {s: outs[s].read_text(encoding="utf-8") for s in outs}


@pytest.mark.parametrize("first_piece_only", [False, True])
def test_chunked_in_pool_equals_projection_computed_here(tmp_path, first_piece_only):
    rng = random.Random(3)
    vocab = ["haus", "katze", "ab", "xyz", "wort", "ding", "baum"]
    lines = {"train": [(random_pieces(rng, vocab), random_pieces(rng, vocab)) for _ in range(23)],
             "valid": [(random_pieces(rng, vocab), random_pieces(rng, vocab)) for _ in range(5)]}
    ins, outs = write_splits(tmp_path, lines)
    config = cfg(tmp_path, first_piece_only=first_piece_only)
    whole_stats, whole = run(tmp_path, ins, outs, config)
    with WorkerPool(2) as pool:
        chunk_stats, chunked = run(tmp_path, ins, outs, config, pool=pool, chunk_lines=3)
    assert chunked == whole and chunk_stats == whole_stats
    for split, rows in lines.items():
        assert whole[split] == "".join(expected_align(x, y, first_piece_only) + "\n" for x, y in rows)
        assert whole_stats[split]["sentences"] == len(rows)
        assert whole_stats[split]["src_pieces"] == sum(len(x) for x, _ in rows)
        assert whole_stats[split]["words"]["de"]["words"] == sum(sum(p.startswith(B) for p in x) for x, _ in rows)
    assert list(whole_stats["train"]) == ["sentences", "links", "src_pieces", "tgt_pieces", "src_aligned",
                                          "tgt_aligned", "piece_pairs", "word_links", "words_changed", "words"]


def test_segmented_chunked_equals_whole(tmp_path):
    """Chinese words from jieba: the same links and figures (segmenter boundaries inside pieces included)."""
    pytest.importorskip("jieba")
    zh = ["我们", "喜欢", "猫", "和", "狗", "今天", "天气", "很好", "北京", "大学"]
    rng = random.Random(5)
    rows = []
    for _ in range(17):
        text = "".join(rng.choice(zh) for _ in range(rng.randint(1, 6)))
        cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 3)))) if len(text) > 1 else []
        pieces = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]
        pieces[0] = B + pieces[0]
        rows.append((random_pieces(rng, ["cat", "dog", "weather", "beijing"]), pieces))
    ins, outs = write_splits(tmp_path, {"train": rows[:12], "valid": rows[12:]})
    config = cfg(tmp_path)
    whole_stats, whole = run(tmp_path, ins, outs, config, langs=("en", "zh_CN"))
    with WorkerPool(2) as pool:
        chunk_stats, chunked = run(tmp_path, ins, outs, config, pool=pool, chunk_lines=2, langs=("en", "zh_CN"))
    assert chunked == whole and chunk_stats == whole_stats
    zh_words = whole_stats["train"]["words"]["zh_CN"]
    assert zh_words["segmenter"] == "jieba" and "inside_pieces" in zh_words
    assert zh_words["words"] > zh_words["space_words"] == 12  # one ▁ per line; jieba splits further


def test_bad_aligner_link_names_its_line_across_splits_and_chunks(tmp_path):
    rows = [([B + "a"], [B + "a"])] * 7
    bad = rows[:5] + [([B + "BAD"], [B + "a"])] + rows[5:]
    ins, outs = write_splits(tmp_path, {"train": rows[:4], "valid": bad[4:]})
    with WorkerPool(2) as pool, pytest.raises(AlignerError, match=r"fast_align output line 6: link 0-1 is outside"):
        align_pair(ins, outs, cfg(tmp_path), tmp_path, ("de", "fr"), pool=pool, chunk_lines=2)


def test_projected_line_equals_the_sorted_set_of_piece_links():
    rng = random.Random(7)
    for _ in range(200):
        def spans():
            cuts = sorted(rng.sample(range(1, 12), rng.randint(0, 6)))
            return [range(a, b) for a, b in zip([0] + cuts, cuts + [12])]
        src, tgt = spans(), spans()
        links = {(rng.randrange(len(src)), rng.randrange(len(tgt))) for _ in range(rng.randint(0, 6))}
        for first in (False, True):
            cut = 1 if first else None
            pieces = {(a, b) for i, j in links for a in list(src[i])[:cut] for b in list(tgt[j])[:cut]}
            expected = " ".join(f"{a}-{b}" for a, b in sorted(pieces))
            bounds = [span.start for span in src] + [12], [span.start for span in tgt] + [12]
            assert projected_line(links, *bounds, first) == (
                expected, len(pieces), len({a for a, _ in pieces}), len({b for _, b in pieces}))


# Directions that differ: forward links equal words (written in reverse order, the first twice); reverse links
# equal words and words that share their first letter. Symmetrization then has work on most lines.
FAKE_FAST_ALIGN_DIRECTIONS = """\
#!{python}
import sys
args = sys.argv[1:]
for line in open(args[args.index("-i") + 1], encoding="utf-8"):
    src, tgt = (side.split() for side in line.split(" ||| "))
    if "-r" in args:
        links = [f"{{i}}-{{j}}" for i, s in enumerate(src) for j, t in enumerate(tgt) if s[0] == t[0]]
    else:
        links = [f"{{i}}-{{j}}" for i, s in enumerate(src) for j, t in enumerate(tgt) if s == t][::-1]
        links += links[-1:]
    print(" ".join(links))
"""


def directions(x, y):
    """The fake aligner's forward and reverse word links (above), computed from the pieces."""
    def words(pieces):
        starts = [k for k, p in enumerate(pieces) if k == 0 or p.startswith(B)]
        return ["".join(pieces[a:b]).replace(B, "") for a, b in zip(starts, starts[1:] + [len(pieces)])]
    src, tgt = words(x), words(y)
    forward = {(i, j) for i, s in enumerate(src) for j, t in enumerate(tgt) if s == t}
    reverse = {(i, j) for i, s in enumerate(src) for j, t in enumerate(tgt) if s[0] == t[0]}
    return frozenset(forward), frozenset(reverse)


@pytest.mark.parametrize("heuristic", ["grow-diag-final-and", "intersect", "union"])
@pytest.mark.parametrize("first_piece_only", [False, True])
def test_differing_directions_symmetrized_and_projected_in_chunks(tmp_path, monkeypatch, heuristic, first_piece_only):
    """Chunks of well-formed lines are projected in array operations, the chunk with a line of two spaces between
    pieces line by line: both equal the links and figures computed here, in the pool or not."""
    rng = random.Random(11)
    vocab = ["haus", "hut", "katze", "kamm", "ab", "wort", "welt", "baum"]
    rows = [(random_pieces(rng, vocab), random_pieces(rng, vocab)) for _ in range(40)]
    ins, outs = write_splits(tmp_path, {"train": rows})
    lines = ins["train"][0].read_text(encoding="utf-8").split("\n")
    assert len(rows[7][0]) > 1
    lines[7] = rows[7][0][0] + "  " + " ".join(rows[7][0][1:])
    ins["train"][0].write_text("\n".join(lines), encoding="utf-8")
    fake = tmp_path / "fast_align_directions"
    fake.write_text(FAKE_FAST_ALIGN_DIRECTIONS.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    config = cfg(tmp_path, fast_align_bin=str(fake), symmetrize=heuristic, first_piece_only=first_piece_only)
    with WorkerPool(2) as pool:
        stats, got = run(tmp_path, ins, outs, config, pool=pool, chunk_lines=4)
    blocks = []
    monkeypatch.setattr(piece_alignment, "_project_block",
                        lambda *a, f=piece_alignment._project_block: blocks.append(f(*a) is not None) or f(*a))
    assert run(tmp_path, ins, outs, config, chunk_lines=4) == (stats, got)
    assert blocks == [True] + [False] + [True] * 8  # the line of two spaces is in the second chunk

    cut = 1 if first_piece_only else None
    expected, figures = [], dict(links=0, word_links=0, src_aligned=0, tgt_aligned=0, piece_pairs=0)
    linked, differ = [0, 0], 0
    for x, y in rows:
        forward, reverse = directions(x, y)
        differ += forward != reverse
        links = symmetrize(forward, reverse, heuristic)
        spans = [word_spans(x), word_spans(y)]
        pieces = {(a, b) for i, j in links for a in spans[0][i][:cut] for b in spans[1][j][:cut]}
        expected.append(" ".join(f"{a}-{b}" for a, b in sorted(pieces)) + "\n")
        figures["links"] += len(pieces)
        figures["word_links"] += len(links)
        figures["src_aligned"] += len({a for a, _ in pieces})
        figures["tgt_aligned"] += len({b for _, b in pieces})
        figures["piece_pairs"] += len(x) * len(y)
        linked[0] += len({i for i, _ in links})
        linked[1] += len({j for _, j in links})
    assert differ >= 20  # symmetrization has work on most lines
    assert got["train"] == "".join(expected)
    assert {k: stats["train"][k] for k in figures} == figures
    assert [stats["train"]["words"][lang]["linked_words"] for lang in ("de", "fr")] == linked
