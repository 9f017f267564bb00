"""weam-experiment: run an experiment config: intermediate-task stages then the target task, for every
variant x seed, each stage fine-tuned from the previous stage's best checkpoint, then zero-shot evaluation
and a report by language family and resource level.

    weam-experiment examples/experiments/c_adversarial_intermediate.yaml [--dry-run]

Re-running skips finished steps (checked by their outputs) and redoes interrupted ones. --variants / --seeds
run part of the experiment (several machines or processes on one out_dir); the last to finish writes the
report. --dry-run prints the plan (every command, and which steps are finished) and runs nothing.
"""
import argparse
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.experiments.config import load_config
from fairseq_weam.experiments.runner import ExperimentRunner


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="experiment YAML (see examples/experiments/)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; run nothing")
    parser.add_argument("--variants", help="comma-separated: run only these variants (e.g. one per machine)")
    parser.add_argument("--seeds", help="comma-separated: run only these seeds")
    args = parser.parse_args(argv)

    def run():
        runner = ExperimentRunner(load_config(args.config))
        if args.variants or args.seeds:
            runner.select(args.variants.split(",") if args.variants else None,
                          [int(x) for x in args.seeds.split(",")] if args.seeds else None)
        if args.dry_run:
            print(runner.plan_text())
            return
        report = runner.run()
        if report is not None:
            print(report)
            print(f"weam-experiment: wrote {runner.out / 'report'} (summary.md, groups.md, plots)")

    return run_cli("weam-experiment", run)


if __name__ == "__main__":
    sys.exit(main())
