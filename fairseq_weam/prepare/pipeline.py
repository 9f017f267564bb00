"""``weam-prepare`` end to end: check -> clean -> sentencepiece -> encode -> dict -> unk -> align -> binarize -> report.

The first pair's aligner starts as early as its words exist: after its own pair is cleaned when it reads the
normalized text (``--aligner-input text``; the other pairs are cleaned while it runs, and the aligners of the
leading pairs that read text are queued, each starting when the one before ends), after encoding when it reads
pieces; each next aligner starts when the one before ends, while the pool of workers encodes, projects and
binarizes around them.

Inputs are checked for every pair before anything is written. Each stage goes through
:class:`~fairseq_weam.prepare.stages.StageRunner`, so a failed run leaves no half-written output and a
re-run only does the stages whose settings or inputs changed.
"""
import dataclasses
import json
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Dict, List

from fairseq.data import Dictionary

from fairseq_weam.align.eflomal_backend import eflomal_binary
from fairseq_weam.align.external_tool import AlignerError, find_binary
from fairseq_weam.align.fast_align_backend import INSTALL_HINT as FAST_ALIGN_HINT
from fairseq_weam.align.pharaoh import AlignmentError
from fairseq_weam.align.symmetrization import find_atools
from fairseq_weam.fairseq_preprocess import PreprocessError
from fairseq_weam.prepare.binarize import PairBinarizer, binarize_pair, binarized_names, count_unknown_pieces
from fairseq_weam.prepare.cleaning import clean_split
from fairseq_weam.prepare.config import PrepareConfig, PrepareError
from fairseq_weam.prepare.hf_tokenizer import WordPieceVocabulary, write_tokenizer_json
from fairseq_weam.prepare.piece_alignment import (
    PairAlignment, TextWords, normalizer_source, reads_text, segmentation_settings,
)
from fairseq_weam.prepare.raw_corpus import (
    check_parallel, discover_pairs, file_signature_list, pair_name, pair_splits, parse_pair_list, raw_paths,
)
from fairseq_weam.prepare.dest_lock import locked_dest
from fairseq_weam.prepare.report import DROP_REASONS, build_report, write_report
from fairseq_weam.prepare.sentencepiece_model import encode_split, train_sentencepiece, write_fairseq_dict
from fairseq_weam.prepare.stages import StageRunner, file_signature
from fairseq_weam.prepare.worker_pool import WorkerPool

SPM_NAME = "sentencepiece.bpe.model"
HF_TOKENIZER_NAME = "tokenizer.json"


def prepare(cfg: PrepareConfig, log=print) -> List[str]:
    """Run the pipeline; return the report's readable lines. Errors are :class:`PrepareError` (or aligner errors)."""
    cfg.check()
    raw_dir, dest = Path(cfg.raw_dir), Path(cfg.dest_dir)
    if not raw_dir.is_dir():
        raise PrepareError(f"--raw-dir {raw_dir} is not a directory")
    pairs = parse_pair_list(cfg.pairs) if cfg.pairs else discover_pairs(raw_dir)
    if not pairs:
        raise PrepareError(f"no language pairs found in {raw_dir} (expected train.l1-l2.l1 and train.l1-l2.l2)")
    with_alignment = cfg.aligner == "precomputed"
    splits = {}
    for pair in pairs:  # every input is checked before anything is written
        splits[pair] = pair_splits(raw_dir, pair)
        for split in splits[pair]:
            check_parallel(raw_paths(raw_dir, pair, split, with_alignment))
    for given in (cfg.spm_model, cfg.dict):
        if given and not Path(given).is_file():
            raise PrepareError(f"file not found: {given}")
    binaries = aligner_binaries(cfg)  # a missing aligner fails now, not after hours of encoding
    with locked_dest(dest), WorkerPool(cfg.workers) as pool:  # one pool of workers for the whole run
        return _run(cfg, pairs, splits, binaries, log, pool)


def aligner_binaries(cfg: PrepareConfig) -> Dict[str, str]:
    """The external binaries the align stage will run (aligner, and atools when used), resolved to paths."""
    found = {}
    if cfg.aligner == "eflomal":
        found["eflomal_bin"] = eflomal_binary(cfg.eflomal_bin)
    elif cfg.aligner == "fast_align":
        found["fast_align_bin"] = find_binary("fast_align", cfg.fast_align_bin, FAST_ALIGN_HINT, "--fast-align-bin")
    if cfg.aligner != "precomputed":
        atools = find_atools(cfg.atools_bin)
        if atools:
            found["atools_bin"] = atools
    return found


def _run(cfg: PrepareConfig, pairs, splits, binaries: Dict[str, str], log, pool: WorkerPool) -> List[str]:
    raw_dir, dest = Path(cfg.raw_dir), Path(cfg.dest_dir)
    with_alignment = cfg.aligner == "precomputed"
    work = Path(cfg.work_dir) if cfg.work_dir else dest / ".work"
    clean_dir, pieces_dir = work / "clean", work / "pieces"
    for d in (dest, clean_dir, pieces_dir):
        d.mkdir(parents=True, exist_ok=True)
    runner = StageRunner(work, log)
    timeline = []  # (step, start, end) wall-clock times of the align stages' steps, for the report
    suffixes = lambda pair: list(pair) + (["align"] if with_alignment else [])  # noqa: E731
    kept_lines = lambda pair, s: pieces_dir / f"{s}.{pair_name(pair)}.lines"  # noqa: E731
    piece_counts = lambda pair, s, lang: pieces_dir / f"{s}.{pair_name(pair)}.{lang}.counts"  # noqa: E731

    clean_sigs, clean_stages = {}, {}
    for pair in pairs:  # each pair's cleaning runs below, just before its aligner can start
        name = pair_name(pair)
        ins = {s: raw_paths(raw_dir, pair, s, with_alignment) for s in splits[pair]}
        outs = {s: [clean_dir / f"{s}.{name}.{x}" for x in suffixes(pair) + ["lines"]] for s in splits[pair]}

        def clean(partials, ins=ins, outs=outs):
            flat = iter(partials)
            stats = {}
            for s in ins:
                files = [next(flat) for _ in outs[s]]
                stats[s] = dict(clean_split(ins[s], files[:-1], files[-1], cfg.max_chars, cfg.on_bad_utf8, pool))
            return stats

        settings = [file_signature_list(p for s in ins for p in ins[s]), cfg.max_chars, cfg.on_bad_utf8]
        clean_sigs[pair] = runner.signature(f"clean:{name}", settings)  # what runner.run will return
        clean_stages[pair] = (f"clean:{name}", settings, [p for s in outs for p in outs[s]], clean)

    def run_clean(pair):
        name = pair_name(pair)
        runner.run(*clean_stages[pair])
        _check_pairs_left(name, runner.results[f"clean:{name}"]["stats"], {}, "cleaning", raw_dir)

    model_path = dest / SPM_NAME
    if cfg.spm_model:
        spm_settings = ["given", file_signature(cfg.spm_model)]
        spm_fn = lambda partials: shutil.copyfile(cfg.spm_model, partials[0])  # noqa: E731
    elif cfg.hf_tokenizer:  # a Hugging Face WordPiece tokenizer encodes instead (prepare/hf_tokenizer.py)
        model_path = dest / HF_TOKENIZER_NAME
        spm_settings = ["hf", file_signature_list(sorted(Path(cfg.hf_tokenizer).iterdir()))]
        spm_fn = lambda partials: write_tokenizer_json(cfg.hf_tokenizer, partials[0])  # noqa: E731
    else:
        train_texts = [clean_dir / f"train.{pair_name(p)}.{lang}" for p in pairs for lang in p]
        spm_settings = ["trained", sorted(clean_sigs.values()), cfg.vocab_size, cfg.spm_model_type,
                        cfg.spm_character_coverage, cfg.spm_input_sentence_size]

        def spm_fn(partials):  # one core fewer while an aligner runs on it (more threads than cores slow both)
            threads = max(1, cfg.workers - 1) if previous is not None else cfg.workers
            train_sentencepiece(train_texts, partials[0], cfg.vocab_size, cfg.spm_model_type,
                                cfg.spm_character_coverage, cfg.spm_input_sentence_size, threads)
    spm_sig = runner.signature("sentencepiece", spm_settings)  # what runner.run will return: known before it runs
    encode_settings = {pair: [spm_sig, clean_sigs[pair], cfg.max_len, cfg.max_ratio, cfg.on_bad_link] for pair in pairs}
    encode_sigs = {pair: runner.signature(f"encode:{pair_name(pair)}", encode_settings[pair]) for pair in pairs}
    # encoding writes per split: the pieces (and links), the raw line numbers of the pairs kept, the piece counts
    encode_outs = {pair: {s: [pieces_dir / f"{s}.{pair_name(pair)}.{x}.pieces" if x == "align"
                              else pieces_dir / f"{s}.{pair_name(pair)}.{x}" for x in suffixes(pair)]
                          + [kept_lines(pair, s)] + [piece_counts(pair, s, lang) for lang in pair]
                          for s in splits[pair]} for pair in pairs}
    align_cfg, opened = dataclasses.replace(cfg, **binaries), {}

    def align_job(pair):
        """The align stage of ``pair``: its inputs, outputs and settings."""
        name = pair_name(pair)
        ins = {s: [pieces_dir / f"{s}.{name}.{pair[0]}", pieces_dir / f"{s}.{name}.{pair[1]}"]
               + ([pieces_dir / f"{s}.{name}.align.pieces"] if with_alignment else []) for s in splits[pair]}
        outs = {s: pieces_dir / f"{s}.{name}.align" for s in splits[pair]}
        tools = {flag: file_signature(path) for flag, path in sorted(binaries.items())}  # a rebuilt binary re-runs
        settings = [encode_sigs[pair], cfg.aligner, cfg.symmetrize, cfg.first_piece_only, tools,
                    segmentation_settings(cfg, pair)]
        return pair, ins, outs, settings

    def alignment(k):
        """Pair k's :class:`PairAlignment`, opened on first use; None when its align stage is complete."""
        if k >= len(pairs):
            return None
        if k not in opened:
            pair, ins, outs, settings = align_job(pairs[k])
            will_run = runner.will_run(f"align:{pair_name(pair)}", settings, list(outs.values()))
            text_words = None
            if reads_text(cfg, pair):
                name = pair_name(pair)
                text_words = TextWords({s: [clean_dir / f"{s}.{name}.{lang}" for lang in pair] for s in splits[pair]},
                                       {s: clean_dir / f"{s}.{name}.lines" for s in splits[pair]},
                                       {s: kept_lines(pair, s) for s in splits[pair]}, normalizer_source(cfg))
            opened[k] = PairAlignment(ins, align_cfg, work, pair, pool, text_words=text_words).open() if will_run else None
        return opened[k]

    previous = None  # the leading pairs whose aligners read the cleaned text run one after the other from now
    try:
        leading = True
        for k, pair in enumerate(pairs):  # the first aligner starts as soon as its pair is clean, the others queue
            run_clean(pair)
            leading = leading and reads_text(cfg, pair)
            if leading and alignment(k) is not None:
                alignment(k).start_aligner(after=previous)
                previous = alignment(k)
        runner.run("sentencepiece", spm_settings, [model_path], spm_fn)  # while they run

        count_files = [piece_counts(pair, s, lang) for pair in pairs for s in splits[pair] for lang in pair]
        for k, pair in enumerate(pairs):
            name = pair_name(pair)
            ins = {s: [clean_dir / f"{s}.{name}.{x}" for x in suffixes(pair)] for s in splits[pair]}
            outs = encode_outs[pair]

            def encode(partials, pair=pair, ins=ins, outs=outs):
                flat, n = iter(partials), len(suffixes(pair))
                stats = {}
                for s in ins:
                    files = [next(flat) for _ in outs[s]]  # pieces (and links), kept line numbers, piece counts
                    stats[s] = dict(encode_split(
                        model_path, ins[s], files[:n], cfg.max_len, cfg.max_ratio, cfg.on_bad_link, pool,
                        line_numbers_path=clean_dir / f"{s}.{pair_name(pair)}.lines",
                        raw_paths=raw_paths(raw_dir, pair, s, with_alignment), kept_lines_path=files[n],
                        piece_counts_paths=files[n + 1:]))
                return stats

            runner.run(f"encode:{name}", encode_settings[pair], [p for s in outs for p in outs[s]], encode)
            _check_pairs_left(name, runner.results[f"clean:{name}"]["stats"], runner.results[f"encode:{name}"]["stats"],
                              "cleaning and encoding", raw_dir)
            if alignment(k) is None:
                continue
            if k == 0:
                alignment(0).start_aligner()  # the first aligner runs while the other pairs encode, dict and unk
            else:
                alignment(k).write_words()  # the workers write this pair's words while the first aligner runs

        dict_path = dest / "dict.txt"
        if cfg.dict:
            dict_settings = ["given", file_signature(cfg.dict)]
            dict_fn = lambda partials: shutil.copyfile(cfg.dict, partials[0])  # noqa: E731
        elif cfg.hf_tokenizer:
            dict_settings = ["hf", spm_sig]
            dict_fn = lambda partials: WordPieceVocabulary(cfg.hf_tokenizer).write_dict(partials[0])  # noqa: E731
        else:
            dict_settings = ["counted", spm_sig, sorted(encode_sigs.values())]
            dict_fn = lambda partials: write_fairseq_dict(model_path, count_files, partials[0])  # noqa: E731
        dict_sig = runner.run("dict", dict_settings, [dict_path], dict_fn)

        for pair in pairs:  # a --dict that does not go with --spm-model is refused before any link is written
            name = pair_name(pair)

            def count_unk(partials, pair=pair):
                dictionary = Dictionary.load(str(dict_path))
                counts = {s: {lang: count_unknown_pieces(piece_counts(pair, s, lang), dictionary)
                              for lang in pair} for s in splits[pair]}
                partials[0].write_text(json.dumps(counts, indent=1), encoding="utf-8")
                return counts

            runner.run(f"unk:{name}", [dict_sig, encode_sigs[pair]], [pieces_dir / f"{name}.unk.json"], count_unk)
            _check_unk_share(pair, runner.results[f"unk:{name}"]["stats"], cfg)

        jobs = [align_job(pair) for pair in pairs]
        with ExitStack() as binarizers:  # every pair's text binarizes from now on, while the aligners run
            outputs, binarize_settings, binarizer = {}, {}, {}
            for pair, ins, outs, settings in jobs:
                name = pair_name(pair)
                names = binarized_names(pair, splits[pair]) + [f"dict.{lang}.txt" for lang in pair]
                outputs[pair] = {n: dest / n for n in names}
                binarize_settings[pair] = [runner.signature(f"align:{name}", settings), dict_sig, encode_sigs[pair]]
                binarizer[pair] = binarizers.enter_context(PairBinarizer(pool, pieces_dir, pair, splits[pair],
                                                                         dict_path, work))
                if runner.will_run(f"binarize:{name}", binarize_settings[pair], list(outputs[pair].values())):
                    binarizer[pair].start("text")

            for k, (pair, ins, outs, settings) in enumerate(jobs):
                name = pair_name(pair)

                def align(partials, k=k, outs=outs, name=name):
                    current, following = alignment(k), alignment(k + 1)
                    current.start_aligner()
                    if following is not None:
                        following.write_words()  # the workers write the next pair's words while this aligner runs
                    current.wait_aligner()
                    if following is not None:
                        following.start_aligner()  # the next aligner runs while this pair is projected and binarized
                    stats = current.finish(dict(zip(outs, partials)))
                    timeline.extend((f"{step}:{name}", a, b) for step, a, b in current.timeline)
                    return stats

                runner.run(f"align:{name}", settings, list(outs.values()), align)
                if opened.get(k) is not None:
                    opened[k].close()  # its temporary files go now

                def binarize(partials, pair=pair):
                    binarize_pair(pieces_dir, pair, splits[pair], dict_path, dict(zip(outputs[pair], partials)),
                                  cfg.workers, work, binarizer=binarizer[pair])

                runner.run(f"binarize:{name}", binarize_settings[pair], list(outputs[pair].values()), binarize)
    finally:  # an error or interrupt ends the aligners started ahead and removes their files
        for started in opened.values():
            if started is not None:
                started.close()

    report_missing = not (dest / "prep_report.json").exists() or not (dest / "prep_report.txt").exists()
    report = build_report([pair_name(p) for p in pairs], runner.results, _dict_size(dict_path), dataclasses.asdict(cfg),
                          timeline)
    if runner.any_ran or report_missing:
        lines = write_report(dest, report)
    else:
        lines = (dest / "prep_report.txt").read_text(encoding="utf-8").splitlines()
        lines.append("every stage was complete: nothing was rewritten")
    for line in lines:
        log(line)
    return lines


def _check_pairs_left(name, clean_stats: Dict, encode_stats: Dict, stages: str, raw_dir):
    """Every split keeps at least one pair; otherwise an error naming the split, the pair and the drops."""
    for split, counts in clean_stats.items():
        left = encode_stats[split].get("out", 0) if split in encode_stats else counts.get("out", 0)
        if left:
            continue
        drops = ", ".join(f"{r} {n}" for r in DROP_REASONS
                          if (n := counts.get(r, 0) + encode_stats.get(split, {}).get(r, 0))) or "none"
        raise PrepareError(
            f"{split}.{name}: 0 pairs left after {stages} ({counts.get('in', 0)} in; dropped: {drops}); every split "
            f"needs at least one pair: fix {Path(raw_dir) / f'{split}.{name}'}.* or the limits that drop them"
        )


def _check_unk_share(pair, unknown: Dict, cfg: PrepareConfig):
    """The share of pieces fairseq maps to ``<unk>``, per language over all splits, is at most --max-unk-share."""
    for lang in pair:
        counts = [unknown[s][lang] for s in unknown if lang in unknown[s]]
        pieces, unk = sum(c["pieces"] for c in counts), sum(c["unk"] for c in counts)
        share = unk / max(pieces, 1)
        if share > cfg.max_unk_share:
            if cfg.dict:
                cause = (f"--dict {cfg.dict} does not match the sentencepiece model --spm-model {cfg.spm_model} "
                         f"(give the dict.txt made with that model)")
            else:
                cause = "the trained sentencepiece model misses these characters (raise --spm-character-coverage)"
            raise PrepareError(
                f"{pair_name(pair)}: {100 * share:.1f}% of the {lang} pieces are not in the dictionary (<unk>), "
                f"over --max-unk-share {cfg.max_unk_share}: {cause}"
            )


def _dict_size(dict_path) -> int:
    with open(dict_path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


PREPARE_ERRORS = (PrepareError, AlignerError, AlignmentError, PreprocessError)
