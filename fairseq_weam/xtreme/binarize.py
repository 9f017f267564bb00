"""Binarize an XTREME-layout task dir into fairseq's ``sentence_prediction`` layout.

Output (``DEST``)::

    input0/ input1/ label/     fairseq-preprocess --only-source outputs (dict.txt, {subset}.bin/.idx)
    {subset}.raw.tsv           not written: the raw TSVs stay the reference
    prepare_report.json        subsets, sizes, truncation counts, label ids

Subsets: ``train`` (train-en), ``valid`` (dev-en), ``test.{lang}`` per test language and, for the
generalized setting, ``test.{l1}-{l2}`` (sentence1 of l1 with sentence2 of l2, l1 != l2; the diagonal is
``test.{l}``). All are valid names for ``--valid-subset``. The label dictionary is written from the label
set before binarizing, so a label has the same id in every subset (fairseq would otherwise count labels
per run). A single-sentence task (2-column files) has no ``input1/``, so ``sentence_prediction`` reads
``input0`` alone (``<s> a </s>``), and no generalized subsets.
"""
import json
import os
import shutil
from pathlib import Path

from tqdm import tqdm

from fairseq_weam.atomic import atomic_path
from fairseq_weam.fairseq_preprocess import run_fairseq_preprocess
from fairseq_weam.xtreme import io as xtreme_data
from fairseq_weam.xtreme.encoding import PairEncoder
from fairseq_weam.xtreme.labels import write_label_dictionary


def collect_subsets(task_dir, labels, langs=None, generalized=True):
    """``{subset: examples}`` in a fixed order: train, valid, test.{lang}..., test.{l1}-{l2}..."""
    task_dir = Path(task_dir)
    subsets = {
        "train": xtreme_data.read_pairs(task_dir / "train-en.tsv", labels),
        "valid": xtreme_data.read_pairs(task_dir / "dev-en.tsv", labels),
    }
    tests = xtreme_data.read_test_sets(task_dir, labels, langs)
    subsets.update({f"test.{lang}": examples for lang, examples in tests.items()})
    xtreme_data.check_same_kind({"train-en.tsv": subsets["train"], "dev-en.tsv": subsets["valid"],
                                 **{f"test-{lang}.tsv": ex for lang, ex in tests.items()}})
    if generalized and len(tests) > 1 and not xtreme_data.is_single_sentence(subsets["train"]):
        xtreme_data.check_parallel(task_dir, tests)
        for l1 in tests:
            for l2 in tests:
                if l1 != l2:
                    subsets[f"test.{l1}-{l2}"] = xtreme_data.generalized_pairs(tests, l1, l2)
    return subsets


def preprocess_column(text_dir, column, names, dictionary, dest, workers):
    """One fairseq-preprocess call per column: train via --trainpref, the rest via --validpref, renamed."""
    others = [n for n in names if n != "train"]
    cmd = [
        "--only-source", "--srcdict", str(dictionary), "--destdir", str(dest), "--workers", str(workers),
        "--trainpref", str(text_dir / f"train.{column}"),
    ]
    if others:
        cmd += ["--validpref", ",".join(str(text_dir / f"{n}.{column}") for n in others)]
    run_fairseq_preprocess(cmd, f"column {column}")
    for i, name in enumerate(others):
        default = "valid" if i == 0 else f"valid{i}"
        if default != name:
            for ext in (".bin", ".idx"):
                os.replace(dest / f"{default}{ext}", dest / f"{name}{ext}")


def prepare(task_dir, dest, spm_model, dictionary, labels, langs=None, generalized=True, max_len=128,
            workers=1):
    """Read, encode, truncate and binarize a task dir; returns the report dict (also written as JSON).

    The output appears atomically (``fairseq_weam.atomic``): it is built in a temporary sibling of ``dest``
    and renamed; a temporary left by a killed run is replaced.
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty; choose a new --destdir or remove it")
    subsets = collect_subsets(task_dir, labels, langs, generalized)
    encoder = PairEncoder(spm_model, max_len)
    with atomic_path(dest, directory=True) as work:
        text = work / ".text"
        text.mkdir()
        report = {"task_dir": str(task_dir), "labels": list(labels), "max_len": max_len, "subsets": {},
                  "single_sentence": xtreme_data.is_single_sentence(subsets["train"])}
        # Encode each distinct sentence once: the generalized subsets reuse the test sentences.
        cache = {}
        single = xtreme_data.is_single_sentence(subsets["train"])
        columns = ["input0"] if single else ["input0", "input1"]
        for name, examples in tqdm(subsets.items(), desc="encode", unit="subset"):
            truncated = 0
            files = [open(text / f"{name}.{c}", "w", encoding="utf-8") for c in columns + ["label"]]
            try:
                for ex in examples:
                    key = (ex.sentence1, ex.sentence2)
                    if key not in cache:
                        full = sum(len(encoder.pieces(s)) for s in key if s is not None)
                        a, b = encoder.encode_pair(ex.sentence1, ex.sentence2)
                        parts = [a] if b is None else [a, b]
                        cache[key] = ([" ".join(x) for x in parts], sum(map(len, parts)) < full)
                    parts, cut = cache[key]
                    truncated += cut
                    for f, value in zip(files, parts + [ex.label]):
                        f.write(value + "\n")
            finally:
                for f in files:
                    f.close()
            report["subsets"][name] = {"examples": len(examples), "truncated": truncated}
        label_dict = text / "label.dict.txt"
        write_label_dictionary(label_dict, labels)
        names = list(subsets)
        for column, dictionary_path in tqdm([(c, dictionary) for c in columns] + [("label", label_dict)],
                                            desc="binarize", unit="column"):
            preprocess_column(text, column, names, dictionary_path, work / column, workers)
        report["label_ids"] = {label: i for i, label in enumerate(labels)}
        report["valid_subsets"] = [n for n in names if n != "train"]
        (work / "prepare_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(text)
    return report
