"""Binarization of a pair (text, and piece alignments) through fairseq's library, in the run's worker pool.

The files are those ``fairseq-preprocess --source-lang l1 --target-lang l2 --align-suffix align --srcdict D
--tgtdict D`` writes, byte for byte: each input is cut at line starts by fairseq's ``find_offsets`` and
its lines read as fairseq's ``Chunker`` reads them (:func:`chunk_lines`, without its per-line ``tell``); a text line becomes the dictionary ids of its tokens and ``</s>`` (what
``VocabularyDatasetBinarizer`` does), an alignment line the flat ``i j`` numbers of its links (what
``utils.parse_alignment`` does); the index goes through ``MMapIndexedDataset.Index.writer`` in the dtype
fairseq's builders choose. Chunks are binarized by the pool's workers into part files, concatenated in
order, so memory holds one chunk per worker, never a whole file.
"""
import io
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List

import numpy as np
from fairseq.data import Dictionary
from fairseq.data.indexed_dataset import MMapIndexedDataset, best_fitting_int_dtype
from fairseq.file_chunker_utils import find_offsets

from fairseq_weam.align.pharaoh import parse_link_block
from fairseq_weam.prepare.config import PrepareError
from fairseq_weam.prepare.sentencepiece_model import read_piece_counts
from fairseq_weam.prepare.worker_pool import WorkerPool, loaded

#: Bytes of input text per task given to a worker.
CHUNK_BYTES = 4 << 20


def binarized_names(pair, splits) -> List[str]:
    """The files fairseq-preprocess writes for a pair (the data contract), without the per-language dicts."""
    l1, l2 = pair
    names = []
    for split in splits:
        for stem in (f"{split}.{l1}-{l2}.{l1}", f"{split}.{l1}-{l2}.{l2}", f"{split}.align.{l1}-{l2}"):
            names += [f"{stem}.bin", f"{stem}.idx"]
    return names


def count_unknown_pieces(piece_counts_path, dictionary: Dictionary) -> Dict[str, int]:
    """Pieces counted in ``piece_counts_path`` (:func:`write_piece_counts`) and how many of them fairseq's
    ``dictionary`` maps to ``<unk>`` (as binarizing will)."""
    counts = read_piece_counts(piece_counts_path)
    unk = dictionary.unk()
    return {"pieces": sum(counts.values()),
            "unk": sum(n for token, n in counts.items() if dictionary.index(token) == unk)}


def chunk_lines(path, start: int, end: int) -> io.StringIO:
    """The lines of ``path`` between the line starts ``start`` and ``end`` (``find_offsets``): those fairseq's
    ``Chunker`` yields (text mode, universal newlines), read in one go: its ``tell()`` after every line costs
    50 times the reading."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start) if end > 0 else f.read()
    return io.StringIO(data.decode("utf-8"), newline=None)


def _text_chunk(path, start, end, dict_path, out_path) -> np.ndarray:
    """Binarize the lines of ``path[start:end]`` into ``out_path``; return their sizes."""
    dictionary = loaded(Dictionary.load, dict_path)
    get, unk, eos = dictionary.indices.get, dictionary.unk_index, dictionary.eos_index
    ids, sizes = [], []
    for line in chunk_lines(path, start, end):
        tokens = line.split()  # fairseq's tokenize_line: runs of whitespace, stripped
        ids += [get(token, unk) for token in tokens]
        ids.append(eos)
        sizes.append(len(tokens) + 1)
    Path(out_path).write_bytes(np.array(ids, dtype=best_fitting_int_dtype(len(dictionary))).tobytes())
    return np.array(sizes, dtype=np.int32)


def _alignment_chunk(path, start, end, out_path) -> np.ndarray:
    """Binarize the link lines ``i-j ...`` of ``path[start:end]`` into ``out_path``; return their sizes."""
    parsed = parse_link_block(chunk_lines(path, start, end).read())
    if parsed is None or (len(parsed[0]) and parsed[0].max() >= 2**32):
        raise PrepareError(f"{path}: a link is not of the form i-j; remove the file and re-run")
    numbers, links = parsed
    Path(out_path).write_bytes(numbers.astype(best_fitting_int_dtype(None)).tobytes())
    return 2 * np.array(links, dtype=np.int32)


class PairBinarizer:
    """A pair's binarized files, made by ``pool`` in a temporary directory, then moved to their places.

    ``start(kind)`` hands the text (``"text"``) or the alignments (``"align"``) to the workers and
    returns at once, so the text can binarize while the aligner runs; ``finish`` waits for everything.
    Leaving with an error ends the pool (its tasks write here) and removes the directory.
    """

    def __init__(self, pool: WorkerPool, pieces_dir, pair, splits, dict_path, tmp_dir=None,
                 chunk_bytes: int = CHUNK_BYTES):
        self.pool, self.pair, self.dict_path, self.chunk_bytes = pool, tuple(pair), Path(dict_path), chunk_bytes
        l1, l2 = pair
        pieces_dir = Path(pieces_dir)
        self.streams = {"text": {}, "align": {}}  # kind -> {output stem: input file}
        for split in splits:
            for lang in pair:
                self.streams["text"][f"{split}.{l1}-{l2}.{lang}"] = pieces_dir / f"{split}.{l1}-{l2}.{lang}"
            self.streams["align"][f"{split}.align.{l1}-{l2}"] = pieces_dir / f"{split}.{l1}-{l2}.align"
        self.dir = Path(tempfile.mkdtemp(prefix=f"weam-binarize-{l1}-{l2}-", dir=tmp_dir))
        self.pending: Dict[str, List] = {}  # output stem -> [(part file, AsyncResult)]

    def start(self, kind: str):
        for stem, path in self.streams[kind].items():
            if stem in self.pending:
                continue
            if not path.exists():
                raise PrepareError(f"cannot binarize {'-'.join(self.pair)}: {path} is missing")
            offsets = find_offsets(str(path), max(1, -(-path.stat().st_size // self.chunk_bytes)))
            parts = []
            for k, (start, end) in enumerate(zip(offsets, offsets[1:])):
                part = self.dir / f"{stem}.part{k}"
                args = (path, start, end, self.dict_path, part) if kind == "text" else (path, start, end, part)
                parts.append((part, self.pool.submit(_text_chunk if kind == "text" else _alignment_chunk, *args)))
            self.pending[stem] = parts

    def finish(self, outputs: Dict[str, Path]):
        """Wait for every file, write the per-language dicts, and move each file to ``outputs[name]``."""
        for kind in ("text", "align"):
            self.start(kind)
        text_dtype = best_fitting_int_dtype(len(loaded(Dictionary.load, self.dict_path)))
        for stem, parts in self.pending.items():
            dtype = text_dtype if stem in self.streams["text"] else best_fitting_int_dtype(None)
            sizes = []
            with open(self.dir / f"{stem}.bin", "wb") as data:
                for part, result in parts:
                    sizes.append(result.get())
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, data)
                    part.unlink()
            with MMapIndexedDataset.Index.writer(str(self.dir / f"{stem}.idx"), dtype) as index:
                index.write(np.concatenate(sizes).tolist())
        dictionary = loaded(Dictionary.load, self.dict_path)
        for lang in self.pair:
            dictionary.save(str(self.dir / f"dict.{lang}.txt"))
        for name, target in outputs.items():
            produced = self.dir / name
            if not produced.exists():
                raise PrepareError(f"binarizing {'-'.join(self.pair)} did not write {name}")
            shutil.move(str(produced), str(target))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.pool.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)


def binarize_pair(pieces_dir, pair, splits, dict_path, outputs: Dict[str, Path], workers=1, tmp_dir=None, *,
                  binarizer: PairBinarizer = None, chunk_bytes: int = CHUNK_BYTES):
    """Binarize ``pieces_dir/{split}.l1-l2.{l1,l2,align}``; move each file to ``outputs[name]``.

    ``binarizer``: the run's binarizer of this pair (it may have started); else one in a pool of ``workers``.
    """
    if binarizer is not None:
        return binarizer.finish(outputs)
    with WorkerPool(workers) as pool, \
            PairBinarizer(pool, pieces_dir, pair, splits, dict_path, tmp_dir, chunk_bytes) as own:
        own.finish(outputs)
