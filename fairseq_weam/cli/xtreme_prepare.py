"""weam-xtreme-prepare: encode and binarize an XTREME / XTREME-R task dir (as XTREME's download scripts lay it
out) with a checkpoint's sentencepiece model and dict, for fine-tuning in fairseq.

One entry point for every task that is fine-tuned: sentence classification (xnli, pawsx, or any label set via
--labels) for ``sentence_prediction``; xcopa for multiple choice; udpos / panx for ``--task xtreme_tagging``;
xquad / mlqa / tydiqa (trained on SQuAD v1.1) for ``--task xtreme_qa``. The retrieval tasks (tatoeba,
lareqa, mewslix, bucc2018) need no preparation: weam-evaluate reads their raw files.
"""
import argparse
import json
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.xtreme import benchmark
from fairseq_weam.xtreme.binarize import prepare as prepare_classification
from fairseq_weam.xtreme.io import TASK_LABELS, XtremeDataError, resolve_labels
from fairseq_weam.xtreme.requests import PrepareRequest, preparer

#: default max pieces per model input, by family (XTREME's run scripts: 128, QA 384)
DEFAULT_MAX_LEN = {"qa": 384}


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task_dir", help="the task's folder as XTREME lays it out (classification: train-en.tsv, "
                                    "dev-en.tsv, test-{lang}.tsv)")
    p.add_argument("--destdir", required=True, help="output dir; must not exist or be empty")
    p.add_argument("--spm-model", required=True, help="the checkpoint's sentencepiece model")
    p.add_argument("--dict", required=True, help="the checkpoint's fairseq dict.txt")
    p.add_argument("--task", choices=sorted(benchmark.TASK_FAMILY),
                   help="XTREME task (default with --labels: a sentence classification task of that label set)")
    p.add_argument("--labels", help="classification: comma-separated label set instead of --task (order = class ids)")
    p.add_argument("--langs", help="comma-separated test languages (default: every test file found)")
    p.add_argument("--no-generalized", action="store_true",
                   help="skip the mixed-language subsets (classification pairs l1-l2; MLQA G-XLT)")
    p.add_argument("--max-len", type=int, help="max pieces per model input, special tokens included "
                                                "(default 128; QA 384)")
    p.add_argument("--doc-stride", type=int, default=128, help="QA: step between windows over a long context")
    p.add_argument("--max-query-len", type=int, default=64, help="QA: max pieces of a question")
    p.add_argument("--train-file", help="QA: the English training file (default: SQuAD v1.1's train-v1.1.json "
                                        "in the task dir, or TyDiQA's English train file)")
    p.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def run():
        langs = args.langs.split(",") if args.langs else None
        if args.task is None and not args.labels:
            raise XtremeDataError("give --task (an XTREME task) or --labels (a classification label set)")
        family = benchmark.family(args.task) if args.task else "classification"
        if args.labels and family != "classification":
            raise XtremeDataError(f"--labels is for sentence classification; {args.task} has its own label set")
        max_len = args.max_len or DEFAULT_MAX_LEN.get(family, 128)
        if family == "classification":
            if args.task and args.task not in TASK_LABELS and not args.labels:
                raise XtremeDataError(f"{args.task}: no built-in label set; give --labels")
            labels = resolve_labels(args.task if not args.labels else None, args.labels)
            report = prepare_classification(args.task_dir, args.destdir, args.spm_model, args.dict, labels,
                                            langs=langs, generalized=not args.no_generalized, max_len=max_len,
                                            workers=args.workers)
            print(json.dumps({k: report[k] for k in ("labels", "subsets")}, indent=1))
        elif family == "retrieval":
            raise XtremeDataError(f"{args.task} is a retrieval task and needs no preparation: run weam-evaluate "
                                  f"--task {args.task} --task-dir {args.task_dir} on a checkpoint")
        else:
            request = PrepareRequest(task=args.task, task_dir=args.task_dir, dest=args.destdir,
                                     spm_model=args.spm_model, dictionary=args.dict, langs=langs, max_len=max_len,
                                     workers=args.workers, doc_stride=args.doc_stride,
                                     max_query_len=args.max_query_len, generalized=not args.no_generalized,
                                     train_file=args.train_file)
            report = preparer(args.task).prepare(request, progress=lambda msg: print(
                f"weam-xtreme-prepare: {msg}", file=sys.stderr))
            print(json.dumps({k: v for k, v in report.items() if k in ("labels", "subsets", "skipped")}, indent=1))
        if report.get("valid_subsets"):
            print(f"--valid-subset names: {','.join(report['valid_subsets'])}")

    return run_cli("weam-xtreme-prepare", run)


if __name__ == "__main__":
    sys.exit(main())
