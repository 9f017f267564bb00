"""``weam-synthesize``: pseudo-parallel pairs with exact word links from cross-lingual word embeddings.

    weam-synthesize --pairs en-de --text en=mono.en --text de=mono.de --dictionary freedict \\
        --noise gaussian:0.5 --choice adversarial --rate 0.5 --out RAW_SYN
    weam-prepare --raw-dir RAW_SYN --dest-dir DATA --aligner precomputed

Writes OUT/{train,valid}.{l1}-{l2}.{l1,l2,align} (whitespace-word Pharaoh links, as --aligner precomputed
reads them) and OUT/synthesis_report.json (BLI precision@1/@5 on the held-out dictionary part per pair).
"""
import argparse
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.synthesis.build import CHOICES, SynthesisOptions, build_synthetic_corpus
from fairseq_weam.synthesis.errors import SynthesisError
from fairseq_weam.synthesis.pairs import LINKS


def _assignments(items, flag):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SynthesisError(f"{flag} {item!r}: expected KEY=VALUE, e.g. {flag} en=mono.en")
        out[key] = value
    return out


def _pairs(spec):
    pairs = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        langs = item.split("-")
        if len(langs) != 2 or not all(langs) or langs[0] == langs[1]:
            raise SynthesisError(f"--pairs: bad language pair {item!r}; expected l1-l2, e.g. en-de")
        pairs.append(tuple(langs))
    if not pairs:
        raise SynthesisError("--pairs: no language pair given (e.g. --pairs en-de,en-fr)")
    return pairs


def build_parser():
    p = argparse.ArgumentParser(prog="weam-synthesize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = SynthesisOptions.__dataclass_fields__
    p.add_argument("--pairs", required=True, help="comma-separated pairs l1-l2; sentences of l1 are pseudo-translated into l2")
    p.add_argument("--text", action="append", required=True, metavar="LANG=FILE",
                   help="monolingual text of a language (fastText vectors; l1's also gives the sentences)")
    p.add_argument("--sentences", action="append", metavar="LANG=FILE",
                   help="sentences of l1 to pseudo-translate (default: its --text); PAIR=FILE (en-de=...) for one pair")
    p.add_argument("--dictionary", action="append", required=True, metavar="[PAIR=]SPEC",
                   help="seed/test dictionary: a word<TAB>translation file, a dictd .index file, freedict (the "
                        "installed FreeDict dictionary of the pair) or gettext (one-word UI messages); PAIR=SPEC for one pair")
    p.add_argument("--out", required=True, help="output RAW directory (replaced atomically)")
    p.add_argument("--test-share", type=float, default=d["test_share"].default,
                   help="share of the dictionary's in-vocabulary words held out for BLI (default: %(default)s)")
    p.add_argument("--dim", type=int, default=d["dim"].default, help="fastText vector size (default: %(default)s)")
    p.add_argument("--epoch", type=int, default=d["epoch"].default, help="fastText epochs (default: %(default)s)")
    p.add_argument("--min-count", type=int, default=d["min_count"].default,
                   help="fastText minimal word count (default: %(default)s)")
    p.add_argument("--refine-iterations", type=int, default=d["refine_iterations"].default,
                   help="Procrustes refinements on seed + mutual CSLS neighbours (default: %(default)s)")
    p.add_argument("--refine-max-rank", type=int, default=d["refine_max_rank"].default,
                   help="most frequent words searched for mutual neighbours (default: %(default)s)")
    p.add_argument("--identical-seed", action="store_true",
                   help="add the words spelt the same in both vocabularies to the seed dictionary (test words excepted)")
    p.add_argument("--csls-k", type=int, default=d["csls_k"].default, help="CSLS neighbourhood size (default: %(default)s)")
    p.add_argument("--noise", default=d["noise"].default,
                   help="none, gaussian:SIGMA (noise of expected length SIGMA on the unit mapped vectors) or "
                        "sample:K:T (sample among the K best CSLS candidates, temperature T) (default: %(default)s)")
    p.add_argument("--choice", default=d["choice"].default, choices=CHOICES,
                   help="best candidate, or adversarial: highest masked-LM loss under --checkpoint, else the "
                        "candidate closest by cosine to the best one (default: %(default)s)")
    p.add_argument("--top-k", type=int, default=d["top_k"].default,
                   help="candidates the adversarial choice considers (default: %(default)s)")
    p.add_argument("--checkpoint", help="pre-trained checkpoint scoring the adversarial choice")
    p.add_argument("--checkpoint-data", help="the weam-prepare directory of --checkpoint (dict.txt, sentencepiece model)")
    p.add_argument("--rate", type=float, default=d["rate"].default,
                   help="share of the known words of a sentence exchanged (1.0: word by word) (default: %(default)s)")
    p.add_argument("--links", default=d["links"].default, choices=LINKS,
                   help="link every token to itself, or the exchanged tokens only (default: %(default)s)")
    p.add_argument("--max-sentences", type=int, help="train pairs per language pair (default: every sentence)")
    p.add_argument("--valid-size", type=int, default=d["valid_size"].default, help="valid pairs per pair (default: %(default)s)")
    p.add_argument("--natural", help="RAW directory of natural pairs to mix in (links: its .align files, else --natural-aligner)")
    p.add_argument("--natural-share", type=float, default=d["natural_share"].default,
                   help="share of natural pairs in the output with --natural (default: %(default)s)")
    p.add_argument("--natural-aligner", default=d["natural_aligner"].default, choices=("eflomal", "fast_align"),
                   help="aligner of natural pairs without an .align file (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d["seed"].default,
                   help="seed of the dictionary split, noise, sentence order and exchanges (default: %(default)s)")
    p.add_argument("--cache-dir", help="keep the fastText vectors here, reused when text and settings are the same")
    p.add_argument("--dictd-dir", default=d["dictd_dir"].default, help="where freedict dictionaries are (default: %(default)s)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def body():
        dictionary = {}
        for item in args.dictionary:
            key, sep, value = item.partition("=")
            dictionary.update({key: value} if sep and "-" in key and "/" not in key else {"*": item})
        opts = SynthesisOptions(
            pairs=_pairs(args.pairs), texts=_assignments(args.text, "--text"), out=args.out, dictionary=dictionary,
            sentences=_assignments(args.sentences, "--sentences"), test_share=args.test_share, dim=args.dim,
            epoch=args.epoch, min_count=args.min_count,
            refine_iterations=args.refine_iterations, refine_max_rank=args.refine_max_rank, csls_k=args.csls_k,
            identical_seed=args.identical_seed,
            noise=args.noise, choice=args.choice, top_k=args.top_k, checkpoint=args.checkpoint,
            checkpoint_data=args.checkpoint_data, rate=args.rate, links=args.links,
            max_sentences=args.max_sentences, valid_size=args.valid_size, natural=args.natural,
            natural_share=args.natural_share, natural_aligner=args.natural_aligner, seed=args.seed,
            cache_dir=args.cache_dir, dictd_dir=args.dictd_dir)
        build_synthetic_corpus(opts)
        print(f"weam-synthesize: wrote {args.out} (report: {args.out}/synthesis_report.json)")

    return run_cli("weam-synthesize", body)


if __name__ == "__main__":
    sys.exit(main())
