"""Zero-shot cross-lingual accuracy: the standard setting (one language per pair) and the generalized
setting of Robust-XLT (sentence1 in l1, sentence2 in l2, for every ordered pair of test languages), and
the majority-class accuracy of the gold labels, the floor any classifier should clear."""
from collections import Counter
from typing import Dict, List, Optional

from fairseq_weam.evaluation.classifier import percent
from fairseq_weam.xtreme.io import PairExample, generalized_pairs


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def standard_accuracy(classifier, test_sets: Dict[str, List[PairExample]], predictions: Optional[dict] = None) -> dict:
    """Accuracy per language and average; ``predictions`` (a dict), when given, receives each language's
    predicted labels."""
    accuracy = {}
    for lang, examples in test_sets.items():
        predicted = classifier.predict(examples)
        accuracy[lang] = percent(predicted, classifier.label_ids(examples))
        if predictions is not None:
            predictions[lang] = [classifier.labels[i] for i in predicted.tolist()]
    return {"accuracy": accuracy, "average": mean(accuracy.values()),
            "examples": {lang: len(ex) for lang, ex in test_sets.items()}}


def generalized_accuracy(classifier, test_sets: Dict[str, List[PairExample]], standard=None) -> dict:
    """``accuracy[l1][l2]``; the diagonal is the standard setting (reused from ``standard`` when given)."""
    langs = list(test_sets)
    matrix = {}
    for l1 in langs:
        matrix[l1] = {}
        for l2 in langs:
            if l1 == l2 and standard is not None:
                matrix[l1][l2] = standard["accuracy"][l1]
            else:
                matrix[l1][l2] = classifier.accuracy(generalized_pairs(test_sets, l1, l2))
    cross = [matrix[a][b] for a in langs for b in langs if a != b]
    return {"languages": langs, "accuracy": matrix, "average": mean(v for row in matrix.values() for v in row.values()),
            "cross_language_average": mean(cross)}


def majority_class_accuracy(test_sets: Dict[str, List[PairExample]]) -> dict:
    """Per language, the share (percent) of the most frequent gold label: what always predicting it scores."""
    accuracy = {lang: 100.0 * Counter(ex.label for ex in examples).most_common(1)[0][1] / len(examples)
                for lang, examples in test_sets.items() if examples}
    return {"accuracy": accuracy, "average": mean(accuracy.values())}
