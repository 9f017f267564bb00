"""UD-POS and WikiANN (PAN-X) in the layout of XTREME's download scripts: read, encode, chunk, binarize.

A task dir (``download/panx`` or ``download/udpos``) holds ``train-en.tsv``, ``dev-en.tsv`` and
``test-{lang}.tsv``: one word per line, ``word<TAB>tag``, a blank line between sentences (``-DOCSTART-``
lines also end a sentence). The public test files carry the word only (their labels are held back by the
leaderboard); a file is either labelled on every line or on none. A malformed line, a mixed file or a tag
outside the task's official tag set is an error naming file:line.

Encoding follows XTREME's ``run_tag.py``: each word is encoded on its own with the model's sentencepiece,
the model input is ``<s> pieces </s>``, and the tag sits on the first piece of each word (the other pieces
and the specials are ignored). Word boundaries are those of :mod:`fairseq_weam.text.pieces`: every word
is made one ``▁``-started run of pieces (whitespace inside a word is removed first). A sentence longer than
``max_len`` is cut at word boundaries into consecutive chunks, as XTREME's ``*_tokenize_preprocess`` does,
so every word is predicted; only a single word of more than ``max_len - 2`` pieces loses its trailing pieces.

Binarized output (``DEST``): ``input0/`` (pieces) and ``label/`` (one symbol per piece: the tag on a word's
first piece, ``<pad>`` elsewhere) for ``train``, ``valid`` and each labelled ``test.{lang}``; the label
dictionary holds the official tag set in a fixed order (class id = position); ``prepare_report.json``.
"""
import json
import re
import shutil
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from fairseq_weam.atomic import atomic_path
from fairseq_weam.errors import WeamError
from fairseq_weam.text_file import numbered_lines
from fairseq_weam.text.pieces import WORD_BOUNDARY, word_spans
from fairseq_weam.xtreme.binarize import preprocess_column
from fairseq_weam.xtreme.encoding import SPECIAL_TOKENS_PER_SENTENCE, load_sentencepiece
from fairseq_weam.xtreme.labels import write_label_dictionary

#: The official tag sets, in the order of XTREME's ``labels.txt`` (sorted); class id = position.
TASK_TAGS = {
    "panx": ("B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"),
    "udpos": ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
              "PUNCT", "SCONJ", "SYM", "VERB", "X"),
}

#: label symbol of the pieces that carry no tag (fairseq's padding symbol: ignored by the criterion)
NO_TAG = "<pad>"

_TEST_FILE = re.compile(r"^test-([A-Za-z_]+)\.tsv$")


class TaggingDataError(WeamError, ValueError):
    """A tagging file or request that cannot be used as it is."""


class TaggedSentence(NamedTuple):
    words: Tuple[str, ...]
    tags: Optional[Tuple[str, ...]]  # None in an unlabelled (public test) file
    line: int                        # line number of its first word


def task_tags(task: str) -> List[str]:
    if task not in TASK_TAGS:
        raise TaggingDataError(f"--task {task!r} is not a tagging task: use one of {', '.join(TASK_TAGS)}")
    return list(TASK_TAGS[task])


def read_tagged(path, tags: Sequence[str], require_tags: bool = True) -> List[TaggedSentence]:
    """The sentences of one file. ``require_tags``: an unlabelled file is an error (training data)."""
    path = Path(path)
    allowed = set(tags)
    sentences, words, labels, first, labelled = [], [], [], 0, None

    def close():
        if words:
            sentences.append(TaggedSentence(tuple(words), tuple(labels) if labelled else None, first))
            words.clear()
            labels.clear()

    for lineno, line in numbered_lines(path, TaggingDataError):
        if not line.strip() or line.startswith("-DOCSTART-"):
            close()
            continue
        fields = line.split("\t")
        if len(fields) > 2 or not fields[0].strip() or (len(fields) == 2 and not fields[1].strip()):
            raise TaggingDataError(f"{path}:{lineno}: expected 'word<TAB>tag' or 'word', got {line!r}")
        has_tag = len(fields) == 2
        if labelled is None:
            labelled = has_tag
        elif has_tag != labelled:
            raise TaggingDataError(f"{path}:{lineno}: {'a tag' if has_tag else 'no tag'} on this line but "
                                   f"{'none' if has_tag else 'one'} on the lines before; label every line "
                                   "of a file or none")
        if has_tag:
            tag = fields[1].strip()
            if tag not in allowed:
                raise TaggingDataError(f"{path}:{lineno}: unknown tag {tag!r}; the task's tags are "
                                       f"{', '.join(tags)}")
            labels.append(tag)
        if not words:
            first = lineno
        words.append(fields[0])
    close()
    if require_tags and not labelled:
        raise TaggingDataError(f"{path}: {'no sentences' if not sentences else 'no tags'}; training and "
                               "development files need 'word<TAB>tag' lines")
    return sentences


def find_test_languages(task_dir) -> List[str]:
    return sorted(m.group(1) for p in Path(task_dir).iterdir() if (m := _TEST_FILE.match(p.name)))


def test_files(task_dir, langs=None) -> Dict[str, Path]:
    """``{lang: test file}`` for ``langs`` (default: every ``test-{lang}.tsv``); a missing one is an error."""
    task_dir = Path(task_dir)
    if not task_dir.is_dir():
        raise TaggingDataError(f"{task_dir}: no such task directory")
    found = find_test_languages(task_dir)
    langs = list(langs) if langs else found
    missing = [lang for lang in langs if lang not in found]
    if missing:
        raise TaggingDataError(f"{task_dir / f'test-{missing[0]}.tsv'}: no such file (languages found: "
                               f"{', '.join(found) or 'none'})")
    if not langs:
        raise TaggingDataError(f"{task_dir}: no test-<lang>.tsv files")
    return {lang: task_dir / f"test-{lang}.tsv" for lang in langs}


class Chunk(NamedTuple):
    first_word: int          # index in the sentence of the chunk's first word
    pieces: List[str]
    word_starts: List[int]   # piece index of each word's first piece


class WordEncoder:
    """Sentencepiece pieces per word and the chunks of a sentence that fit ``max_len`` (specials included)."""

    def __init__(self, spm_model, max_len=128):
        if max_len <= SPECIAL_TOKENS_PER_SENTENCE:
            raise TaggingDataError(f"--max-len must be > {SPECIAL_TOKENS_PER_SENTENCE}, got {max_len}")
        self.spm = load_sentencepiece(spm_model)
        self.max_len = max_len

    @property
    def budget(self) -> int:
        return self.max_len - SPECIAL_TOKENS_PER_SENTENCE

    def word_pieces(self, word: str) -> List[str]:
        """The pieces of one word, as one word of :mod:`fairseq_weam.text.pieces`."""
        pieces = self.spm.encode("".join(word.split()), out_type=str)
        pieces = [pieces[0]] + [p[1:] if p.startswith(WORD_BOUNDARY) else p for p in pieces[1:]] if pieces else []
        pieces = [p for p in pieces if p]
        if not pieces or not pieces[0].startswith(WORD_BOUNDARY):
            pieces.insert(0, WORD_BOUNDARY)  # a word normalization removed, or a model without a dummy prefix
        return pieces

    def chunks(self, words: Sequence[str]) -> Tuple[List[Chunk], int]:
        """(chunks covering every word in order, number of words whose pieces were cut to the budget)."""
        chunks, pieces, first, cut = [], [], 0, 0
        for index, word in enumerate(words):
            own = self.word_pieces(word)
            if len(own) > self.budget:
                own, cut = own[:self.budget], cut + 1
            if pieces and len(pieces) + len(own) > self.budget:
                chunks.append(self._chunk(first, pieces, index - first))
                pieces, first = [], index
            pieces = pieces + own
        if words:
            chunks.append(self._chunk(first, pieces, len(words) - first))
        return chunks, cut

    @staticmethod
    def _chunk(first, pieces, n_words) -> Chunk:
        starts = [span.start for span in word_spans(pieces)]
        if len(starts) != n_words:
            raise AssertionError(f"{n_words} words gave {len(starts)} word starts in {pieces}")
        return Chunk(first, pieces, starts)


def label_line(chunk: Chunk, tags: Sequence[str]) -> str:
    """One label symbol per piece of ``chunk``: its word's tag on a first piece, :data:`NO_TAG` elsewhere."""
    symbols = [NO_TAG] * len(chunk.pieces)
    for k, start in enumerate(chunk.word_starts):
        symbols[start] = tags[chunk.first_word + k]
    return " ".join(symbols)


def collect_subsets(task_dir, tags, langs=None) -> Tuple[Dict[str, List[TaggedSentence]], List[str]]:
    """(``{subset: sentences}`` train, valid, test.{lang}... of labelled files; unlabelled test languages)."""
    task_dir = Path(task_dir)
    subsets = {"train": read_tagged(task_dir / "train-en.tsv", tags),
               "valid": read_tagged(task_dir / "dev-en.tsv", tags)}
    unlabelled = []
    for lang, path in test_files(task_dir, langs).items():
        sentences = read_tagged(path, tags, require_tags=False)
        if sentences and sentences[0].tags is not None:
            subsets[f"test.{lang}"] = sentences
        else:
            unlabelled.append(lang)
    return subsets, unlabelled


def prepare(request, progress=print) -> dict:
    """Read, encode, chunk and binarize a tagging task dir (``request``: a ``PrepareRequest``); the report.

    The output appears atomically: it is built in a temporary sibling of ``request.dest`` and renamed.
    """
    tags = task_tags(request.task)
    dest = Path(request.dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty; choose a new --destdir or remove it")
    subsets, unlabelled = collect_subsets(request.task_dir, tags, request.langs)
    encoder = WordEncoder(request.spm_model, request.max_len)
    report = {"task": request.task, "task_dir": str(request.task_dir), "labels": tags,
              "max_len": request.max_len, "subsets": {}, "unlabelled_test_languages": unlabelled}
    with atomic_path(dest, directory=True) as work:
        text = work / ".text"
        text.mkdir()
        for name, sentences in subsets.items():
            progress(f"encode {name}: {len(sentences)} sentences")
            n_chunks = n_cut = n_words = 0
            with open(text / f"{name}.input0", "w", encoding="utf-8") as source, \
                    open(text / f"{name}.label", "w", encoding="utf-8") as target:
                for sentence in sentences:
                    chunks, cut = encoder.chunks(sentence.words)
                    for chunk in chunks:
                        source.write(" ".join(chunk.pieces) + "\n")
                        target.write(label_line(chunk, sentence.tags) + "\n")
                    n_chunks, n_cut, n_words = n_chunks + len(chunks), n_cut + cut, n_words + len(sentence.words)
            report["subsets"][name] = {"sentences": len(sentences), "words": n_words, "examples": n_chunks,
                                       "split_sentences": n_chunks - len(sentences), "cut_words": n_cut}
        label_dict = text / "label.dict.txt"
        write_label_dictionary(label_dict, tags)
        names = list(subsets)
        for column, dictionary in (("input0", request.dictionary), ("label", label_dict)):
            progress(f"binarize {column}")
            preprocess_column(text, column, names, dictionary, work / column, request.workers)
        report["label_ids"] = {tag: i for i, tag in enumerate(tags)}
        report["valid_subsets"] = [n for n in names if n != "train"]
        (work / "prepare_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(text)
    return report
