"""sacreBLEU corpus BLEU and chrF of a hypothesis file against one reference file, with their signatures."""
from pathlib import Path
from typing import Dict, List

from sacrebleu.metrics import BLEU, CHRF

from fairseq_weam.errors import WeamError
from fairseq_weam.text_file import numbered_lines


class ScoringError(WeamError, ValueError):
    """Hypotheses and references that cannot be scored together."""


def read_segments(path) -> List[str]:
    """The lines of a detokenized text file (one segment a line)."""
    return [line for _, line in numbered_lines(path, ScoringError)]


def score_files(hypotheses, references, tokenize: str = "13a") -> Dict[str, dict]:
    """``{"bleu": {...}, "chrf": {...}}``: score, the sacreBLEU string and signature of each metric.

    Both files must have the same number of lines (a segment per line, line-aligned); sacreBLEU's defaults
    otherwise (BLEU: ``tokenize``, exp smoothing, mixed case; chrF: character 6-grams, beta 2).
    """
    hyps, refs = read_segments(hypotheses), read_segments(references)
    if len(hyps) != len(refs):
        raise ScoringError(f"{hypotheses} has {len(hyps)} lines but {references} has {len(refs)}; "
                           "hypotheses and references must be line-aligned")
    if not hyps:
        raise ScoringError(f"{hypotheses}: no lines to score")
    results = {}
    for name, metric in (("bleu", BLEU(tokenize=tokenize)), ("chrf", CHRF())):
        score = metric.corpus_score(hyps, [refs])
        results[name] = {"score": score.score, "text": str(score), "signature": str(metric.get_signature())}
    results["segments"] = len(hyps)
    results["hypotheses"], results["references"] = str(Path(hypotheses)), str(Path(references))
    return results
