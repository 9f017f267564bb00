"""weam-translate: the glue of the translate-train / translate-test baselines (examples/translate/).

    weam-translate task IN.tsv OUT.tsv --checkpoint MT/checkpoint_last.pt --data-dir DATA
        the text column(s) of an XTREME-layout task file translated, labels and line order kept
    weam-translate text IN.txt OUT.txt --checkpoint ... --data-dir DATA
        one sentence a line
    weam-translate score HYP.txt REF.txt [--json OUT.json]
        sacreBLEU corpus BLEU and chrF, with their signatures

The checkpoint is a fairseq-train --task translation model trained on the weam-prepare data dir DATA
(its dict.{lang}.txt and, by default, its sentencepiece.bpe.model); its source and target language are the
checkpoint's. Decoding is fairseq's (hub interface, beam search).
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.checkpoint_safety import TRUST_HELP, checkpoint_trust
from fairseq_weam.cli.entry import run_cli


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name, what in (("task", "XTREME-layout task file (TSV: text column(s), label)"),
                       ("text", "text file, one sentence a line")):
        t = sub.add_parser(name, help=f"translate a {what}")
        t.add_argument("input", help=what)
        t.add_argument("output", help="translated file (written atomically)")
        t.add_argument("--checkpoint", required=True, help="fairseq-train --task translation checkpoint")
        t.add_argument("--data-dir", required=True, help="the weam-prepare data dir the model was trained on")
        t.add_argument("--spm-model", help="sentencepiece model (default: DATA_DIR/sentencepiece.bpe.model)")
        t.add_argument("--beam", type=int, default=4, help="beam size")
        t.add_argument("--batch-size", type=int, default=64, help="sentences per decoding batch")
        t.add_argument("--max-len-a", type=float, default=1.2,
                       help="longest output: max-len-a x source length + max-len-b pieces")
        t.add_argument("--max-len-b", type=int, default=10)
        t.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
        t.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    s = sub.add_parser("score", help="sacreBLEU BLEU and chrF of a hypothesis file against a reference file")
    s.add_argument("hypotheses", help="detokenized hypotheses, one segment a line")
    s.add_argument("references", help="detokenized references, line-aligned with the hypotheses")
    s.add_argument("--tokenize", default="13a", help="sacreBLEU's BLEU tokenizer (13a; zh, ja-mecab, ... for CJK)")
    s.add_argument("--json", help="write the scores and signatures here as JSON")
    return p


def _translate(args):
    from fairseq_weam.translation.task_files import read_task_rows, translate_task_rows, translate_text_file
    from fairseq_weam.translation.translator import TranslationModelError, Translator

    if args.beam < 1 or args.batch_size < 1:
        raise TranslationModelError(f"--beam and --batch-size must be at least 1, got {args.beam} and "
                                    f"{args.batch_size}")
    if args.command == "task":  # a malformed file fails before the model is loaded
        rows, text_columns = read_task_rows(args.input)
    elif not Path(args.input).is_file():
        raise TranslationModelError(f"{args.input}: no such file")
    spm = args.spm_model or str(Path(args.data_dir) / "sentencepiece.bpe.model")
    with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
        translator = Translator(args.checkpoint, args.data_dir, spm, beam=args.beam, batch_size=args.batch_size,
                                max_len_a=args.max_len_a, max_len_b=args.max_len_b, device=args.device)
    if args.command == "task":
        report = translate_task_rows(rows, text_columns, args.output, translator)
    else:
        report = translate_text_file(args.input, args.output, translator)
    print(f"weam-translate: {report['rows']} rows {report['direction']} -> {args.output}"
          + (f" ({report['truncated_inputs']} inputs truncated to the model's length)"
             if report["truncated_inputs"] else ""))


def _score(args):
    from fairseq_weam.translation.scoring import score_files

    results = score_files(args.hypotheses, args.references, tokenize=args.tokenize)
    for name in ("bleu", "chrf"):
        print(f"{results[name]['text']}  signature: {results[name]['signature']}")
    if args.json:
        write_text_atomic(args.json, json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def main(argv=None):
    args = build_parser().parse_args(argv)
    return run_cli("weam-translate", lambda: _score(args) if args.command == "score" else _translate(args))


if __name__ == "__main__":
    sys.exit(main())
