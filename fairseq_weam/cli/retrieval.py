"""``weam-retrieval``: word- and sentence-level cross-lingual retrieval accuracy of a checkpoint, clean and under
attack (embedding-space PGD at several radii, synonym substitution), and the comparison of such reports."""
import argparse
import json
import sys

import fairseq_weam  # noqa: F401  (registers the weam task; makes checkpoints loadable)
from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.checkpoint_safety import TRUST_HELP, checkpoint_trust
from fairseq_weam.cli.entry import run_cli
from fairseq_weam.errors import WeamError
from fairseq_weam.evaluation.retrieval import RetrievalOptions, evaluate_retrieval, summary_line
from fairseq_weam.evaluation.retrieval_attack import DEFAULT_NEIGHBOURS, AttackOptions, parse_radii
from fairseq_weam.evaluation.retrieval_curves import compare_systems, parse_system, write_report_curve


class RetrievalUsageError(WeamError, ValueError):
    """Flags of weam-retrieval that do not go together."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="weam-retrieval",
        description="Cross-lingual word retrieval (nearest word of the translation is a linked word?) and "
        "sentence retrieval (top-1 over the held-out set, both directions) on an aligned weam data directory; "
        "optionally sentence retrieval under attack (--attack-radii, --synonym-attack), or the comparison of "
        "several such reports over seeds (--compare).",
    )
    parser.add_argument("checkpoint", nargs="?", help="fairseq RoBERTa / XLM-R checkpoint (.pt)")
    parser.add_argument("--data", help="data directory written by weam-prepare")
    parser.add_argument("--split", default="valid", help="split with alignments (default: valid)")
    parser.add_argument("--lang-pairs", default=None, help="comma-separated pairs (default: all in --data)")
    parser.add_argument("--max-sentences", type=int, default=1000, help="first N pairs of each language pair")
    parser.add_argument("--layer", type=int, default=-1,
                        help="hidden states to use: 0 = embeddings, k = layer k, -1 = last layer (default)")
    parser.add_argument("--word-pooling", choices=("mean", "first"), default="mean",
                        help="a word's state: mean of its pieces' states or its first piece's")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    parser.add_argument("--output", default=None, help="write the JSON report here (default: stdout)")
    attack = parser.add_argument_group("sentence retrieval under attack (the query is attacked, candidates clean)")
    attack.add_argument("--attack-radii", default=None,
                        help="comma-separated PGD radii ε, e.g. 0.25,0.5,1: embedding-space PGD on the query that "
                             "lowers its cosine to its translation (radius 0, clean, always reported)")
    attack.add_argument("--pgd-steps", type=int, default=5, help="PGD steps (step size 2.5·ε/steps)")
    attack.add_argument("--pgd-norm", choices=("l2", "linf"), default="l2",
                        help="ball of the perturbation: L2 over the query's token embeddings, or L-infinity")
    attack.add_argument("--synonym-attack", action="store_true",
                        help="also the greedy synonym-substitution attack, with --neighbours "
                             f"(default: the shipped English UI neighbours, {DEFAULT_NEIGHBOURS.name})")
    attack.add_argument("--neighbours", default=None, help="JSON {word: [neighbours]} for --synonym-attack")
    attack.add_argument("--spm-model", default=None,
                        help="sentencepiece model of the data, to turn pieces into text and back "
                             "(default: DATA/sentencepiece.bpe.model)")
    attack.add_argument("--synonym-budget", type=int, default=2, help="most words changed per query")
    attack.add_argument("--synonym-limit", type=int, default=200,
                        help="queries attacked by synonyms per direction and pair (the first N)")
    attack.add_argument("--curve-dir", default=None,
                        help="write robustness_curve.json and robustness_curve.png here (needs --attack-radii); "
                             "with --compare: retrieval_summary.{json,md} and robustness_curve.png")
    attack.add_argument("--compare", action="append", default=[], metavar="LABEL=R1.json,R2.json",
                        help="compare reports (one per seed) of several systems instead of evaluating: mean ± std "
                             "of the clean and attacked accuracy; repeat per system; needs --curve-dir")
    return parser


def attack_options(args):
    if not args.attack_radii:
        if args.synonym_attack or args.neighbours or args.curve_dir:
            raise RetrievalUsageError("--synonym-attack, --neighbours and --curve-dir need --attack-radii "
                                      "(e.g. --attack-radii 0.25,0.5,1)")
        return None
    neighbours = args.neighbours or (str(DEFAULT_NEIGHBOURS) if args.synonym_attack else None)
    return AttackOptions(radii=parse_radii(args.attack_radii), pgd_steps=args.pgd_steps, pgd_norm=args.pgd_norm,
                         neighbours=neighbours, synonym_budget=args.synonym_budget,
                         synonym_limit=args.synonym_limit, spm_model=args.spm_model)


def main(argv=None):
    args = build_parser().parse_args(argv)

    def compare():
        if args.checkpoint or not args.curve_dir:
            raise RetrievalUsageError("--compare takes reports, not a checkpoint, and needs --curve-dir "
                                      "(where the table and plot go)")
        print(compare_systems([parse_system(spec) for spec in args.compare], args.curve_dir), end="")

    def run():
        if not args.checkpoint or not args.data:
            raise RetrievalUsageError("give a checkpoint and --data DIR (or --compare LABEL=reports --curve-dir DIR)")
        attack = attack_options(args)
        options = RetrievalOptions(split=args.split, lang_pairs=args.lang_pairs, max_sentences=args.max_sentences,
                                   layer=args.layer, word_pooling=args.word_pooling, batch_size=args.batch_size)
        with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
            report = evaluate_retrieval(args.checkpoint, args.data, options, attack)
        text = json.dumps(report, indent=2)
        if args.output:
            write_text_atomic(args.output, text + "\n")
        else:
            print(text)
        if attack is not None and args.curve_dir:
            write_report_curve(report, args.curve_dir)
        print(summary_line(report), file=sys.stderr)

    return run_cli("weam-retrieval", compare if args.compare else run)


if __name__ == "__main__":
    sys.exit(main())
