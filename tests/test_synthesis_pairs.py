"""weam-synthesize end to end: dictionaries, pseudo-parallel pairs whose links point at the exchanged words,
consumed unchanged by ``weam-prepare --aligner precomputed``, the adversarial choice under a checkpoint, and
one-line errors for bad input."""
import base64
import gzip
import json
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool, write_lines

from fairseq_weam.cli.synthesize import main as synthesize_main
from fairseq_weam.synthesis.dictionaries import load_dictionary, read_dictd
from fairseq_weam.synthesis.pairs import synthesize
from fairseq_weam.synthesis.words import replace_core

ENGLISH = ["apple", "bread", "cheese", "door", "engine", "forest", "garden", "house", "island", "jacket",
           "kettle", "lemon", "market", "needle", "orange", "pencil", "river", "stone", "table", "window"]


def cipher(word):
    """The made-up language xx: each English word reversed, with a z added."""
    return word[::-1] + "z"


def sentences(n, seed, words):
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_lines(root / "mono.en", [s.capitalize() + "." for s in sentences(300, 1, ENGLISH)])
    write_lines(root / "mono.xx", sentences(300, 2, [cipher(w) for w in ENGLISH]))
    write_lines(root / "dict.tsv", [f"{w}\t{cipher(w)}" for w in ENGLISH])
    return root


def common(root, out, *extra):
    return ["--pairs", "en-xx", "--text", f"en={root / 'mono.en'}", "--text", f"xx={root / 'mono.xx'}",
            "--dictionary", str(root / "dict.tsv"), "--out", str(out), "--dim", "8", "--epoch", "1",
            "--min-count", "1", "--csls-k", "3", "--test-share", "0.3", "--valid-size", "20",
            "--cache-dir", str(root / "cache"), *map(str, extra)]


def read(out, split, lang):
    return (out / f"{split}.en-xx.{lang}").read_text(encoding="utf-8").splitlines()


def test_dictd_and_tsv_dictionaries(tmp_path):
    entries = {"house": "house /haus/\nHaus <neut>, Gebäude\n      \"a house\"  - ein Haus\n see: {home}\n",
               "cat": "cat /kat/\n1. Katze <fem> [zool.]; Kater\n",
               "CAT": "computed axial tomography (CAT)\nComputertomografie\n",  # an abbreviation indexed under cat
               "cold war": "cold war\nKalter Krieg\n"}
    data, index = b"", []
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def b64(n):  # dictd numbers: base 64, most significant digit first
        out = ""
        while True:
            out = digits[n % 64] + out
            n //= 64
            if not n:
                return out
    for head, text in entries.items():
        raw = text.encode()
        index.append(f"{head}\t{b64(len(data))}\t{b64(len(raw))}")
        data += raw
    assert base64.b64decode("AAB/") == b"\x00\x00\x7f" and b64(127) == "B/"  # the digit alphabet is base64's
    (tmp_path / "fd-eng-deu.index").write_text("\n".join(["00databaseurl\tA\tB"] + index) + "\n")
    with gzip.open(tmp_path / "fd-eng-deu.dict.dz", "wb") as f:
        f.write(data)
    assert read_dictd(tmp_path / "fd-eng-deu.index") == {"house": {"haus", "gebäude"}, "cat": {"katze", "kater"}}
    (tmp_path / "freedict-deu-eng.index").write_text((tmp_path / "fd-eng-deu.index").read_text())
    (tmp_path / "freedict-deu-eng.dict.dz").write_bytes((tmp_path / "fd-eng-deu.dict.dz").read_bytes())
    assert load_dictionary("freedict", "en", "de", dictd_dir=tmp_path)["katze"] == {"cat"}  # inverted
    write_lines(tmp_path / "d.tsv", ["# comment", "Haus\tHouse", "Haus\thome", "kalter Krieg\tcold war"])
    assert load_dictionary(str(tmp_path / "d.tsv"), "de", "en") == {"haus": {"house", "home"}}


def test_exchanged_tokens_are_the_linked_ones():
    candidates = {"house": ["haus"], "red": ["rot"], "garden": ["garten"]}
    lines = ["The red house, and (Garden).", "nothing known here", "red"]
    made = list(synthesize(lines, candidates, 1.0, np.random.default_rng(0), links="substituted"))
    assert made == [("The red house, and (Garden).", "The rot haus, and (Garten).", "1-1 2-2 4-4"),
                    ("red", "rot", "0-0")]
    half = list(synthesize(["red house garden red house garden"] * 20, candidates, 0.5, np.random.default_rng(0)))
    for source, target, links in half:
        exchanged = [i for i, (a, b) in enumerate(zip(source.split(), target.split())) if a != b]
        assert len(exchanged) == 3
        assert links == " ".join(f"{i}-{i}" for i in range(6))  # links="all": every token to itself


@pytest.mark.slow
def test_synthesize_prepare_and_adversarial_choice(corpus, tmp_path):
    out = tmp_path / "RAW"
    assert synthesize_main(common(corpus, out, "--rate", "0.5", "--links", "substituted", "--seed", "3")) == 0
    report = json.loads((out / "synthesis_report.json").read_text())["pairs"][0]
    assert report["vocabulary"] == {"en": 20, "xx": 20} and report["test_entries"] == 6
    assert report["bli"]["evaluated"] == 6 and set(report["bli"]) >= {"p@1", "p@5"}
    xx_words = {cipher(w) for w in ENGLISH}
    for split, n in (("train", 280), ("valid", 20)):
        src, tgt, align = read(out, split, "en"), read(out, split, "xx"), read(out, split, "align")
        assert len(src) == len(tgt) == len(align) == n
        for s, t, a in zip(src, tgt, align):
            s, t = s.split(), t.split()
            assert len(s) == len(t)
            linked = [int(link.split("-")[0]) for link in a.split()]
            assert a == " ".join(f"{i}-{i}" for i in linked)
            assert linked == [i for i, (x, y) in enumerate(zip(s, t)) if x != y]  # links = the exchanged words
            assert all(t[i].strip(".").lower() in xx_words for i in linked)
            assert len(linked) == max(1, round(0.5 * len(s)))

    data = tmp_path / "DATA"
    proc = run([tool("weam-prepare"), "--raw-dir", out, "--dest-dir", data, "--aligner", "precomputed",
                "--vocab-size", "60"])
    assert "en-xx train: 280 -> 280 pairs" in proc.stdout
    prep = json.loads((data / "prep_report.json").read_text())
    assert "train.align.en-xx.bin" in {p.name for p in data.iterdir()}, prep

    run([tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
         *TINY_ROBERTA, "--tokens-per-sample", "64", "--batch-size", "8", "--optimizer", "adam", "--lr", "1e-3",
         "--max-update", "2", "--save-dir", tmp_path / "ckpt", "--cpu", "--num-workers", "0",
         "--no-epoch-checkpoints", "--disable-validation"])
    ckpt = tmp_path / "ckpt" / "checkpoint_last.pt"

    from fairseq_weam.synthesis.adversarial import MaskedLMChooser
    chooser = MaskedLMChooser(str(ckpt), str(data))
    model, dictionary, spm = chooser.model, chooser.dictionary, chooser.spm

    def loss(tokens, pos):  # independent: mask the pieces of word pos, mean cross-entropy over them
        pieces = spm.encode(" ".join(tokens), out_type=str)
        starts = [k for k, p in enumerate(pieces) if k == 0 or p.startswith("\u2581")]
        lo, hi = starts[pos], (starts + [len(pieces)])[pos + 1]
        ids = torch.tensor([[0] + [dictionary.index(p) for p in pieces] + [2]])
        masked = ids.clone()
        masked[0, lo + 1 : hi + 1] = dictionary.index("<mask>")
        with torch.no_grad():
            logits = model(masked)[0]
        return F.cross_entropy(logits[0, lo + 1 : hi + 1], ids[0, lo + 1 : hi + 1]).item()

    tokens = "The bread and stone".split()
    cands = [cipher(w) for w in ("bread", "lemon", "window", "garden")]
    expected = int(np.argmax([loss([*tokens[:1], c, *tokens[2:]], 1) for c in cands]))
    assert chooser.choose(tokens, [1], [cands], replace_core) == [expected]

    adv = tmp_path / "ADV"
    assert synthesize_main(common(corpus, adv, "--choice", "adversarial", "--top-k", "3", "--checkpoint", ckpt,
                                  "--checkpoint-data", data, "--max-sentences", "30")) == 0
    report = json.loads((adv / "synthesis_report.json").read_text())["pairs"][0]
    assert report["choice"] == "adversarial-mlm" and report["train"] == 30
    assert read(adv, "train", "align")[0] == " ".join(f"{i}-{i}" for i in range(len(read(adv, "train", "en")[0].split())))


@pytest.mark.parametrize("case", ["missing dictionary", "no overlap", "empty text", "no freedict"])
def test_bad_inputs_give_one_line_errors(corpus, tmp_path, capsys, case):
    out = tmp_path / "RAW"
    args = common(corpus, out)
    if case == "missing dictionary":
        args[args.index("--dictionary") + 1] = str(tmp_path / "nope.tsv")
        expected = "dictionary not found: "
    elif case == "no overlap":
        write_lines(tmp_path / "other.tsv", ["mountain\tniatnuomz", "valley\tyellavz"])
        args[args.index("--dictionary") + 1] = str(tmp_path / "other.tsv")
        expected = "0 of its 2 en-xx entries have both words in the vocabularies"
    elif case == "empty text":
        write_lines(tmp_path / "empty.en", [])
        args[args.index(f"en={corpus / 'mono.en'}")] = f"en={tmp_path / 'empty.en'}"
        expected = "no words with letters; give a non-empty text file"
    else:
        args[args.index("--dictionary") + 1] = "freedict"
        args += ["--dictd-dir", str(tmp_path)]
        expected = "install it with `apt-get install dict-freedict-eng-xx`"
    assert synthesize_main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("weam-synthesize: error: ") and err.count("\n") == 1 and expected in err, err
    assert not out.exists() and not (tmp_path / ".RAW.tmp").exists()


def test_identical_words_join_the_seed_dictionary(tmp_path):
    same = ENGLISH[:5]  # spelt alike in both languages (names, loanwords); the dictionary lists the others
    xx = {w: (w if w in same else cipher(w)) for w in ENGLISH}
    write_lines(tmp_path / "mono.en", sentences(100, 1, ENGLISH))
    write_lines(tmp_path / "mono.xx", sentences(100, 2, list(xx.values())))
    write_lines(tmp_path / "dict.tsv", [f"{w}\t{xx[w]}" for w in ENGLISH[5:]])
    reports = []
    for extra in ([], ["--identical-seed"]):
        out = tmp_path / f"RAW{len(extra)}"
        assert synthesize_main(common(tmp_path, out, "--valid-size", "5", *extra)) == 0
        reports.append(json.loads((out / "synthesis_report.json").read_text())["pairs"][0])
    plain, identical = reports
    assert plain["seed_entries"] == identical["seed_entries"] == 11 and plain["test_entries"] == 4  # 15 * 0.3
    assert plain["seed_pairs"] == 11 and identical["seed_pairs"] == 11 + 5
