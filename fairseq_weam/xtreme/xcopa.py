"""XCOPA (2-way multiple choice) read as XTREME lays it out, binarized for fairseq's ``sentence_ranking`` task.

Task dir (``download_xcopa`` of the XTREME repository): ``train-en.jsonl``, ``val-en.jsonl`` (English COPA),
``val-{lang}.jsonl`` and ``test-{lang}.jsonl`` per XCOPA language; one JSON object per line with
``premise``, ``choice1``, ``choice2``, ``question`` (``cause`` or ``effect``), ``label`` (0 or 1) and ``idx``.
XTREME's download sets every public test label to 0 (a placeholder): a score on those files is meaningless,
the predictions are what a user submits.

The context of a choice is the premise followed by the question, as XTREME's ``run_xcopa.py`` builds it
(``"{premise} What was the {question}?"``). fairseq's ``sentence_ranking`` reads this layout as is::

    input0/  shared context (dict.txt, {subset}.bin/.idx)     input1/ input2/  the choices
    label/{subset}.label                                      the gold choice id (0 or 1), plain text

and scores ``<s> choice </s> </s> context </s>`` per choice with a one-output head (``--num-classes 2
--init-token 0 --separator-token 2``). Inputs are truncated here so that each stays within ``max_len``.
"""
import json
import shutil
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from fairseq_weam.atomic import atomic_path
from fairseq_weam.text_file import json_object_lines
from fairseq_weam.xtreme.binarize import preprocess_column
from fairseq_weam.xtreme.encoding import PairEncoder
from fairseq_weam.xtreme.io import XtremeDataError

QUESTIONS = ("cause", "effect")
NUM_CHOICES = 2
#: the context of XTREME's run_xcopa.py
CONTEXT_TEMPLATE = "{premise} What was the {question}?"
_TEST_FILE = "test-{lang}.jsonl"


class XcopaExample(NamedTuple):
    idx: int
    premise: str
    question: str
    choices: Tuple[str, ...]
    label: int


def read_xcopa(path) -> List[XcopaExample]:
    """Examples of an XCOPA JSON-lines file; a malformed line or an unknown label/question names file:line."""
    path = Path(path)
    examples = []
    for lineno, row in json_object_lines(path, XtremeDataError):
        where = f"{path}:{lineno}"
        missing = [k for k in ("premise", "choice1", "choice2", "question", "label") if k not in row]
        if missing:
            raise XtremeDataError(f"{where}: missing {', '.join(missing)}")
        if row["question"] not in QUESTIONS:
            raise XtremeDataError(f"{where}: unknown question {row['question']!r}; expected cause or effect")
        if type(row["label"]) is not int or not 0 <= row["label"] < NUM_CHOICES:
            raise XtremeDataError(f"{where}: unknown label {row['label']!r}; expected 0 or 1")
        texts = [row[k] for k in ("premise", "choice1", "choice2")]
        if not all(isinstance(t, str) and t.strip() for t in texts):
            raise XtremeDataError(f"{where}: premise, choice1 and choice2 must be non-empty strings")
        examples.append(XcopaExample(int(row.get("idx", lineno - 1)), texts[0].strip(), row["question"],
                                     (texts[1].strip(), texts[2].strip()), row["label"]))
    if not examples:
        raise XtremeDataError(f"{path}: no examples")
    return examples


def find_test_languages(task_dir) -> List[str]:
    return sorted(p.name[len("test-"):-len(".jsonl")] for p in Path(task_dir).glob("test-*.jsonl"))


def read_test_sets(task_dir, langs: Optional[Sequence[str]] = None) -> Dict[str, List[XcopaExample]]:
    task_dir = Path(task_dir)
    langs = list(langs) if langs else find_test_languages(task_dir)
    if not langs:
        raise XtremeDataError(f"{task_dir}: no test-{{lang}}.jsonl files (XTREME's download_xcopa layout)")
    return {lang: read_xcopa(task_dir / _TEST_FILE.format(lang=lang)) for lang in langs}


def context(example: XcopaExample) -> str:
    return CONTEXT_TEMPLATE.format(premise=example.premise, question=example.question)


def encode_example(encoder: PairEncoder, example: XcopaExample) -> Tuple[List[str], List[List[str]], bool]:
    """(context pieces, pieces of each choice, truncated?): every ``<s> choice </s> </s> context </s>``
    fits ``encoder.max_len``; the shared context is the shortest truncation any choice needed."""
    text = context(example)
    full = len(encoder.pieces(text))
    pairs = [encoder.encode_pair(text, choice) for choice in example.choices]
    shared = min((a for a, _ in pairs), key=len)
    choices = [b for _, b in pairs]
    cut = len(shared) < full or any(len(b) < len(encoder.pieces(c)) for b, c in zip(choices, example.choices))
    return shared, choices, cut


def collect_subsets(task_dir, langs=None) -> Dict[str, List[XcopaExample]]:
    task_dir = Path(task_dir)
    subsets = {"train": read_xcopa(task_dir / "train-en.jsonl"), "valid": read_xcopa(task_dir / "val-en.jsonl")}
    subsets.update({f"test.{lang}": ex for lang, ex in read_test_sets(task_dir, langs).items()})
    return subsets


def prepare(request, progress=print) -> dict:
    """Encode and binarize ``request.task_dir`` into ``request.dest`` (appears atomically); the report dict
    (also ``prepare_report.json``). Subsets: ``train``, ``valid`` (val-en) and ``test.{lang}``."""
    dest = Path(request.dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty; choose a new --destdir or remove it")
    subsets = collect_subsets(request.task_dir, request.langs)
    encoder = PairEncoder(request.spm_model, request.max_len)
    columns = ["input0"] + [f"input{i + 1}" for i in range(NUM_CHOICES)]
    report = {"task": request.task, "task_dir": str(request.task_dir), "max_len": request.max_len,
              "context_template": CONTEXT_TEMPLATE, "num_choices": NUM_CHOICES, "subsets": {}}
    with atomic_path(dest, directory=True) as work:
        text = work / ".text"
        text.mkdir()
        (work / "label").mkdir()
        for name, examples in subsets.items():
            progress(f"xcopa: encoding {name} ({len(examples)} examples)")
            rows, truncated = {c: [] for c in columns}, 0
            for ex in examples:
                shared, choices, cut = encode_example(encoder, ex)
                truncated += cut
                for column, pieces in zip(columns, [shared] + choices):
                    rows[column].append(" ".join(pieces))
            for column, lines in rows.items():
                (text / f"{name}.{column}").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            (work / "label" / f"{name}.label").write_text("".join(f"{ex.label}\n" for ex in examples),
                                                          encoding="utf-8")
            report["subsets"][name] = {"examples": len(examples), "truncated": truncated}
        for column in columns:
            progress(f"xcopa: binarizing {column}")
            preprocess_column(text, column, list(subsets), request.dictionary, work / column, request.workers)
        report["valid_subsets"] = [n for n in subsets if n != "train"]
        (work / "prepare_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(text)
    return report
