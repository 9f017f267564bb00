"""weam-evaluate: zero-shot evaluation of a fine-tuned sentence-pair classifier on an XTREME-layout task dir.

Writes results.json, results.md and PNG plots to --out-dir: accuracy per language and average (standard
setting), the l1 x l2 matrix (generalized setting), and optionally smoothed prediction, a greedy
synonym-substitution attack and an embedding-space PGD attack.
"""
import argparse
import sys
from pathlib import Path

import torch

from fairseq_weam.checkpoint_safety import TRUST_HELP, checkpoint_trust
from fairseq_weam.cli.entry import run_cli
from fairseq_weam.evaluation import plots, reports
from fairseq_weam.evaluation.suite import EvaluationSettings, run_evaluation
from fairseq_weam.xtreme.io import TASK_LABELS, resolve_labels


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="fine-tuned fairseq checkpoint (checkpoint_best.pt)")
    p.add_argument("--task-dir", required=True, help="raw task dir with labelled test-{lang}.tsv files")
    p.add_argument("--spm-model", required=True, help="sentencepiece model the checkpoint was trained with")
    p.add_argument("--dict", required=True, help="fairseq dict.txt the checkpoint was trained with")
    p.add_argument("--task", choices=sorted(TASK_LABELS),
                   help="label set (xnli, pawsx), checked against the model's (default: the model's own)")
    p.add_argument("--labels", help="comma-separated labels instead of --task, in class-id order; must equal the "
                                    "order the model was fine-tuned with (default: that order)")
    p.add_argument("--label-dict", help="label/dict.txt of the fine-tuning data (default: found through the "
                                        "data dir recorded in the checkpoint)")
    p.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    p.add_argument("--out-dir", required=True, help="where results.json, results.md and the PNGs go")
    p.add_argument("--langs", help="comma-separated test languages (default: every test-{lang}.tsv)")
    p.add_argument("--no-generalized", action="store_true", help="skip the l1 x l2 matrix")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N rows of each test set (0: all)")
    p.add_argument("--max-len", type=int, default=128, help="max pieces per pair, special tokens included")
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


def main(argv=None):
    args = build_parser().parse_args(argv)

    def run():
        settings = EvaluationSettings(
            checkpoint=args.checkpoint, task_dir=args.task_dir, spm_model=args.spm_model, dictionary=args.dict,
            labels=resolve_labels(args.task, args.labels) if args.task or args.labels else None,
            label_dict=args.label_dict, langs=args.langs.split(",") if args.langs else None,
            generalized=not args.no_generalized, limit=args.limit, max_len=args.max_len,
            batch_size=args.batch_size, device=args.device, seed=args.seed, smooth_copies=args.smooth_copies,
            smooth_sigma=args.smooth_sigma, neighbours=args.neighbours, attack_budget=args.attack_budget,
            attack_limit=args.attack_limit, pgd_eps=args.pgd_eps, pgd_norm=args.pgd_norm, pgd_steps=args.pgd_steps,
            pgd_step_size=args.pgd_step_size)
        with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
            results = run_evaluation(settings, progress=lambda msg: print(f"weam-evaluate: {msg}", file=sys.stderr))
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        reports.write_json(results, out / "results.json")
        reports.write_markdown(results, out / "results.md")
        plots.write_plots(results, out)
        print(reports.per_language_table(results))
        print(f"weam-evaluate: wrote {out}/results.json, results.md and plots")

    return run_cli("weam-evaluate", run)


if __name__ == "__main__":
    sys.exit(main())
