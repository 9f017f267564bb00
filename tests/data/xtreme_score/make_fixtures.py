"""Write a small submission (predictions/) and its gold (labels/) for every task of XTREME and XTREME-R.

    python tests/data/xtreme_score/make_fixtures.py OUT_DIR

Every official language of every task (XTREME-R's lists, which contain XTREME's), a few examples each,
chosen so that each language gets its own figures: partial NER entity matches, POS errors, SQuAD
normalization (articles, punctuation, whitespace, several gold answers, an unanswered question, an
unknown id), MLQA's language-specific normalization (Chinese characters, Spanish/German/Vietnamese articles,
the Arabic "ال", Unicode punctuation), BUCC pairs, Tatoeba indices, XCOPA JSON lines, a Mewsli-X ranking
whose gold is beyond rank 20, and a LAReQA ranking. The files are written here directly (json / plain
lines), not with the code under test; deterministic (no random module), so the figures the official
scorer gave on them (recorded in tests/test_xtreme_score.py) stay valid.
"""
import json
import sys
from pathlib import Path

LANGS = {
    "xnli": "ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh",
    "pawsx": "de,en,es,fr,ja,ko,zh",
    "panx": "ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,"
            "yo,my,zh,kk,tr,et,fi,hu,qu,pl,uk,az,lt,pa,gu,ro",
    "udpos": "af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,"
             "zh,lt,pl,uk,wo,ro",
    "bucc2018": "de,fr,ru,zh",
    "tatoeba": "ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,"
               "tr,et,fi,hu,az,lt,pl,uk,ro",
    "xcopa": "et,ht,id,it,qu,sw,ta,th,tr,vi,zh",
    "mewslix": "ar,de,en,es,fa,ja,pl,ro,ta,tr,uk",
    "xquad": "en,es,de,el,ru,tr,ar,vi,th,zh,hi,ro",
    "mlqa": "en,es,de,ar,hi,vi,zh",
    "tydiqa": "en,ar,bn,fi,id,ko,ru,sw,te",
    "lareqa": "ar,de,el,en,es,hi,ru,th,tr,vi,zh",
}
LANGS = {task: langs.split(",") for task, langs in LANGS.items()}


def mix(*numbers, mod):
    """A fixed scramble of small integers into range(mod)."""
    value = 7
    for n in numbers:
        value = (value * 31 + n * 17 + 3) % 1000003
    return value % mod


def lines(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")


def dump(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def classification(out, task, labels, n):
    for i, lang in enumerate(LANGS[task]):
        gold = [labels[mix(i, j, mod=len(labels))] for j in range(n)]
        wrong = mix(i, 99, mod=n + 1)  # how many predictions are changed
        pred = [labels[(labels.index(g) + 1) % len(labels)] if j < wrong else g for j, g in enumerate(gold)]
        lines(out / "labels" / task / f"test-{lang}.tsv", gold)
        lines(out / "predictions" / task / f"test-{lang}.tsv", pred)


def tatoeba(out):
    for i, lang in enumerate(LANGS["tatoeba"]):
        gold = [mix(i, j, mod=900) for j in range(6)]
        pred = [g if mix(i, j, 5, mod=3) else g + 1 for j, g in enumerate(gold)]
        lines(out / "labels" / "tatoeba" / f"test-{lang}.tsv", gold)
        lines(out / "predictions" / "tatoeba" / f"test-{lang}.tsv", pred)


def bucc(out):
    for i, lang in enumerate(LANGS["bucc2018"]):
        gold = [f"{lang}-{100 + j:09d}\ten-{200 + j:09d}" for j in range(5)]
        if i == 3:  # nothing right: F1 0
            pred = [f"{lang}-{100 + j:09d}\ten-{300 + j:09d}" for j in range(3)]
        else:  # i+2 right of 5 gold, plus i spurious pairs
            pred = gold[:i + 2] + [f"{lang}-{500 + j:09d}\ten-{600 + j:09d}" for j in range(i)]
        lines(out / "labels" / "bucc2018" / f"test-{lang}.tsv", gold)
        lines(out / "predictions" / "bucc2018" / f"test-{lang}.tsv", pred)


def blocks(sentences):
    rows = []
    for k, tags in enumerate(sentences):
        if k:
            rows.append("")
        rows += tags
    return rows


NER_GOLD = [
    ["B-PER", "I-PER", "O", "O", "B-LOC"],
    ["O", "B-ORG", "I-ORG", "I-ORG", "O", "B-PER"],
    ["B-LOC", "I-LOC", "O", "B-ORG", "O"],
]
NER_VARIANTS = [
    NER_GOLD,
    [["B-PER", "O", "O", "O", "B-LOC"], NER_GOLD[1], NER_GOLD[2]],                      # entity cut short
    [NER_GOLD[0], ["O", "B-ORG", "I-ORG", "O", "O", "B-PER"], ["B-LOC", "I-LOC", "O", "B-PER", "O"]],
    [["B-PER", "I-PER", "I-PER", "O", "O"], NER_GOLD[1], ["I-LOC", "I-LOC", "O", "B-ORG", "B-ORG"]],
    [["O"] * 5, ["O"] * 6, ["O"] * 5],                                                    # predicts nothing
    [["B-LOC", "I-LOC", "O", "O", "B-PER"], ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-PER"], NER_GOLD[2]],
]
POS = ["NOUN", "VERB", "ADJ", "ADP", "DET", "PRON", "PROPN", "PUNCT", "ADV", "NUM"]


def tagging(out):
    for i, lang in enumerate(LANGS["panx"]):
        lines(out / "labels" / "panx" / f"test-{lang}.tsv", blocks(NER_GOLD))
        lines(out / "predictions" / "panx" / f"test-{lang}.tsv", blocks(NER_VARIANTS[i % len(NER_VARIANTS)]))
    for i, lang in enumerate(LANGS["udpos"]):
        gold = [[POS[mix(i, s, w, mod=len(POS))] for w in range(4 + s)] for s in range(3)]
        pred = [[t if mix(i, s, w, 1, mod=4) else POS[(POS.index(t) + 1) % len(POS)] for w, t in enumerate(sent)]
                for s, sent in enumerate(gold)]
        lines(out / "labels" / "udpos" / f"test-{lang}.tsv", blocks(gold))
        lines(out / "predictions" / "udpos" / f"test-{lang}.tsv", blocks(pred))


def xcopa(out):
    for i, lang in enumerate(LANGS["xcopa"]):
        gold = [mix(i, j, mod=2) for j in range(5)]
        pred = [g if j >= i % 4 else 1 - g for j, g in enumerate(gold)]
        lines(out / "labels" / "xcopa" / f"test-{lang}.jsonl",
              [json.dumps({"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "idx": j,
                           "label": g}) for j, g in enumerate(gold)])
        lines(out / "predictions" / "xcopa" / f"test-{lang}.jsonl",
              [json.dumps({"idx": j, "label": p}) for j, p in enumerate(pred)])


def squad(questions):
    """SQuAD JSON from [(id, [gold answers])]; contexts hold the answers."""
    paragraphs = [{"context": " ".join(a[0] for _, a in questions[k:k + 2]),
                   "qas": [{"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in answers]}
                           for qid, answers in questions[k:k + 2]]} for k in range(0, len(questions), 2)]
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}


# (gold answers, prediction or None for unanswered) — SQuAD normalization cases
SQUAD_CASES = [
    (["The Eiffel Tower"], "eiffel tower"),                       # article + case
    (["Paris, France"], "Paris France."),                        # punctuation
    (["in  1889"], " in 1889 "),                                  # whitespace
    (["Gustave Eiffel", "Eiffel"], "Gustave Eiffel's company"),   # best of two answers, partial
    (["an iron lattice tower"], "a lattice"),                     # articles on both sides, partial
    (["330 metres"], "about 300 metres"),                         # partial
    (["the Champ de Mars"], "Champ-de-Mars"),                     # hyphens removed: no match
    (["Seine"], None),                                            # unanswered: 0
]


def qa_squad(out, task):
    for i, lang in enumerate(LANGS[task]):
        cases = SQUAD_CASES[i % 3:] + SQUAD_CASES[:i % 3]
        cases = cases[:5 + i % 4]
        questions = [(f"{task}-{lang}-{k}", gold) for k, (gold, _) in enumerate(cases)]
        pred = {f"{task}-{lang}-{k}": p for k, (_, p) in enumerate(cases) if p is not None}
        pred[f"{task}-{lang}-unknown"] = "ignored"
        dump(out / "labels" / task / f"test-{lang}.json", squad(questions))
        dump(out / "predictions" / task / f"test-{lang}.json", pred)


MLQA_CASES = {
    "en": [(["the red house"], "red house"), (["Bob's car"], "Bob s car"), (["a dog"], "dog!")],
    "es": [(["la casa roja"], "casa roja"), (["los perros"], "¿perros?"), (["el año 1990"], "año  1990"),
           (["unas flores"], "flores")],
    "de": [(["der große Hund"], "großer Hund"), (["die Stadt"], "Stadt"), (["dem Mann"], "einem Mann"),
           (["das Haus"], "„Haus“")],
    "ar": [(["الكتاب"], "كتاب"), (["المدينة الكبيرة"], "مدينة كبيرة"), (["بيت"], "البيت،")],
    "hi": [(["भारत की राजधानी"], "भारत की राजधानी।"), (["दिल्ली"], "नई दिल्ली")],
    "vi": [(["cái bàn"], "bàn"), (["những người"], "người ta"), (["của tôi"], "tôi")],
    "zh": [(["北京大学"], "北京"), (["中华人民共和国"], "人民共和国。"), (["2008年"], "2008 年"),
           (["长城"], "《长城》")],
}


def mlqa(out):
    for lang in LANGS["mlqa"]:
        cases = MLQA_CASES[lang] + [(["unanswered"], None)]
        questions = [(f"mlqa-{lang}-{k}", gold) for k, (gold, _) in enumerate(cases)]
        pred = {f"mlqa-{lang}-{k}": p for k, (_, p) in enumerate(cases) if p is not None}
        dump(out / "labels" / "mlqa" / f"test-{lang}.json", squad(questions))
        dump(out / "predictions" / "mlqa" / f"test-{lang}.json", pred)


def ranking(n_candidates, gold, rank, i):
    """A ranking of ``n_candidates`` ids with ``gold`` at 1-based ``rank`` (None: absent)."""
    others = [f"Q{9000 + i * 100 + k}" for k in range(n_candidates)]
    if rank is not None:
        others.insert(rank - 1, gold)
    return others[:n_candidates]


def mewslix(out):
    ranks = [1, 2, 3, 5, 20, 21, 25, None, 1, 4]
    for i, lang in enumerate(LANGS["mewslix"]):
        gold, pred = {}, {}
        for m in range(4 + i % 3):
            key = f"{lang}-mention-{m}"
            gold[key] = [f"Q{i * 10 + m}"]
            rank = ranks[(i + m) % len(ranks)]
            if (i + m) % 7 != 6:  # some mentions unpredicted: 0
                pred[key] = ranking(30, gold[key][0], rank, i)
        dump(out / "labels" / "mewslix" / f"test-{lang}.json", gold)
        dump(out / "predictions" / "mewslix" / f"test-{lang}.json", pred)


def lareqa(out):
    for i, lang in enumerate(LANGS["lareqa"]):
        gold, pred = {}, {}
        for q in range(3):
            key = f"{lang}-q{q}"
            gold[key] = [f"c{q}_{lang}", f"c{q}_en", f"c{q}_de"][: 1 + (i + q) % 3]
            ranked = [f"x{k}" for k in range(25)]
            for n, target in enumerate(gold[key]):
                ranked.insert(mix(i, q, n, mod=24), target)
            pred[key] = ranked
        dump(out / "labels" / "lareqa" / f"test-{lang}.json", gold)
        dump(out / "predictions" / "lareqa" / f"test-{lang}.json", pred)


def make(out):
    out = Path(out)
    classification(out, "xnli", ["contradiction", "entailment", "neutral"], 6)
    classification(out, "pawsx", ["0", "1"], 5)
    tatoeba(out)
    bucc(out)
    tagging(out)
    xcopa(out)
    qa_squad(out, "xquad")
    qa_squad(out, "tydiqa")
    mlqa(out)
    mewslix(out)
    lareqa(out)
    return out


if __name__ == "__main__":
    make(sys.argv[1])
