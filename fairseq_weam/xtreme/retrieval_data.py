"""Readers of the XTREME-R retrieval tasks, in the layouts of the XTREME repository's download scripts.

* Tatoeba (``utils_preprocess.py --task tatoeba``): ``{l}-en.{l}`` (source sentences, LASER's order) and
  ``{l}-en.en`` (the English side, **sorted**, so the alignment is hidden). The official retrieval searches,
  for each English line, the nearest source sentence: the prediction of line j is a source index. The gold
  of line j is the original position of that English sentence, which only LASER's unsorted
  ``tatoeba.{l3}-eng.eng`` gives: keep it beside the XTREME files to score; without it there is no gold.
* LAReQA (``download_lareqa``): ``xquad-r/{l}.json``, SQuAD JSON with ``sentence_breaks`` per paragraph.
  Questions of every language search one pool of candidates: every sentence of every paragraph of every
  language (``{l}_{paragraph}_{sentence}``, paragraphs counted from 1 per language); the correct
  candidates of a question are the answer sentences of the same question id in all languages.
* Mewsli-X (``utils_preprocess.py --task mewslix``): ``candidate_set_entities.jsonl`` (the entity pool),
  ``wikinews_mentions/{split}-{l}.jsonl`` (contexts with their mentions) and ``wikinews_labels/{split}-{l}.json``
  (``{example id: [entity id]}``; XTREME's download empties the test ids). The query text and the entity
  text are built as the official ``utils_mewslix.py`` builds them (mention sentence with ``{ }`` markers).
"""
import json
import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

from fairseq_weam.text_file import json_object_lines, numbered_lines
from fairseq_weam.xtreme.io import XtremeDataError

#: ISO 639-1 -> the ISO 639-3 code of LASER's Tatoeba files (XTREME-R's Tatoeba languages)
TATOEBA_LANG3 = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
    "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
    "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
    "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn", "az": "aze", "lt": "lit", "pl": "pol", "uk": "ukr",
    "ro": "ron",
}


def _text_lines(path: Path) -> List[str]:
    lines = []
    for lineno, line in numbered_lines(path, XtremeDataError):
        line = line.strip()
        if not line:
            raise XtremeDataError(f"{path}:{lineno}: empty line; remove it")
        lines.append(line)
    if not lines:
        raise XtremeDataError(f"{path}: no sentences")
    return lines


def _json_lines(path: Path):
    for lineno, row in json_object_lines(path, XtremeDataError):
        yield f"{path}:{lineno}", row


def _json(path: Path):
    if not path.is_file():
        raise XtremeDataError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise XtremeDataError(f"{path}: not JSON ({err})") from None


def _field(row, key, where, kind=str):
    if key not in row or not isinstance(row[key], kind):
        raise XtremeDataError(f"{where}: missing or malformed {key!r}")
    return row[key]


# ----------------------------------------------------------------------------------------------- Tatoeba

class TatoebaSet(NamedTuple):
    lang: str
    sources: List[str]            # {l}-en.{l}: the pool
    english: List[str]            # {l}-en.en: the queries, in the file's (sorted) order
    gold: Optional[List[int]]     # per English line, the index of its source sentence (None: no gold)


def tatoeba_languages(task_dir) -> List[str]:
    return sorted(p.name.split("-")[0] for p in Path(task_dir).glob("*-en.en") if p.name != "en-en.en")


def read_tatoeba(task_dir, lang) -> TatoebaSet:
    task_dir = Path(task_dir)
    sources = _text_lines(task_dir / f"{lang}-en.{lang}")
    english_path = task_dir / f"{lang}-en.en"
    english = _text_lines(english_path)
    if len(sources) != len(english):
        raise XtremeDataError(f"{english_path}: {len(english)} sentences, but {lang}-en.{lang} has {len(sources)}")
    gold = None
    original_path = task_dir / f"tatoeba.{TATOEBA_LANG3.get(lang, lang)}-eng.eng"
    if original_path.is_file():
        original = _text_lines(original_path)
        order = sorted(range(len(original)), key=lambda i: original[i])  # stable, as XTREME sorted
        if [original[i] for i in order] != english:
            raise XtremeDataError(f"{english_path}: not the sorted lines of {original_path.name}; keep the two "
                                  "files of the same download together")
        gold = order
    return TatoebaSet(lang, sources, english, gold)


# ----------------------------------------------------------------------------------------------- LAReQA

class LareqaQuestion(NamedTuple):
    uid: str          # {question id}_{lang}
    xling_id: str     # the question id, shared by its translations
    lang: str
    text: str


class LareqaCandidate(NamedTuple):
    uid: str          # {lang}_{paragraph}_{sentence}
    lang: str
    sentence: str
    context: str


class LareqaData(NamedTuple):
    questions: List[LareqaQuestion]
    candidates: List[LareqaCandidate]
    gold: Dict[str, List[str]]   # question uid -> uids of its correct candidates (every language)
    skipped: int                 # questions whose answer starts outside every sentence (as the official loader)


def lareqa_files(task_dir) -> Dict[str, Path]:
    task_dir = Path(task_dir)
    folder = task_dir / "xquad-r" if (task_dir / "xquad-r").is_dir() else task_dir
    files = {p.stem: p for p in sorted(folder.glob("*.json"))}
    if not files:
        raise XtremeDataError(f"{folder}: no {{lang}}.json files (LAReQA's xquad-r folder)")
    return files


def read_lareqa(task_dir, langs=None) -> LareqaData:
    files = lareqa_files(task_dir)
    langs = list(langs) if langs else list(files)
    questions, candidates, answers, skipped = [], {}, {}, 0
    for lang in langs:
        if lang not in files:
            raise XtremeDataError(f"{task_dir}: no xquad-r/{lang}.json")
        path = files[lang]
        data = _json(path)
        paragraph_count = 0
        for article in _field(data, "data", path, list):
            for paragraph in _field(article, "paragraphs", path, list):
                paragraph_count += 1
                where = f"{path}: paragraph {paragraph_count}"
                text = _field(paragraph, "context", where)
                breaks = _field(paragraph, "sentence_breaks", where, list)
                sentences = []
                for pos, span in enumerate(breaks):
                    if not (isinstance(span, list) and len(span) == 2 and 0 <= span[0] < span[1] <= len(text)):
                        raise XtremeDataError(f"{where}: sentence break {span!r} is not [start, end] in the context")
                    uid = f"{lang}_{paragraph_count}_{pos}"
                    candidates.setdefault(uid, LareqaCandidate(uid, lang, text[span[0]:span[1]], text))
                    sentences.append((span, uid))
                for qa in _field(paragraph, "qas", where, list):
                    qid = str(_field(qa, "id", where))
                    found = _field(qa, "answers", f"{where}: question {qid}", list)
                    if len(found) != 1 or not isinstance(found[0].get("answer_start"), int):
                        raise XtremeDataError(f"{where}: question {qid} needs exactly one answer with answer_start")
                    start = found[0]["answer_start"]
                    hit = [uid for (s, e), uid in sentences if s <= start < e]
                    if not hit:
                        skipped += 1
                        continue
                    questions.append(LareqaQuestion(f"{qid}_{lang}", qid, lang, _field(qa, "question", where)))
                    answers.setdefault(qid, []).append(hit[0])
    gold = {q.uid: answers[q.xling_id] for q in questions}
    return LareqaData(questions, list(candidates.values()), gold, skipped)


# ----------------------------------------------------------------------------------------------- Mewsli-X

_MARKED = re.compile(r"\{(.*?)\}")


class MewslixMention(NamedTuple):
    example_id: str
    query: str
    entity_id: str    # "" when the labels were removed


def _normalize(text: str) -> str:
    return " ".join(text.splitlines()).replace("  ", " ").strip()


def _spans(value, where, limit):
    spans = []
    for span in value if isinstance(value, list) else [None]:
        if not (isinstance(span, dict) and isinstance(span.get("start"), int) and isinstance(span.get("end"), int)
                and 0 <= span["start"] < span["end"] <= limit):
            raise XtremeDataError(f"{where}: malformed sentence span {span!r}")
        spans.append((span["start"], span["end"]))
    return spans


def read_mewslix_entities(task_dir) -> List[tuple]:
    """``[(entity id, text)]`` of the candidate set: the description's sentences, lightly normalized."""
    entities = []
    for where, row in _json_lines(Path(task_dir) / "candidate_set_entities.jsonl"):
        description = _field(row, "description", where)
        spans = _spans(row.get("sentence_spans"), where, len(description)) if row.get("sentence_spans") else []
        entities.append((_field(row, "entity_id", where), _normalize(" ".join(description[s:e] for s, e in spans))))
    if not entities:
        raise XtremeDataError(f"{task_dir}/candidate_set_entities.jsonl: no entities")
    return entities


def mention_query(text, sentence_spans, start, end, mention, where) -> str:
    """The official query: ``"{mention}: {left} { {mention} } {right}"`` within the mention's sentence."""
    inside = [(s, e) for s, e in sentence_spans if s <= start < e and s < end <= e]
    if not inside:
        raise XtremeDataError(f"{where}: mention {mention!r} is not inside one sentence span")
    s, e = inside[0]
    left = _MARKED.sub(r"(\1)", text[s:start])
    right = _MARKED.sub(r"(\1)", text[end:e])
    return _normalize(f"{mention}: {left} {{ {mention} }} {right}")


def mewslix_languages(task_dir, split="test") -> List[str]:
    folder = Path(task_dir) / "wikinews_mentions"
    return sorted(p.name[len(split) + 1:-len(".jsonl")] for p in folder.glob(f"{split}-*.jsonl"))


def read_mewslix_mentions(task_dir, lang, split="test") -> List[MewslixMention]:
    task_dir = Path(task_dir)
    labels_path = task_dir / "wikinews_labels" / f"{split}-{lang}.json"
    labels = _json(labels_path) if labels_path.is_file() else {}
    mentions = []
    for where, row in _json_lines(task_dir / "wikinews_mentions" / f"{split}-{lang}.jsonl"):
        context = _field(row, "context", where, dict)
        text = _field(context, "text", where)
        spans = _spans(context.get("sentence_spans"), where, len(text))
        for mention in _field(row, "mentions", where, list):
            span = _field(mention, "mention_span", where, dict)
            example_id = _field(mention, "example_id", where)
            start, end = span.get("start"), span.get("end")
            if not (isinstance(start, int) and isinstance(end, int) and text[start:end] == span.get("text")):
                raise XtremeDataError(f"{where}: mention {example_id}: span does not match the context text")
            gold = labels.get(example_id, [mention.get("entity_id") or ""])
            entity = gold[0] if isinstance(gold, list) and gold and isinstance(gold[0], str) else None
            if entity is None:
                raise XtremeDataError(f"{labels_path}: {example_id}: expected a one-id list")
            mentions.append(MewslixMention(example_id, mention_query(text, spans, start, end, span["text"], where),
                                           entity.strip()))
    if not mentions:
        raise XtremeDataError(f"{task_dir}/wikinews_mentions/{split}-{lang}.jsonl: no mentions")
    return mentions
