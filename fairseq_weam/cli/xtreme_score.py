"""weam-xtreme-score: score a folder in the XTREME / XTREME-R submission layout, as the official scorer does.

    weam-xtreme-score --predictions OUT/predictions --labels LABELS --version xtreme-r --output score.json

Both folders hold ``<task>/test-<lang>.<tsv|json|jsonl>``; a task is scored when its folder is on both
sides, on every official language of the task (a missing file is an error naming it). Writes the official
``evaluate.py``'s JSON (groups, ``all_task`` when every task is there, then per task ``{metric: {lang:
value}}``, ``avg_<metric>``, ``avg_metric``) and prints the per-task table; notes (unanswered questions,
skipped folders) go to stderr.
"""
import argparse
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.xtreme.benchmark import VERSIONS
from fairseq_weam.xtreme.score import format_table, score_folder, write_score


def main(argv=None):
    parser = argparse.ArgumentParser(prog="weam-xtreme-score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictions", required=True, help="folder with one sub-folder of predictions per task")
    parser.add_argument("--labels", required=True, help="folder with the gold files, in the same layout")
    parser.add_argument("--version", required=True, choices=VERSIONS, help="the benchmark whose tasks, languages "
                        "and groups decide the score")
    parser.add_argument("--output", required=True, help="the JSON file to write (atomically)")
    args = parser.parse_args(argv)

    def run():
        result = score_folder(args.predictions, args.labels, args.version,
                              note=lambda message: print(f"weam-xtreme-score: note: {message}", file=sys.stderr))
        write_score(result, args.output)
        print(format_table(result))
        print(f"weam-xtreme-score: wrote {args.output}")

    return run_cli("weam-xtreme-score", run)


if __name__ == "__main__":
    sys.exit(main())
