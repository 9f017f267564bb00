"""Pre-training throughput of ``--task weam`` against fairseq's ``masked_lm``, and WEAM's FLOP floor.

Runs fairseq-train for ``masked_lm`` (fairseq, on the sentences of the pairs as monolingual lines) and for
``--task weam --objective weam|tlm|mlm`` on the same pairs, model, ``--max-tokens`` and number of updates,
in rounds that alternate the runs (the median of the rounds is reported). words/s = fairseq's ``wps``
(non-pad input tokens per second) over the ``train_inner`` intervals after the first.

The floor. WEAM does the work of masked LM plus a second LM-head pass over the exchanged states of the
masked, aligned pieces. Per input token (forward; the backward is twice the forward for every matmul, so the
ratio holds for a training step): encoder E = L·(24·d² + 4·T·d) (QKV and output projections 8d², FFN with
d_ffn = 4d 16d², attention scores and weighted sum 4·T·d over rows of T tokens); LM head H = 2·d² + 2·d·V
per prediction (dense layer and vocabulary projection). masked_lm makes p_mlm = 0.15 predictions per token
(fairseq masks 15 % of every row, <s> and </s> included); WEAM makes s_ml + s_cl (measured shares of masked
and of exchanged positions). floor = (E + p_mlm·H) / (E + (s_ml + s_cl)·H); target >= 0.95 x floor. A second
floor multiplies each E by the batch tensor's cells per real token (the encoder runs on padding too), for two
rows per pair (``--input-mode separate``, padded-cost order and ``--order-by-pair-length``) and for one packed row
(``--input-mode packed``). The ``weam`` row runs the task's default input mode, ``weam_<other mode>`` the other.
"""
import re
import statistics
from pathlib import Path

from bench import USER_DIR, gettext_data, inner_wps, run, tool

RUNS = ("masked_lm", "weam", "tlm", "mlm")
MASKED_LM_RATE = 0.15


def _add(parser, flag, **kwargs):
    if flag not in parser._option_string_actions:  # bench.py may define the shared model flags already
        parser.add_argument(flag, **kwargs)


def add_arguments(parser):
    _add(parser, "--layers", type=int, default=2, help="encoder layers of the bench model")
    _add(parser, "--dim", type=int, default=256, help="model dimension of the bench model (FFN 4x)")
    _add(parser, "--max-tokens", type=int, default=4096, help="--max-tokens of every training run")
    _add(parser, "--log-interval", type=int, default=10, help="updates per train_inner line")
    _add(parser, "--throughput-pairs", type=int, default=5000, help="pairs per language pair (en-de, en-fr)")
    _add(parser, "--throughput-updates", type=int, default=60, help="updates per training run")
    _add(parser, "--throughput-rounds", type=int, default=2,
         help="rounds of all runs, one after the other; the median of the rounds is reported")
    _add(parser, "--throughput-baseline-user-dir", type=Path, default=None,
         help="another copy of fairseq_weam (e.g. an older commit) to time as 'weam_baseline' in the same rounds")


def _logged_mean(log, key):
    values = [float(v) for v in re.findall(rf"\| train_inner \|.*?\b{key}[= ]([0-9.]+)", log)]
    return statistics.mean(values[1:] if len(values) > 1 else values)


def weam_cells_per_token(data, max_tokens, objective="weam", order_by_pair_length=False, input_mode="separate"):
    """Tensor cells per non-pad token of the batches fairseq builds (``--max-tokens``) for ``objective`` of the
    weam task: two rows per pair (weam and mlm ``--input-mode separate``), both padded to the batch's longest
    side; one row ``<s> x </s> y </s>`` for tlm; one row ``<s> x </s> <s> y </s>`` packed."""
    import numpy as np

    from fairseq_weam.data import is_concat
    from fairseq_weam.tasks.weam import WeamConfig, WeamTask

    cfg = WeamConfig(data=str(data), seed=1, train_subset="train", finetune_from_model=None,
                     restore_file="checkpoint_last.pt", tokens_per_sample=256, objective=objective,
                     order_by_pair_length=order_by_pair_length, input_mode=input_mode)
    task = WeamTask.setup_task(cfg)
    dataset = task.load_dataset("train")
    batches = task.get_batch_iterator(dataset, max_tokens=max_tokens, max_positions=256, seed=1).frozen_batches
    cost = dataset.num_tokens_vec(np.arange(len(dataset)))
    cells = sum(len(b) * cost[b].max() for b in batches)
    # real tokens: |x| + |y| + 3 (= sizes) in one row <s> x </s> y </s>; |x| + 2 + |y| + 2 in two rows or packed
    extra = 0 if is_concat(objective, cfg.input_mode) else 1
    real = sum(dataset.sizes[b].sum() + extra * len(b) for b in batches)
    return float(cells / real)


def default_input_mode():
    """The weam task's default ``--input-mode`` (the mode of the ``weam`` row)."""
    from fairseq_weam.tasks.weam import WeamConfig

    return WeamConfig.__dataclass_fields__["input_mode"].default


def masked_lm_cells_per_token(mono, max_tokens):
    """The same for fairseq's masked_lm: one row per sentence, batched in length order."""
    import numpy as np
    from fairseq.data import data_utils

    sentences = data_utils.load_indexed_dataset(str(mono / "train"), None)  # keep it: sizes is a view of its mmap
    sizes = np.array(sentences.sizes, dtype=np.int64) + 1  # + <s>
    cells = rows = longest = 0
    for size in np.sort(sizes):  # fairseq's greedy batching in length order: a batch is rows x longest
        if (rows + 1) * size > max_tokens:
            cells, rows = cells + rows * longest, 0
        rows, longest = rows + 1, size
    return float((cells + rows * longest) / sizes.sum())


def floor_arithmetic(layers, dim, vocab, ml_share, cl_share, weam_row_tokens, masked_lm_row_tokens,
                     weam_cells=1.0, masked_lm_cells=1.0):
    """FLOPs per input token (forward) of both tasks and the resulting floor of weam / masked_lm; the
    ``*_cells`` (tensor cells per non-pad token) add the encoder's work on padding to the second floor."""
    def encoder(row_tokens):
        return layers * (24 * dim * dim + 4 * row_tokens * dim)

    head = 2 * dim * dim + 2 * dim * vocab
    masked_lm = encoder(masked_lm_row_tokens) + MASKED_LM_RATE * head
    weam = encoder(weam_row_tokens) + (ml_share + cl_share) * head
    floor = masked_lm / weam
    padded = (encoder(masked_lm_row_tokens) * masked_lm_cells + MASKED_LM_RATE * head) / (
        encoder(weam_row_tokens) * weam_cells + (ml_share + cl_share) * head)
    return {
        "encoder_flops_per_token_weam": round(encoder(weam_row_tokens)),
        "encoder_flops_per_token_masked_lm": round(encoder(masked_lm_row_tokens)),
        "head_flops_per_prediction": head,
        "masked_lm_predictions_per_token": MASKED_LM_RATE,
        "weam_ml_predictions_per_token": round(ml_share, 4),
        "weam_cl_predictions_per_token": round(cl_share, 4),
        "masked_lm_flops_per_token": round(masked_lm),
        "weam_flops_per_token": round(weam),
        "floor": round(floor, 4),
        "target": round(0.95 * floor, 4),
        "weam_cells_per_token": round(weam_cells, 4),
        "masked_lm_cells_per_token": round(masked_lm_cells, 4),
        "floor_with_padding": round(padded, 4),
    }


def bench(args, out):
    base = Path(out) / "throughput"
    data, _ = gettext_data(base, "en-de,en-fr", args.throughput_pairs, 8000, 2)
    mono = base / "mono"
    if not (mono / "train.bin").exists():
        pieces = data / ".work" / "pieces"
        for split in ("train", "valid"):
            with open(base / f"mono.{split}", "w", encoding="utf-8") as f:
                for path in sorted(pieces.glob(f"{split}.*-*.*")):
                    if path.suffix[1:] in path.name.split(".")[1].split("-"):
                        f.write(path.read_text(encoding="utf-8"))
        run([tool("fairseq-preprocess"), "--only-source", "--srcdict", data / "dict.txt",
             "--trainpref", base / "mono.train", "--validpref", base / "mono.valid", "--destdir", mono,
             "--workers", 2])
    model = ["--arch", "roberta_base", "--encoder-layers", args.layers, "--encoder-embed-dim", args.dim,
             "--encoder-ffn-embed-dim", 4 * args.dim, "--encoder-attention-heads", max(args.dim // 64, 2),
             "--max-positions", 256]
    common = [*model, "--optimizer", "adam", "--lr", "1e-4", "--max-tokens", args.max_tokens,
              "--max-update", args.throughput_updates, "--log-format", "simple", "--log-interval",
              args.log_interval, "--disable-validation", "--no-save", "--num-workers", 0, "--seed", 1, "--cpu"]
    runs = {"masked_lm": [tool("fairseq-train"), mono, "--task", "masked_lm", "--criterion", "masked_lm",
                          "--sample-break-mode", "eos", "--tokens-per-sample", 256, *common]}

    def weam_run(objective, user_dir=USER_DIR):
        return [tool("fairseq-train"), data, "--user-dir", user_dir, "--task", "weam", "--criterion", "weam",
                "--objective", objective, "--tokens-per-sample", 256, *common]

    for objective in ("weam", "tlm", "mlm"):
        runs[objective] = weam_run(objective)
    other_mode = "separate" if default_input_mode() == "packed" else "packed"
    runs[f"weam_{other_mode}"] = weam_run("weam") + ["--input-mode", other_mode]
    runs["weam_length_order"] = weam_run("weam") + ["--order-by-pair-length"]
    if args.throughput_baseline_user_dir:
        runs["weam_baseline"] = weam_run("weam", args.throughput_baseline_user_dir)

    wps = {name: [] for name in runs}
    logs = {}
    for r in range(args.throughput_rounds):
        for name, cmd in runs.items():
            logs[name], _ = run(cmd, log_path=base / f"{name}.round{r}.log")
            wps[name].append(inner_wps(logs[name])[0])
    results = {"rounds": args.throughput_rounds, "updates": args.throughput_updates}
    for name, values in wps.items():
        results[name] = {"wps": round(statistics.median(values), 1), "wps_rounds": [round(v, 1) for v in values]}
    # ratios within each round (runs of one round are back to back), then their median across rounds
    def ratio(name, to):
        return round(statistics.median(a / b for a, b in zip(wps[name], wps[to])), 3)

    for name in runs:
        results[name]["ratio_to_masked_lm"] = ratio(name, "masked_lm")
    results["weam"]["ratio_to_mlm"] = ratio("weam", "mlm")

    weam_log, mlm_log = logs["weam"], logs["masked_lm"]
    wpb, bsz = _logged_mean(weam_log, "wpb"), _logged_mean(weam_log, "bsz")
    vocab = sum(1 for _ in open(data / "dict.txt", encoding="utf-8")) + 5  # 4 specials + <mask>
    masked_lm_cells = masked_lm_cells_per_token(mono, args.max_tokens)
    mode = default_input_mode()
    # attention columns per token's row: a pair is two rows (separate) or one (packed: attention is computed over
    # the whole row, the other sentence's columns masked)
    row_tokens = {"separate": wpb / (2 * bsz), "packed": wpb / bsz}
    cells = {"separate": weam_cells_per_token(data, args.max_tokens, input_mode="separate"),
             "separate_length_order": weam_cells_per_token(data, args.max_tokens, order_by_pair_length=True,
                                                           input_mode="separate"),
             "packed": weam_cells_per_token(data, args.max_tokens, input_mode="packed")}
    shares = dict(ml_share=_logged_mean(weam_log, "ml_tokens") / wpb, cl_share=_logged_mean(weam_log, "cl_tokens") / wpb,
                  masked_lm_row_tokens=_logged_mean(mlm_log, "wpb") / _logged_mean(mlm_log, "bsz"),
                  masked_lm_cells=masked_lm_cells)
    results["input_mode"] = mode
    results["floor"] = floor_arithmetic(args.layers, args.dim, vocab, weam_row_tokens=row_tokens[mode],
                                        weam_cells=cells[mode], **shares)
    results["floor"]["vocab"] = vocab
    for name, value in cells.items():
        layout = name.split("_")[0]
        results["floor"][f"cells_per_token_{name}"] = round(value, 4)
        results["floor"][f"floor_with_padding_{name}"] = floor_arithmetic(
            args.layers, args.dim, vocab, weam_row_tokens=row_tokens[layout], weam_cells=value,
            **shares)["floor_with_padding"]
    results["target"] = f"weam / masked_lm >= 0.95 x floor = {results['floor']['target']}"
    results["met"] = results["weam"]["ratio_to_masked_lm"] >= results["floor"]["target"]
    return results


def markdown(result):
    f = result["floor"]
    mode = result.get("input_mode", "separate")
    measured = result["weam"]["ratio_to_masked_lm"]
    lines = ["## 1. Pre-training throughput against fairseq's masked_lm", "",
             f"Same model, pairs, `--max-tokens` and {result['updates']} updates per run; words/s = fairseq's `wps` "
             "(non-pad input tokens per second) over the `train_inner` intervals after the first; wps is the median "
             f"of {result['rounds']} round(s) of all runs back to back, each ratio the median of the rounds' ratios.", "",
             "| task | wps | ratio to masked_lm |", "|---|---:|---:|"]
    names = {"masked_lm": "masked_lm (fairseq)", "weam": f"weam --objective weam (default: --input-mode {mode})",
             "weam_packed": "weam --objective weam --input-mode packed",
             "weam_separate": "weam --objective weam --input-mode separate",
             "tlm": "weam --objective tlm", "mlm": "weam --objective mlm",
             "weam_length_order": "weam --objective weam --order-by-pair-length",
             "weam_baseline": "weam --objective weam, baseline code"}
    for key, label in names.items():
        if key in result:
            lines.append(f"| {label} | {result[key]['wps']} | {result[key]['ratio_to_masked_lm']} |")
    lines += ["", f"WEAM against the project's own `mlm` objective on the same pairs and batches: "
                  f"{result['weam']['ratio_to_mlm']}.", "",
              "Floor (FLOPs per input token, forward; the backward doubles every term alike): encoder "
              "E = L·(24·d² + 4·T·d), LM head H = 2·d² + 2·d·V per prediction. "
              f"H = {f['head_flops_per_prediction']:,}; E = {f['encoder_flops_per_token_masked_lm']:,} (masked_lm rows) "
              f"and {f['encoder_flops_per_token_weam']:,} (weam rows, --input-mode {mode}). masked_lm predicts "
              f"{f['masked_lm_predictions_per_token']} of its tokens; WEAM predicts "
              f"{f['weam_ml_predictions_per_token']} (masked) + {f['weam_cl_predictions_per_token']} (exchanged) "
              f"of its tokens (measured). floor = {f['masked_lm_flops_per_token']:,} / {f['weam_flops_per_token']:,} "
              f"= {f['floor']}.", "",
              f"Target weam / masked_lm >= 0.95 x floor = {f['target']}: "
              f"{'met' if result['met'] else 'MISSED'} ({measured}).", ""]
    if "cells_per_token_packed" not in f:  # a results.json of an older bench
        return lines
    lines += ["Padding. The encoder also runs on the padding of the batch tensor, which `--max-tokens` bounds as "
              f"rows x longest. masked_lm (one row per sentence, ordered by length): {f['masked_lm_cells_per_token']} "
              "cells per real token. weam, pairs ordered by their padded cost (the default): two rows per pair, "
              f"each padded to the batch's longest side (`--input-mode separate`), {f['cells_per_token_separate']}; "
              f"one row `<s> x </s> <s> y </s>` (`--input-mode packed`), {f['cells_per_token_packed']}; two rows "
              f"ordered by |x| + |y| (`--order-by-pair-length`), {f['cells_per_token_separate_length_order']}. "
              "Counting those cells in E (and, packed, attention over the whole row), the floor is "
              f"{f['floor_with_padding_separate']} (separate), {f['floor_with_padding_packed']} (packed) and "
              f"{f['floor_with_padding_separate_length_order']} (separate, `--order-by-pair-length`).", ""]
    bound = f[f"floor_with_padding_{mode}"]
    if measured > bound * 1.02:
        lines += [f"Caution: the measured ratio ({measured}) is above the floor with padding ({bound}), which no code "
                  "can beat: the runs did not meet the same conditions (a loaded machine); re-measure on a quiet one, "
                  "with more rounds.", ""]
    lines += [("Why the target is missed. " if not result["met"] else "The format's bound. ")
              + f"With --input-mode {mode} the floor with padding is {bound}, "
              + ("below" if bound < f["target"] else "above") + f" the target {f['target']}"
              + (": the batch format, not the criterion, bounds WEAM here" if bound < f["target"] else "")
              + f"; measured / floor with padding = {round(measured / bound, 3)}.", ""]
    other = "packed" if mode == "separate" else "separate"
    if f"weam_{other}" in result:
        other_measured, other_bound = result[f"weam_{other}"]["ratio_to_masked_lm"], f[f"floor_with_padding_{other}"]
        lines += [f"With --input-mode {other} the floor with padding is {other_bound}, "
                  + ("below" if other_bound < f["target"] else "above") + f" the target; measured {other_measured} "
                  f"({'met' if other_measured >= f['target'] else 'missed'}), {round(other_measured / other_bound, 3)} "
                  "of that floor. The two modes compute the same states (the tests check it); packed pads less but "
                  "attends over the whole row with a materialized per-row mask (batch x heads x T x T), whose cost "
                  "on a GPU with long rows was not measured here, so the default stays separate.", ""]
    return lines
