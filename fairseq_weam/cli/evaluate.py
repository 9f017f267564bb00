"""weam-evaluate: zero-shot evaluation of a fine-tuned checkpoint on an XTREME / XTREME-R task dir, every test
language, with the test predictions in the XTREME submission layout.

Sentence classification (xnli, pawsx, or any label set; the default): results.json, results.md and PNG plots
in --out-dir: accuracy per language and average (standard setting), the l1 x l2 matrix (generalized setting),
and optionally smoothed prediction, a greedy synonym-substitution attack and an embedding-space PGD attack.
Other tasks (--task xcopa, udpos, panx, xquad, mlqa, tydiqa, tatoeba, lareqa, mewslix): results.json with
the official metrics per language and their average.

Predictions go to PREDICTIONS/<task>/test-<lang>.<suffix> (default PREDICTIONS: OUT_DIR/predictions; point
several tasks at one folder and zip it for the leaderboard) and the gold files to OUT_DIR/labels/<task>/, so
weam-xtreme-score (or the official scorer) can score them.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from fairseq_weam.checkpoint_safety import TRUST_HELP, checkpoint_trust
from fairseq_weam.cli.entry import run_cli
from fairseq_weam.evaluation import plots, reports
from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.evaluation.suite import EvaluationSettings, run_evaluation
from fairseq_weam.xtreme import benchmark
from fairseq_weam.xtreme.io import TASK_LABELS, XtremeDataError, resolve_labels
from fairseq_weam.xtreme.requests import EvaluateRequest, evaluator

#: flags of the classification suite only, with their defaults: another family refuses them when changed
CLASSIFICATION_ONLY = {"labels": None, "label_dict": None, "smooth_copies": 0, "neighbours": None, "pgd_eps": 0.0}


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="fine-tuned fairseq checkpoint (checkpoint_best.pt)")
    p.add_argument("--task-dir", required=True, help="raw task dir with labelled test-{lang}.tsv files")
    p.add_argument("--spm-model", required=True, help="sentencepiece model the checkpoint was trained with")
    p.add_argument("--dict", required=True, help="fairseq dict.txt the checkpoint was trained with")
    p.add_argument("--task", choices=sorted(benchmark.TASK_FAMILY),
                   help="XTREME task; for classification (xnli, pawsx) its label set is checked against the "
                        "model's (default: sentence classification with the model's own labels)")
    p.add_argument("--labels", help="comma-separated labels instead of --task, in class-id order; must equal the "
                                    "order the model was fine-tuned with (default: that order)")
    p.add_argument("--label-dict", help="label/dict.txt of the fine-tuning data (default: found through the "
                                        "data dir recorded in the checkpoint)")
    p.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    p.add_argument("--out-dir", required=True, help="where results.json, results.md and the PNGs go")
    p.add_argument("--predictions-dir", help="submission folder: predictions go to <dir>/<task>/test-<lang>.<suffix> "
                                             "(default: OUT_DIR/predictions)")
    p.add_argument("--version", choices=benchmark.VERSIONS, default="xtreme-r",
                   help="benchmark whose prediction-file suffixes are used")
    p.add_argument("--langs", help="comma-separated test languages (default: every test-{lang}.tsv)")
    p.add_argument("--no-generalized", action="store_true",
                   help="skip the mixed-language setting (classification: the l1 x l2 matrix; MLQA: G-XLT)")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N rows of each test set (0: all)")
    p.add_argument("--max-len", type=int, help="max pieces per model input, special tokens included "
                                                "(default 128; QA 384)")
    p.add_argument("--doc-stride", type=int, default=128, help="QA: step between windows over a long context")
    p.add_argument("--max-query-len", type=int, default=64, help="QA: max pieces of a question")
    p.add_argument("--max-answer-len", type=int, default=30, help="QA: max pieces of a predicted answer")
    p.add_argument("--n-best", type=int, default=20, help="QA: start/end candidates kept per window")
    p.add_argument("--layer", type=int, default=-1,
                   help="retrieval: encoder layer whose mean-pooled states are compared (-1: the last)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--smooth-copies", type=int, default=0, help="smoothed prediction over N noisy copies (0: off)")
    p.add_argument("--smooth-sigma", type=float, default=0.1, help="std of the Gaussian embedding noise")
    p.add_argument("--neighbours", help="JSON {word: [neighbours]}: enables the synonym-substitution attack")
    p.add_argument("--attack-budget", type=int, default=2, help="max words changed per pair by the synonym attack")
    p.add_argument("--attack-limit", type=int, default=0, help="attack the first N rows per language (0: all)")
    p.add_argument("--pgd-eps", type=float, default=0.0, help="radius of the embedding PGD attack (0: off)")
    p.add_argument("--pgd-norm", choices=["l2", "linf"], default="l2")
    p.add_argument("--pgd-steps", type=int, default=5)
    p.add_argument("--pgd-step-size", type=float, default=0.0, help="0: 2.5 * eps / steps")
    return p


def _evaluate_task(args, progress):
    """A non-classification task: its family's evaluator; results.json and the per-language table."""
    changed = [f"--{k.replace('_', '-')}" for k, default in CLASSIFICATION_ONLY.items()
               if getattr(args, k) != default]
    if changed:
        raise XtremeDataError(f"{', '.join(changed)}: for sentence classification only, not {args.task}")
    request = EvaluateRequest(
        task=args.task, checkpoint=args.checkpoint, task_dir=args.task_dir, spm_model=args.spm_model,
        dictionary=args.dict, out_dir=args.out_dir, predictions_dir=args.predictions_dir,
        langs=args.langs.split(",") if args.langs else None, limit=args.limit,
        max_len=args.max_len or (384 if benchmark.family(args.task) == "qa" else 128),
        batch_size=args.batch_size, device=args.device, seed=args.seed, generalized=not args.no_generalized,
        doc_stride=args.doc_stride,
        max_query_len=args.max_query_len, max_answer_len=args.max_answer_len, n_best=args.n_best,
        layer=args.layer, version=args.version)
    with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
        results = evaluator(args.task).evaluate(request, progress)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(reports.task_table(results))
    print(f"weam-evaluate: wrote {out}/results.json and {results['predictions']}")


def main(argv=None):
    args = build_parser().parse_args(argv)

    def progress(msg):
        print(f"weam-evaluate: {msg}", file=sys.stderr)

    def run():
        if args.task and benchmark.family(args.task) != "classification":
            return _evaluate_task(args, progress)
        if args.task and args.task not in TASK_LABELS and not args.labels:
            raise XtremeDataError(f"{args.task}: no built-in label set; give --labels")
        settings = EvaluationSettings(
            checkpoint=args.checkpoint, task_dir=args.task_dir, spm_model=args.spm_model, dictionary=args.dict,
            labels=resolve_labels(args.task, args.labels) if args.task or args.labels else None,
            label_dict=args.label_dict, langs=args.langs.split(",") if args.langs else None,
            generalized=not args.no_generalized, limit=args.limit, max_len=args.max_len or 128,
            batch_size=args.batch_size, device=args.device, seed=args.seed, smooth_copies=args.smooth_copies,
            smooth_sigma=args.smooth_sigma, neighbours=args.neighbours, attack_budget=args.attack_budget,
            attack_limit=args.attack_limit, pgd_eps=args.pgd_eps, pgd_norm=args.pgd_norm, pgd_steps=args.pgd_steps,
            pgd_step_size=args.pgd_step_size, task=args.task, predictions_dir=args.predictions_dir,
            out_dir=args.out_dir, version=args.version)
        with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
            results = run_evaluation(settings, progress=progress)
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        reports.write_json(results, out / "results.json")
        if results["standard"] is None:
            print(f"weam-evaluate: no test file has labels: wrote {results['predictions']} and "
                  f"{out}/results.json, nothing scored")
            return
        reports.write_markdown(results, out / "results.md")
        plots.write_plots(results, out)
        print(reports.per_language_table(results))
        written = f" and {results['predictions']}" if results["predictions"] else " (no --task: no predictions folder)"
        print(f"weam-evaluate: wrote {out}/results.json, results.md, plots{written}")

    return run_cli("weam-evaluate", run)


if __name__ == "__main__":
    sys.exit(main())
