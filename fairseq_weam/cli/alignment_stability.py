"""``weam-alignment-stability``: linked-word cosine and word/sentence retrieval vs perturbation radius."""
import argparse
import json
import sys
from pathlib import Path

import fairseq_weam  # noqa: F401  (registers the weam task; makes checkpoints loadable)
from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.checkpoint_safety import TRUST_HELP, checkpoint_trust
from fairseq_weam.cli.entry import run_cli
from fairseq_weam.evaluation.alignment_stability import (ATTACKS, StabilityError, StabilityOptions,
                                                          evaluate_stability, markdown, summarize)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="weam-alignment-stability",
        description="Alignment stability of checkpoints (pre-trained or fine-tuned) on a weam-prepare data "
        "directory: for every perturbation radius of the input embeddings (random noise; PGD maximizing the "
        "misalignment of linked words), the mean cosine of linked words' states and word/sentence retrieval "
        "accuracy. Writes stability.json, stability.md (AUC table) and stability.png to --out-dir.",
    )
    parser.add_argument("checkpoints", nargs="+", metavar="[LABEL=]CHECKPOINT",
                        help="checkpoints (.pt); runs sharing a LABEL (e.g. seeds) are summarized as mean ± std")
    parser.add_argument("--data", required=True, help="data directory written by weam-prepare")
    parser.add_argument("--out-dir", required=True, help="where stability.json/.md/.png go")
    parser.add_argument("--split", default="valid", help="split with alignments (default: valid)")
    parser.add_argument("--lang-pairs", default=None, help="comma-separated pairs (default: all in --data)")
    parser.add_argument("--max-sentences", type=int, default=200, help="first N pairs of each language pair")
    parser.add_argument("--radii", default="0,0.5,1,2,4",
                        help="perturbation radii, increasing (norm of --norm per sentence over tokens x dims)")
    parser.add_argument("--norm", default="l2", help="l2 (per sentence) or linf (per coordinate)")
    parser.add_argument("--attacks", default=",".join(ATTACKS), help="noise, pgd or both (comma-separated)")
    parser.add_argument("--noise-samples", type=int, default=3, help="random directions averaged per radius")
    parser.add_argument("--pgd-steps", type=int, default=5)
    parser.add_argument("--pgd-step-ratio", type=float, default=0.5, help="PGD step size = ratio x radius")
    parser.add_argument("--batch-size", type=int, default=32, help="sentence pairs per forward")
    parser.add_argument("--seed", type=int, default=1, help="seed of the noise directions")
    parser.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    return parser


def parse_radii(text):
    try:
        return tuple(float(r) for r in text.split(",") if r.strip())
    except ValueError:
        raise StabilityError(f"--radii {text}: give comma-separated numbers, e.g. 0,0.5,1,2") from None


def labelled(specs):
    runs = []
    for spec in specs:
        label, _, path = spec.partition("=") if "=" in spec else (spec, "", spec)
        if not Path(path).is_file():
            raise StabilityError(f"checkpoint {path} not found")
        runs.append((label, path))
    return runs


def main(argv=None):
    args = build_parser().parse_args(argv)

    def run():
        options = StabilityOptions(split=args.split, lang_pairs=args.lang_pairs, max_sentences=args.max_sentences,
                                   radii=parse_radii(args.radii), norm=args.norm,
                                   attacks=tuple(a.strip() for a in args.attacks.split(",") if a.strip()),
                                   noise_samples=args.noise_samples, pgd_steps=args.pgd_steps,
                                   pgd_step_ratio=args.pgd_step_ratio, batch_size=args.batch_size, seed=args.seed)
        options.check()
        runs = []
        with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
            for label, path in labelled(args.checkpoints):
                report = evaluate_stability(path, args.data, options)
                runs.append({"label": label, "report": report})
                auc = report["auc"]
                print(f"{label}: " + " | ".join(f"{a} AUC cosine {auc[a]['cosine']:.3f} word {auc[a]['word_acc']:.3f} "
                                                f"sentence {auc[a]['sentence_acc']:.3f}" for a in auc),
                      file=sys.stderr)
        summary = summarize(runs)
        from fairseq_weam.evaluation.plots import stability_curves  # matplotlib only once there is something to draw

        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "stability.json",
                          json.dumps({"radii": list(options.radii), "runs": runs, "summary": summary}, indent=2) + "\n")
        write_text_atomic(out / "stability.md", markdown(summary, options.radii))
        stability_curves(summary, list(options.radii), out / "stability.png")
        print(f"weam-alignment-stability: {out}/stability.json, stability.md, stability.png", file=sys.stderr)

    return run_cli("weam-alignment-stability", run)


if __name__ == "__main__":
    sys.exit(main())
