"""Extractive question answering in the XTREME layout: XQuAD, MLQA, TyDiQA-GoldP (training on SQuAD v1.1).

Files, as XTREME's ``scripts/download_data.sh`` lays them out (``TASK_DIR`` is ``download/<task>``)::

    xquad   TASK_DIR/xquad.<lang>.json                       training: TASK_DIR/../squad/{train,dev}-v1.1.json
    mlqa    TASK_DIR/MLQA_V1/test/test-context-<c>-question-<q>.json   (c == q: the test set of c; c != q:
            the generalized G-XLT pairs)                     training: SQuAD, as xquad
    tydiqa  TASK_DIR/tydiqa-goldp-v1.1-dev/tydiqa.goldp.<lang>.dev.json
            training: TASK_DIR/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json (or tydiqa.en.train.json,
            the name XTREME's train_qa.sh uses); validation: the English dev file, as train_qa.sh does

SQuAD's training files may also sit in ``TASK_DIR`` itself. Every file is SQuAD-format JSON
(``{"data": [{"paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"answer_start", "text"}]}]}]}]}``).

Model input of one window (RoBERTa/XLM-R, as XLM-R's QA fine-tuning builds it)::

    <s> question </s> </s> context window </s>

The question keeps its first ``max_query_len`` pieces; the context is cut into windows of at most
``max_len - len(question) - 4`` pieces, each starting ``doc_stride`` pieces after the previous one, so a long
context is covered by overlapping windows (``--doc_stride`` of XTREME's ``run_squad.py``). Every context
piece keeps its character span in the context (whitespace trimmed), so a predicted piece span maps back to an
exact substring of the context. A training window that does not contain the whole answer points at ``<s>``
(position 0) for both start and end, the SQuAD v1.1 practice of BERT/XLM-R fine-tuning: the model learns
that such a window holds no answer, and decoding never picks ``<s>``.

An answer whose text differs from ``context[answer_start:answer_start + len(text)]`` is not used for
training; it is counted and reported (question ids), never silently dropped.

``prepare`` writes (``DEST``)::

    input0/                 fairseq-preprocess output: dict.txt, <subset>.bin/.idx (one line per window)
    <subset>.positions.npy  windows x 2 int64: start, end token position of the answer (0: <s>, no answer)
    <subset>.windows.jsonl  per window: question id, window index, index of its first piece in the context,
                            token position of that piece, character begin/end of each context piece
    prepare_report.json     subsets, windows, mismatched answers, settings

Subsets: ``train``, ``valid``, ``test.<lang>`` and, for MLQA G-XLT, ``test.context-<c>-question-<q>``.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from fairseq_weam.atomic import atomic_path
from fairseq_weam.errors import WeamError
from fairseq_weam.xtreme.binarize import preprocess_column
from fairseq_weam.xtreme.encoding import load_sentencepiece

QA_TASKS = ("xquad", "mlqa", "tydiqa")
#: special tokens of one window: <s> q </s> </s> c </s>
SPECIAL_TOKENS_PER_WINDOW = 4
#: token position of <s>, the target of a window without the answer
NO_ANSWER = 0
#: question ids named in a report of mismatched answers (the count is always complete)
REPORTED_IDS = 20


class QADataError(WeamError, ValueError):
    """A QA task file or setting that cannot be used as it is."""


@dataclass
class QAExample:
    qid: str
    question: str
    context: str
    answers: List[Tuple[int, str]]          # (answer_start, text) as in the file
    mismatched: List[int] = field(default_factory=list)  # indices of answers whose text is not their span

    def usable_answer(self) -> Optional[Tuple[int, str]]:
        """The first answer whose text is its span of the context (None: none is)."""
        for k, answer in enumerate(self.answers):
            if k not in self.mismatched and answer[1]:
                return answer
        return None


def _field(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        raise QADataError(f"{where}: missing {key!r}; expected SQuAD-format JSON")
    value = obj[key]
    if not isinstance(value, kind):
        raise QADataError(f"{where}: {key!r} is a {type(value).__name__}, expected {kind.__name__}")
    return value


def read_squad(path) -> Tuple[List[QAExample], list]:
    """(examples, the file's ``data`` list) of a SQuAD-format file; errors name the file and question id."""
    path = Path(path)
    if not path.is_file():
        raise QADataError(f"{path}: no such file")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise QADataError(f"{path}: not JSON ({err})") from None
    data = _field(obj, "data", list, str(path))
    examples, seen = [], set()
    for a, article in enumerate(data):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, f"{path}: data[{a}]")):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", str, where)
            for qa in _field(paragraph, "qas", list, where):
                qid = str(_field(qa, "id", (str, int), where + ".qas[]"))
                at = f"{path}: question {qid}"
                if qid in seen:
                    raise QADataError(f"{at}: the id occurs twice; question ids must be unique in a file")
                seen.add(qid)
                answers = []
                for answer in _field(qa, "answers", list, at):
                    start, text = _field(answer, "answer_start", int, at), _field(answer, "text", str, at)
                    answers.append((start, text))
                example = QAExample(qid, _field(qa, "question", str, at), context, answers)
                example.mismatched = [k for k, (start, text) in enumerate(answers)
                                      if text and context[start:start + len(text)] != text]
                examples.append(example)
    return examples, data


def select_data(data: list, ids) -> list:
    """The SQuAD ``data`` list restricted to the questions ``ids`` (for ``--limit``)."""
    ids = set(ids)
    out = []
    for article in data:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            qas = [qa for qa in paragraph["qas"] if str(qa["id"]) in ids]
            if qas:
                paragraphs.append({**paragraph, "qas": qas})
        if paragraphs:
            out.append({**article, "paragraphs": paragraphs})
    return out


# ----------------------------------------------------------------------------------------------- files

def _check_task(task):
    if task not in QA_TASKS:
        raise QADataError(f"--task {task} is not a QA task ({', '.join(QA_TASKS)})")


def _mlqa_test_dir(task_dir: Path) -> Path:
    return task_dir / "MLQA_V1" / "test"


def test_file(task, task_dir, lang) -> Path:
    """The official test file of ``lang``."""
    _check_task(task)
    task_dir = Path(task_dir)
    if task == "xquad":
        return task_dir / f"xquad.{lang}.json"
    if task == "mlqa":
        return _mlqa_test_dir(task_dir) / f"test-context-{lang}-question-{lang}.json"
    return task_dir / "tydiqa-goldp-v1.1-dev" / f"tydiqa.goldp.{lang}.dev.json"


def _found_languages(task, task_dir: Path) -> List[str]:
    if task == "xquad":
        return sorted(p.name[len("xquad."):-len(".json")] for p in task_dir.glob("xquad.*.json"))
    if task == "mlqa":
        langs = []
        for p in _mlqa_test_dir(task_dir).glob("test-context-*-question-*.json"):
            c, q = p.name[len("test-context-"):-len(".json")].split("-question-")
            if c == q:
                langs.append(c)
        return sorted(langs)
    return sorted(p.name.split(".")[2] for p in (task_dir / "tydiqa-goldp-v1.1-dev").glob("tydiqa.goldp.*.dev.json"))


def test_files(task, task_dir, langs=None) -> Dict[str, Path]:
    """``{lang: path}`` of the test languages (``langs``, or every one found); a missing one is an error."""
    _check_task(task)
    task_dir = Path(task_dir)
    if not task_dir.is_dir():
        raise QADataError(f"task dir {task_dir}: no such directory")
    langs = list(langs) if langs else _found_languages(task, task_dir)
    if not langs:
        raise QADataError(f"{task_dir}: no {task} test file (expected {test_file(task, task_dir, '<lang>')})")
    files = {lang: test_file(task, task_dir, lang) for lang in langs}
    for lang, path in files.items():
        if not path.is_file():
            raise QADataError(f"{path}: no such file (test language {lang} of {task})")
    return files


def generalized_files(task, task_dir, langs) -> Dict[Tuple[str, str], Path]:
    """MLQA G-XLT: ``{(question lang, context lang): path}`` for every pair of ``langs`` whose file exists
    (question language differs from the context language); empty for other tasks."""
    if task != "mlqa":
        return {}
    folder = _mlqa_test_dir(Path(task_dir))
    found = {}
    for q in langs:
        for c in langs:
            path = folder / f"test-context-{c}-question-{q}.json"
            if q != c and path.is_file():
                found[(q, c)] = path
    return found


def _first_existing(candidates: Sequence[Path], what: str) -> Path:
    for path in candidates:
        if path.is_file():
            return path
    raise QADataError(f"no {what}: looked for {', '.join(map(str, candidates))}")


def train_dev_files(task, task_dir, train_file=None) -> Tuple[Path, Path]:
    """(English training file, English validation file) of the task, as XTREME's train_qa.sh uses them."""
    _check_task(task)
    task_dir = Path(task_dir)
    if task == "tydiqa":
        train = [task_dir / "tydiqa-goldp-v1.1-train" / name
                 for name in ("tydiqa.goldp.en.train.json", "tydiqa.en.train.json")]
        dev = [test_file(task, task_dir, "en")]
    else:
        train = [task_dir / "train-v1.1.json", task_dir.parent / "squad" / "train-v1.1.json"]
        dev = [task_dir / "dev-v1.1.json", task_dir.parent / "squad" / "dev-v1.1.json"]
    if train_file:
        train = [Path(train_file)]
        dev = [Path(train_file).parent / "dev-v1.1.json"] + dev
    return (_first_existing(train, "English training file (pass --train-file)"),
            _first_existing(dev, "English validation file"))


# ----------------------------------------------------------------------------------------------- encoding

class Window(NamedTuple):
    qid: str
    index: int                 # window number within the example
    question: List[str]        # question pieces
    context: List[str]         # context pieces of this window
    first_piece: int           # index of the window's first piece among the context's pieces
    begins: List[int]          # character begin of each context piece of the window (whitespace trimmed)
    ends: List[int]            # character end of each

    @property
    def context_offset(self) -> int:
        """Token position of the first context piece: after <s> q </s> </s>."""
        return len(self.question) + 3

    def line(self) -> str:
        """The window as dictionary symbols; the final </s> is added by the encoder (fairseq's eos)."""
        return " ".join(["<s>", *self.question, "</s>", "</s>", *self.context])


class QAEncoder:
    """Sentencepiece pieces of questions and contexts, with character offsets, cut into model windows."""

    def __init__(self, spm_model, max_len=384, doc_stride=128, max_query_len=64):
        if doc_stride < 1 or max_query_len < 1:
            raise QADataError(f"--doc-stride and --max-query-len must be positive, got {doc_stride}, "
                              f"{max_query_len}")
        if max_len < max_query_len + SPECIAL_TOKENS_PER_WINDOW + 1:
            raise QADataError(f"--max-len {max_len} leaves no room for the context after a question of up to "
                              f"--max-query-len {max_query_len} pieces and {SPECIAL_TOKENS_PER_WINDOW} special "
                              "tokens; raise --max-len or lower --max-query-len")
        self.spm = load_sentencepiece(spm_model)
        self.max_len, self.doc_stride, self.max_query_len = max_len, doc_stride, max_query_len

    def question(self, text) -> List[str]:
        return self.spm.encode(text, out_type=str)[:self.max_query_len]

    def context(self, text) -> Tuple[List[str], List[int], List[int]]:
        """(pieces, character begins, character ends) of a context; spans exclude surrounding whitespace."""
        proto = self.spm.encode(text, return_type="proto")  # piece offsets are UTF-8 byte offsets
        char_of_byte = np.zeros(len(text.encode("utf-8")) + 1, dtype=np.int64)
        position = 0
        for k, ch in enumerate(text):
            size = len(ch.encode("utf-8"))
            char_of_byte[position:position + size] = k
            position += size
        char_of_byte[position] = len(text)
        pieces, begins, ends = [], [], []
        for piece in proto.pieces:
            begin, end = int(char_of_byte[piece.begin]), int(char_of_byte[piece.end])
            while begin < end and text[begin].isspace():
                begin += 1
            while end > begin and text[end - 1].isspace():
                end -= 1
            pieces.append(piece.piece)
            begins.append(begin)
            ends.append(end)
        return pieces, begins, ends

    def windows(self, example: QAExample) -> List[Window]:
        question = self.question(example.question)
        pieces, begins, ends = self.context(example.context)
        budget = self.max_len - len(question) - SPECIAL_TOKENS_PER_WINDOW
        out, start = [], 0
        while True:
            length = min(budget, len(pieces) - start)
            out.append(Window(example.qid, len(out), question, pieces[start:start + length], start,
                              begins[start:start + length], ends[start:start + length]))
            if start + length >= len(pieces):
                return out
            start += min(length, self.doc_stride)


def answer_pieces(begins, ends, answer: Tuple[int, str]) -> Optional[Tuple[int, int]]:
    """(first, last) piece index covering an answer's character span; None when no piece does."""
    start, text = answer
    stop = start + len(text)
    covering = [k for k, (b, e) in enumerate(zip(begins, ends)) if b < e and b < stop and e > start]
    return (covering[0], covering[-1]) if covering else None


def window_target(window: Window, span: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    """Token positions (start, end) of the answer in a window; (0, 0) (<s>) when the window lacks it."""
    if span is None:
        return NO_ANSWER, NO_ANSWER
    first, last = span[0] - window.first_piece, span[1] - window.first_piece
    if first < 0 or last >= len(window.context):
        return NO_ANSWER, NO_ANSWER
    return window.context_offset + first, window.context_offset + last


def max_context(windows: Sequence[Window]) -> List[np.ndarray]:
    """Per window, a boolean per context piece: True where this window gives the piece the most context on
    both sides among the windows that hold it (BERT's rule, so overlapping windows do not both answer)."""
    score = {}
    for w, window in enumerate(windows):
        n = len(window.context)
        for k in range(n):
            value = min(k, n - 1 - k) + 0.01 * n
            piece = window.first_piece + k
            if piece not in score or value > score[piece][0]:
                score[piece] = (value, w)
    return [np.array([score[window.first_piece + k][1] == w for k in range(len(window.context))], dtype=bool)
            for w, window in enumerate(windows)]


def decode(example: QAExample, windows: Sequence[Window], logits: Sequence[np.ndarray], n_best=20,
           max_answer_len=30) -> str:
    """The best answer text of an example: the span (start <= end, at most ``max_answer_len`` pieces, start
    in a window where it has maximal context) with the highest start + end logit over the ``n_best`` starts
    and ends of every window, mapped back to the context's characters. ``logits[w]``: T x 2 of window w."""
    best, best_score = "", -np.inf
    for window, scores, is_max in zip(windows, logits, max_context(windows)):
        n, offset = len(window.context), window.context_offset
        if n == 0:
            continue
        start_scores, end_scores = scores[offset:offset + n, 0], scores[offset:offset + n, 1]
        starts = np.argsort(-start_scores, kind="stable")[:n_best]
        ends = np.argsort(-end_scores, kind="stable")[:n_best]
        for s in starts:
            if not is_max[s] or window.begins[s] >= window.ends[s]:
                continue
            for e in ends:
                if e < s or e - s + 1 > max_answer_len or window.begins[e] >= window.ends[e]:
                    continue
                value = float(start_scores[s] + end_scores[e])
                if value > best_score:
                    best_score = value
                    best = example.context[window.begins[s]:window.ends[e]]
    return best


# ----------------------------------------------------------------------------------------------- prepare

def _mismatch_report(examples: Sequence[QAExample]) -> dict:
    ids = [ex.qid for ex in examples if ex.mismatched]
    return {"answers": sum(len(ex.mismatched) for ex in examples), "questions": len(ids),
            "ids": ids[:REPORTED_IDS]}


def _write_subset(encoder: QAEncoder, examples, text_dir: Path, work: Path, name: str, training: bool) -> dict:
    lines, positions, windows_out = [], [], []
    without_answer = unanswerable = 0
    for ex in examples:
        answer = ex.usable_answer()
        if training and answer is None:
            unanswerable += 1   # counted in the report: every answer mismatched (or empty)
            continue
        windows = encoder.windows(ex)
        span = None
        if answer is not None:
            pieces, begins, ends = encoder.context(ex.context)
            span = answer_pieces(begins, ends, answer)
        for window in windows:
            target = window_target(window, span)
            without_answer += target == (NO_ANSWER, NO_ANSWER)
            lines.append(window.line())
            positions.append(target)
            windows_out.append(json.dumps({"id": ex.qid, "window": window.index,
                                           "first_piece": window.first_piece,
                                           "context_offset": window.context_offset,
                                           "begins": window.begins, "ends": window.ends}, ensure_ascii=False))
    (text_dir / f"{name}.input0").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    np.save(work / f"{name}.positions.npy", np.asarray(positions, dtype=np.int64).reshape(-1, 2))
    (work / f"{name}.windows.jsonl").write_text("".join(line + "\n" for line in windows_out), encoding="utf-8")
    return {"examples": len(examples) - unanswerable, "windows": len(lines),
            "windows_without_answer": int(without_answer), "questions_without_usable_answer": unanswerable}


def prepare(request, progress=print) -> dict:
    """Read, window and binarize a QA task (``request``: :class:`fairseq_weam.xtreme.requests.PrepareRequest`);
    returns the report (also ``DEST/prepare_report.json``). The output appears atomically."""
    dest = Path(request.dest)
    if dest.exists() and any(dest.iterdir()):
        raise QADataError(f"{dest} exists and is not empty; choose a new --destdir or remove it")
    train_path, dev_path = train_dev_files(request.task, request.task_dir, request.train_file)
    tests = test_files(request.task, request.task_dir, request.langs)
    sources = {"train": train_path, "valid": dev_path, **{f"test.{lang}": path for lang, path in tests.items()}}
    if request.generalized:
        for (q, c), path in generalized_files(request.task, request.task_dir, list(tests)).items():
            sources[f"test.context-{c}-question-{q}"] = path
    encoder = QAEncoder(request.spm_model, request.max_len, request.doc_stride, request.max_query_len)
    report = {"task": request.task, "task_dir": str(request.task_dir), "max_len": request.max_len,
              "doc_stride": request.doc_stride, "max_query_len": request.max_query_len,
              "target_without_answer": "<s> (position 0)", "files": {}, "subsets": {}, "mismatched_answers": {}}
    with atomic_path(dest, directory=True) as work:
        text_dir = work / ".text"
        text_dir.mkdir()
        for name, path in tqdm(sources.items(), desc="encode", unit="file"):
            examples, _ = read_squad(path)
            report["files"][name] = str(path)
            mismatch = _mismatch_report(examples)
            if mismatch["answers"]:
                report["mismatched_answers"][str(path)] = mismatch
                progress(f"{path}: {mismatch['answers']} answer(s) whose text does not match its span of the "
                         f"context (questions {', '.join(mismatch['ids'])}"
                         f"{', ...' if mismatch['questions'] > len(mismatch['ids']) else ''}); "
                         "not used as training targets")
            report["subsets"][name] = _write_subset(encoder, examples, text_dir, work, name, name == "train")
        preprocess_column(text_dir, "input0", list(sources), request.dictionary, work / "input0", request.workers)
        report["valid_subsets"] = [name for name in sources if name != "train"]
        (work / "prepare_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
        for child in text_dir.iterdir():
            child.unlink()
        text_dir.rmdir()
    total = sum(m["answers"] for m in report["mismatched_answers"].values())
    progress(f"{request.task}: {len(sources)} subsets in {dest}; {total} mismatched answer(s) reported")
    return report
