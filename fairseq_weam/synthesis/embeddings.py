"""Monolingual word vectors of one language, trained with fastText on the user's text."""
import os
import tempfile
from typing import List, Tuple

import numpy as np

from fairseq_weam.synthesis.errors import SynthesisError
from fairseq_weam.synthesis.words import normalized_text


def train_vectors(text_path, dim: int = 100, epoch: int = 5, min_count: int = 3) -> Tuple[List[str], np.ndarray]:
    """(words, vectors) of a skip-gram fastText model on the lower-cased letter words of ``text_path``,
    words in order of decreasing frequency; an error when the text has no such word. One thread and
    fastText's fixed seed: the same text and settings give the same vectors."""
    import fasttext

    if not os.path.isfile(text_path):
        raise SynthesisError(f"text not found: {text_path}")
    with tempfile.TemporaryDirectory(prefix="weam-synth-") as tmp:
        normalized = os.path.join(tmp, "text")
        with open(text_path, encoding="utf-8") as src, open(normalized, "w", encoding="utf-8") as out:
            lines = sum(1 for line in normalized_text(src) if out.write(line))
        if lines == 0:
            raise SynthesisError(f"{text_path}: no words with letters; give a non-empty text file")
        try:
            model = fasttext.train_unsupervised(normalized, model="skipgram", dim=dim, epoch=epoch,
                                                minCount=min_count, thread=1, verbose=0)
        except RuntimeError as err:  # fastText: "Empty vocabulary. Try a smaller -minCount value."
            raise SynthesisError(f"{text_path}: fastText could not train ({err}); lower --min-count or give "
                                 "more text") from None
    words = [w for w in model.words if w != "</s>"]  # fastText's end-of-line token
    if not words:
        raise SynthesisError(f"{text_path}: no word occurs --min-count {min_count} times; lower --min-count")
    vectors = np.stack([model.get_word_vector(w) for w in words]).astype(np.float32)
    return words, vectors
