"""``weam-convert``: Hugging Face BERT -> fairseq RoBERTa (``from-hf``); fairseq checkpoint -> XLM-R directory (``to-hf``)."""
import argparse
import sys

from fairseq_weam.checkpoint_safety import TRUST_HELP, checkpoint_trust
from fairseq_weam.cli.entry import run_cli


def build_parser():
    parser = argparse.ArgumentParser(prog="weam-convert", description=__doc__.split(":", 1)[1].strip())
    commands = parser.add_subparsers(dest="command", required=True)
    from_hf = commands.add_parser(
        "from-hf", help="a Hugging Face BERT directory -> fairseq model.pt + dict.txt",
        description="Convert a Hugging Face BERT (config.json, weights, vocab.txt or tokenizer.json) into a fairseq "
        "RoBERTa checkpoint (OUT_DIR/model.pt), its dictionary (OUT_DIR/dict.txt, WordPiece entries spelled with ▁ "
        "word starts) and the fairseq-train model flags that rebuild it (OUT_DIR/fairseq_model_flags.txt). "
        "Prepare data for it with weam-prepare --hf-tokenizer BERT_DIR.")
    from_hf.add_argument("bert_dir", metavar="BERT_DIR")
    from_hf.add_argument("out_dir", metavar="OUT_DIR", help="new directory")
    to_hf = commands.add_parser(
        "to-hf", help="a fairseq RoBERTa/XLM-R checkpoint -> Hugging Face XLM-R directory",
        description="Convert a WEAM/TLM/MLM checkpoint into an XLMRobertaForMaskedLM directory, or a fine-tuned "
        "sentence_prediction checkpoint into XLMRobertaForSequenceClassification, with a tokenizer whose ids are "
        "the fairseq dictionary's.")
    to_hf.add_argument("checkpoint", metavar="CHECKPOINT")
    to_hf.add_argument("out_dir", metavar="OUT_DIR", help="new directory")
    to_hf.add_argument("--dict", help="the model's fairseq dict.txt (default: DATA/dict.txt or DATA/input0/dict.txt "
                       "of the checkpoint's --data)")
    to_hf.add_argument("--spm-model", help="the sentencepiece model the data was encoded with (default: "
                       "sentencepiece.bpe.model beside --dict or in the checkpoint's --data)")
    to_hf.add_argument("--classification-head", help="head to export as XLMRobertaForSequenceClassification "
                       "(default: the checkpoint's only head; a checkpoint without heads gives XLMRobertaForMaskedLM)")
    to_hf.add_argument("--label-dict", help="label dictionary of the fine-tuning data (DATA/label/dict.txt) for "
                       "the config's id2label (default: beside the checkpoint's --data, when there)")
    to_hf.add_argument("--masked-lm", action="store_true",
                       help="export the masked-LM model even when the checkpoint has classification heads")
    to_hf.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)

    def body():
        if args.command == "from-hf":
            from fairseq_weam.convert.from_bert import convert_bert

            convert_bert(args.bert_dir, args.out_dir)
        else:
            from fairseq_weam.convert.to_xlmr import export_xlmr

            with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
                export_xlmr(args.checkpoint, args.out_dir, dict_path=args.dict, spm_model=args.spm_model,
                            head=args.classification_head, label_dict=args.label_dict, masked_lm=args.masked_lm)

    return run_cli("weam-convert", body)


if __name__ == "__main__":
    sys.exit(main())
