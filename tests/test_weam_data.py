"""Unit tests of the weam pipeline on hand-made items: masks, batch formats, cross-lingual links and loss."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.data import Dictionary

from fairseq_weam.criterions.weam import WeamCriterion, mean_linked_states
from fairseq_weam.data import ObjectiveBatchDataset, mask_segments, pair_sampling_probabilities
from fairseq_weam.text.pieces import word_start_table

WB = "\u2581"


def make_dictionary():
    d = Dictionary()
    for k in range(20):
        d.add_symbol(f"{WB}w{k}")
        d.add_symbol(f"p{k}")
    d.add_symbol("<mask>")
    return d


def test_word_start_table_marks_pieces_beginning_with_boundary():
    d = make_dictionary()
    table = word_start_table(d)
    assert table[d.index(f"{WB}w3")] and not table[d.index("p3")]
    assert table[: d.nspecial].all()


def test_whole_word_masking_masks_all_pieces_of_a_word_or_none():
    d = make_dictionary()
    table, mask_idx = word_start_table(d), d.index("<mask>")
    rng = np.random.default_rng(0)
    random_tokens = np.arange(d.nspecial, mask_idx)
    lines = [[[f"{WB}w{rng.integers(20)}"] + [f"p{rng.integers(20)}" for _ in range(rng.integers(0, 3))]
              for _ in range(rng.integers(1, 8))] for _ in range(300)]
    lines[0][0][0] = "p3"  # a line may start inside a word: its first pieces still make one word
    tokens = np.array([d.index(p) for words in lines for w in words for p in w])
    lengths = [sum(len(w) for w in words) for words in lines]
    out, target = mask_segments(tokens, lengths, np.arange(len(lines)), mask_idx=mask_idx, pad_idx=d.pad(),
                                random_tokens=random_tokens, mask_prob=0.4, leave_unmasked_prob=0.1,
                                random_token_prob=0.1, starts_table=table)
    seen_partial_candidates, start = 0, 0
    for words in lines:
        n_masked = 0
        for w in words:
            span = slice(start, start + len(w))
            masked = target[span] != d.pad()
            assert masked.all() or not masked.any(), (words, target[span])
            as_mask = out[span] == mask_idx
            assert as_mask.all() or not as_mask.any()
            seen_partial_candidates += len(w) > 1 and masked.all()
            n_masked += masked.all()
            start += len(w)
        assert n_masked in (int(0.4 * len(words)), min(len(words), int(0.4 * len(words)) + 1))  # units, not pieces
    masked_positions = target != d.pad()
    assert (target[masked_positions] == tokens[masked_positions]).all()
    assert (out[~masked_positions] == tokens[~masked_positions]).all()
    assert seen_partial_candidates > 20  # multi-piece words were actually masked


def masking_options(d, **overrides):
    mask_idx = d.index("<mask>")
    return dict(dict(mask_idx=mask_idx, pad_idx=d.pad(), random_tokens=np.arange(d.nspecial, mask_idx),
                     mask_prob=0.15, leave_unmasked_prob=0.1, random_token_prob=0.1), **overrides)


def test_piece_masking_rates_follow_80_10_10():
    d = make_dictionary()
    mask_idx = d.index("<mask>")
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 40, size=10_000)
    tokens = rng.integers(d.nspecial, mask_idx, size=int(lengths.sum()))
    out, target = mask_segments(tokens, lengths, np.arange(len(lengths)), **masking_options(d))
    masked = target != d.pad()
    assert abs(masked.mean() - 0.15) < 0.005
    as_mask = (out == mask_idx)[masked].mean()
    unchanged = (out == tokens)[masked].mean()
    assert abs(as_mask - 0.8) < 0.01
    # 10% kept on purpose, plus the random replacements that drew the same piece by chance
    assert abs(unchanged - (0.1 + 0.1 / (mask_idx - d.nspecial))) < 0.01
    assert not (out == mask_idx)[~masked].any()
    replaced = masked & (out != mask_idx) & (out != tokens)
    counts = np.bincount(out[replaced], minlength=mask_idx)[d.nspecial:]
    assert counts.min() > 0.6 * counts.mean()  # every ordinary piece can be drawn, none favoured much
    # each segment masks int(0.15 * n + u) pieces: the integer part or one more, never another count
    per_segment = np.add.reduceat(masked, np.cumsum(lengths) - lengths)
    assert ((per_segment == np.floor(0.15 * lengths)) | (per_segment == np.floor(0.15 * lengths) + 1)).all()
    # the choice of positions is uniform: every position of 20-piece segments is masked about as often
    at_20 = masked[np.concatenate([np.arange(a, a + 20) for a in (np.cumsum(lengths) - lengths)[lengths == 20]])]
    rates = at_20.reshape(-1, 20).mean(axis=0)
    assert np.abs(rates - 0.15).max() < 0.06


def test_a_segment_s_masks_depend_on_its_own_key_only():
    """The masks of a segment are the same alone and among others, in any order (what lets the collater mask a
    whole batch at once while each item's masks stay a function of (seed, epoch, index))."""
    d = make_dictionary()
    rng = np.random.default_rng(2)
    lengths = rng.integers(0, 30, size=50)
    tokens = rng.integers(d.nspecial, d.index("<mask>"), size=int(lengths.sum()))
    keys = rng.integers(0, 2**62, size=50).astype(np.uint64)
    options = masking_options(d, mask_prob=0.3, random_token_prob=0.3)
    out, target = mask_segments(tokens, lengths, keys, **options)
    starts = np.cumsum(lengths) - lengths
    for s in rng.permutation(50)[:10]:
        span = slice(starts[s], starts[s] + lengths[s])
        alone = mask_segments(tokens[span], lengths[s:s + 1], keys[s:s + 1], **options)
        assert np.array_equal(alone[0], out[span]) and np.array_equal(alone[1], target[span])
    order = rng.permutation(50)
    shuffled = np.concatenate([tokens[starts[s]:starts[s] + lengths[s]] for s in order])
    out2, target2 = mask_segments(shuffled, lengths[order], keys[order], **options)
    assert np.array_equal(out2, np.concatenate([out[starts[s]:starts[s] + lengths[s]] for s in order]))
    assert np.array_equal(target2, np.concatenate([target[starts[s]:starts[s] + lengths[s]] for s in order]))
    other = mask_segments(tokens, lengths, keys + np.uint64(1), **options)[1]
    assert not np.array_equal(other, target)


def test_pair_sampling_probabilities_follow_temperature():
    assert np.allclose(pair_sampling_probabilities([100, 900], 1.0), [0.1, 0.9])
    assert np.allclose(pair_sampling_probabilities([100, 900], 0.0), [0.5, 0.5])
    p = pair_sampling_probabilities([100, 900], 0.5)
    assert np.allclose(p, [10 / 40, 30 / 40])


# ---- one hand-made pair: x = 4 pieces, y = 3 pieces ------------------------------------------------
# links: x0-y1, x0-y2 (multi-link), x1-y0, x3-y2; x2 is unaligned. Masked: x0, x2, y0, y2.
X = [10, 11, 12, 13]
Y = [20, 21, 22]
LINKS = [(0, 1), (0, 2), (1, 0), (3, 2)]
MASKED_X, MASKED_Y = [0, 2], [0, 2]


def hand_made_item(d):
    pad, mask_idx = d.pad(), d.index("<mask>")

    def side(tokens, masked):
        tokens = torch.tensor(tokens)
        target = torch.full_like(tokens, pad)
        target[masked] = tokens[masked]
        out = tokens.clone()
        out[masked] = mask_idx
        return out, target

    x_masked, x_target = side(X, MASKED_X)
    y_masked, y_target = side(Y, MASKED_Y)
    return {"id": 0, "pair": "en-de", "line": 5, "x": torch.tensor(X), "y": torch.tensor(Y), "y_first": False,
            "links": torch.tensor(LINKS), "x_masked": x_masked, "x_target": x_target,
            "y_masked": y_masked, "y_target": y_target}


def collate(objective, input_mode="separate"):
    d = make_dictionary()
    dataset = ObjectiveBatchDataset([hand_made_item(d)], d, objective, input_mode, shuffle=False)
    return d, dataset.collater([hand_made_item(d)])


def test_separate_batch_has_x_and_y_rows_and_links_both_ways():
    d, batch = collate("weam", "separate")
    m, p, bos, eos = d.index("<mask>"), d.pad(), d.bos(), d.eos()
    assert batch["net_input"]["src_tokens"].tolist() == [[bos, m, 11, m, 13, eos], [bos, m, 21, m, eos, p]]
    assert batch["target"].tolist() == [[p, 10, p, 12, p, p], [p, 20, p, 22, p, p]]
    # width 6: x piece i at 1 + i, y piece j at 6 + 1 + j
    expected = {(1, 8), (1, 9),  # masked x0 <- y1, y2 (multi-link)
                (7, 2),  # masked y0 <- x1
                (9, 1), (9, 4)}  # masked y2 <- x0, x3 ; masked x2 is unaligned: nothing
    assert set(map(tuple, batch["cross_links"].tolist())) == expected
    assert len(batch["cross_links"]) == len(expected)


def test_concat_batch_shifts_y_links_past_x():
    d, batch = collate("weam", "concat")
    m, p, bos, eos = d.index("<mask>"), d.pad(), d.bos(), d.eos()
    assert batch["net_input"]["src_tokens"].tolist() == [[bos, m, 11, m, 13, eos, m, 21, m, eos]]
    assert batch["target"].tolist() == [[p, 10, p, 12, p, p, 20, p, 22, p]]
    # y piece j at 1 + |x| + 1 + j = 6 + j
    assert set(map(tuple, batch["cross_links"].tolist())) == {(1, 7), (1, 8), (6, 2), (8, 1), (8, 4)}


def test_tlm_and_mlm_batches_have_no_cross_links():
    d, tlm = collate("tlm")
    _, weam_concat = collate("weam", "concat")
    assert torch.equal(tlm["net_input"]["src_tokens"], weam_concat["net_input"]["src_tokens"])
    assert tlm["cross_links"].shape == (0, 2)
    _, mlm = collate("mlm")
    _, weam_separate = collate("weam", "separate")
    assert torch.equal(mlm["net_input"]["src_tokens"], weam_separate["net_input"]["src_tokens"])
    assert torch.equal(mlm["target"], weam_separate["target"])
    assert mlm["cross_links"].shape == (0, 2)


def test_mean_linked_states_averages_every_linked_piece():
    features = torch.arange(2 * 6 * 3, dtype=torch.float).view(2, 6, 3)
    links = torch.tensor([[1, 8], [1, 9], [7, 2]])
    flat = features.view(-1, 3)
    states = mean_linked_states(flat, links[:, 1], torch.tensor([0, 0, 1]), torch.tensor([2, 1]))
    assert torch.allclose(states[0], (flat[8] + flat[9]) / 2)
    assert torch.allclose(states[1], flat[2])


def test_collater_lists_the_queries_and_counts_on_the_cpu():
    d, batch = collate("weam", "separate")
    flat_target = batch["target"].view(-1)
    assert batch["ml_positions"].tolist() == [i for i, t in enumerate(flat_target.tolist()) if t != d.pad()]
    assert batch["ml_tokens"] == 4 and isinstance(batch["ml_tokens"], int)
    queries = batch["cross_queries"]
    assert queries.tolist() == sorted({q for q, _ in batch["cross_links"].tolist()})
    assert torch.equal(queries[batch["cross_slot"]], batch["cross_links"][:, 0])
    assert batch["cl_tokens"] == 3 and isinstance(batch["cl_tokens"], int)


class StubModel(torch.nn.Module):
    """Returns fixed features; the LM head is one linear layer, so every loss can be computed by hand."""

    def __init__(self, features, vocab):
        super().__init__()
        self.features = features
        self.encoder = self
        self.head = torch.nn.Linear(features.size(-1), vocab)

    def forward(self, src_tokens, features_only=True):
        assert features_only and src_tokens.shape == self.features.shape[:2]
        return self.features, {}

    def output_layer(self, features, masked_tokens=None):
        return self.head(features if masked_tokens is None else features[masked_tokens])


def masked_cross_entropy(model, features, target, pad):
    """Independent: the masked positions are read off the target here, the loss taken position by position."""
    flat, flat_target = features.view(-1, features.size(-1)), target.view(-1)
    terms = [F.cross_entropy(model.head(flat[i]).unsqueeze(0), flat_target[i].view(1))
             for i in range(len(flat_target)) if flat_target[i] != pad]
    return torch.stack(terms)


@pytest.mark.parametrize("cl_weight", [1.0, 0.5])
def test_criterion_loss_is_mean_ml_plus_lambda_mean_cl(cl_weight):
    torch.manual_seed(0)
    d, batch = collate("weam", "separate")
    features = torch.randn(2, 6, 8)
    model = StubModel(features, len(d))
    criterion = WeamCriterion(SimpleNamespace(target_dictionary=d), cl_weight=cl_weight)
    loss, sample_size, log = criterion(model, batch)

    flat = features.view(-1, 8)
    ce = lambda h, t: F.cross_entropy(model.head(h).unsqueeze(0), torch.tensor([t]))
    # multilingual: the four masked pieces, each from its own state
    ml = masked_cross_entropy(model, features, batch["target"], d.pad()).detach()
    assert len(ml) == 4
    assert torch.allclose(ml, torch.stack([ce(flat[1], 10), ce(flat[3], 12), ce(flat[7], 20), ce(flat[9], 22)]))
    # cross-lingual: x0 from mean(y1, y2); y0 from x1; y2 from mean(x0, x3); x2 (unaligned) nothing
    cl = torch.stack([ce((flat[8] + flat[9]) / 2, 10), ce(flat[2], 20), ce((flat[1] + flat[4]) / 2, 22)]).detach()
    assert sample_size == 4 and log["ml_tokens"] == 4 and log["cl_tokens"] == 3
    assert torch.allclose(log["ml_loss"], ml.sum().detach(), atol=1e-5)
    assert torch.allclose(log["cl_loss"], cl.sum().detach(), atol=1e-5)
    # what fairseq optimizes: loss / sample_size = mean_ml + λ·mean_cl, each over its own pieces
    assert torch.allclose(loss / sample_size, (ml.mean() + cl_weight * cl.mean()).detach(), atol=1e-5)

    with metrics.aggregate() as agg:
        WeamCriterion.reduce_metrics([log])
    logged = agg.get_smoothed_values()
    bits = math.log(2)
    assert logged["ml_loss"] == pytest.approx(float(ml.mean()) / bits, abs=1e-3)
    assert logged["cl_loss"] == pytest.approx(float(cl.mean()) / bits, abs=1e-3)
    assert logged["loss"] == pytest.approx(float(ml.mean() + cl_weight * cl.mean()) / bits, abs=1e-3)


def test_logged_loss_over_two_batches_uses_global_means_per_term():
    torch.manual_seed(1)
    d, batch = collate("weam", "separate")
    criterion = WeamCriterion(SimpleNamespace(target_dictionary=d), cl_weight=0.5)
    logs, ml_terms, cl_terms = [], [], []
    for _ in range(2):
        model = StubModel(torch.randn(2, 6, 8), len(d))
        logs.append(criterion(model, batch)[2])
        ml_terms.append(float(logs[-1]["ml_loss"]))
        cl_terms.append(float(logs[-1]["cl_loss"]))
    with metrics.aggregate() as agg:
        WeamCriterion.reduce_metrics(logs)
    logged = agg.get_smoothed_values()
    expected = (sum(ml_terms) / 8 + 0.5 * sum(cl_terms) / 6) / math.log(2)
    assert logged["loss"] == pytest.approx(expected, abs=1e-3)


def test_criterion_logs_the_same_keys_for_every_objective():
    torch.manual_seed(0)
    keys = set()
    for objective in ("weam", "tlm", "mlm"):
        d, batch = collate(objective)
        features = torch.randn(*batch["net_input"]["src_tokens"].shape, 8)
        criterion = WeamCriterion(SimpleNamespace(target_dictionary=d))
        _, _, log = criterion(StubModel(features, len(d)), batch)
        keys.add(tuple(sorted(log)))
        if objective != "weam":
            assert log["cl_tokens"] == 0 and float(log["cl_loss"]) == 0.0
            assert math.isclose(float(log["loss"]), float(log["ml_loss"]))
    assert len(keys) == 1
    assert WeamCriterion.logging_outputs_can_be_summed()


def test_checkpoint_with_another_vocabulary_is_refused_for_both_flags(tmp_path):
    from fairseq_weam.tasks.weam import EMBEDDING_KEY, WeamConfig, WeamTask

    checkpoint = tmp_path / "model.pt"
    torch.save({"model": {EMBEDDING_KEY: torch.zeros(10, 4)}}, checkpoint)
    for flags in ({"finetune_from_model": str(checkpoint)}, {"restore_file": str(checkpoint)}):
        cfg = WeamConfig(data=str(tmp_path), **{"finetune_from_model": None, "restore_file": "checkpoint_last.pt",
                                                **flags})
        with pytest.raises(ValueError, match=r"has 10 token embeddings.*gives 12 types"):
            WeamTask.check_checkpoint_vocabulary(cfg, "DATA/dict.txt", 12)
        WeamTask.check_checkpoint_vocabulary(cfg, "DATA/dict.txt", 10)  # same size: accepted


def tiny_roberta(d):
    from argparse import Namespace

    from fairseq.models.roberta import RobertaModel
    from fairseq.models.roberta.model import base_architecture

    args = Namespace(encoder_layers=1, encoder_embed_dim=16, encoder_ffn_embed_dim=32, encoder_attention_heads=2,
                     max_positions=32)
    base_architecture(args)
    torch.manual_seed(0)
    return RobertaModel.build_model(args, SimpleNamespace(source_dictionary=d)).eval()


def test_reset_positions_change_the_position_ids_the_model_sees():
    from fairseq_weam.criterions.encoder_inputs import given_positions

    d = make_dictionary()
    item = hand_made_item(d)
    batch = ObjectiveBatchDataset([item], d, "tlm", reset_positions=True, shuffle=False).collater([item])
    tokens, positions = batch["net_input"]["src_tokens"], batch["net_input"]["positions"]
    # <s> x0..x3 </s> | y0..y2 </s>: pad = 1, so fairseq numbers <s> 2; y0 restarts at 3, as x0
    assert positions.tolist() == [[2, 3, 4, 5, 6, 7, 3, 4, 5, 6]]
    model = tiny_roberta(d)
    encoder = model.encoder.sentence_encoder
    with torch.no_grad():
        with given_positions(model, positions):
            embedded, token_part = encoder.forward_embedding(tokens)
            reset_features = model(tokens, features_only=True)[0]
        expected = encoder.layernorm_embedding(token_part + encoder.embed_positions.weight[positions])
        assert torch.allclose(embedded, expected, atol=1e-6)
        default = model(tokens, features_only=True)[0]
        assert not torch.allclose(reset_features, default)
        with given_positions(model, torch.arange(2, 12).unsqueeze(0)):  # fairseq's own numbering
            assert torch.allclose(model(tokens, features_only=True)[0], default, atol=1e-6)
    assert not encoder.embed_positions._forward_hooks


def test_criterion_on_a_real_model_matches_cross_entropy_over_the_masked_positions():
    d, batch = collate("weam", "concat")
    model = tiny_roberta(d)
    criterion = WeamCriterion(SimpleNamespace(target_dictionary=d), cl_weight=0.7)
    with torch.no_grad():
        loss, sample_size, log = criterion(model, batch)
        logits, _ = model(batch["net_input"]["src_tokens"])
        target = batch["target"]
        ml = F.cross_entropy(logits[target.ne(d.pad())], target[target.ne(d.pad())])
        flat = model(batch["net_input"]["src_tokens"], features_only=True)[0].view(-1, 16)
        # concat row: x piece i at 1 + i, y piece j at 6 + j; x0 <- y1, y2; y0 <- x1; y2 <- x0, x3
        exchanged = torch.stack([(flat[7] + flat[8]) / 2, flat[2], (flat[1] + flat[4]) / 2])
        cl = F.cross_entropy(model.encoder.output_layer(exchanged), torch.tensor([10, 20, 22]))
    assert float(loss / sample_size) == pytest.approx(float(ml + 0.7 * cl), abs=1e-5)


def test_two_micro_batches_give_the_gradient_of_one_batch_of_both():
    """fairseq sums the micro-batch losses and divides by the summed sample_size (--update-freq 2); with
    micro-batches of one and two pairs, per-batch means (sample_size 1) would weight the first pair double."""
    torch.manual_seed(2)
    d = make_dictionary()
    items = [dict(hand_made_item(d), id=k) for k in range(3)]
    dataset = ObjectiveBatchDataset(items, d, "weam", "separate", shuffle=False)
    small, large, all_three = dataset.collater(items[:1]), dataset.collater(items[1:]), dataset.collater(items)
    fa, fb = torch.randn(2, 6, 8), torch.randn(4, 6, 8)
    head = torch.nn.Linear(8, len(d))
    criterion = WeamCriterion(SimpleNamespace(target_dictionary=d), cl_weight=0.5)

    def gradient(pieces):
        head.zero_grad()
        total, size = 0.0, 0
        for batch, features in pieces:
            model = StubModel(features, len(d))
            model.head = head
            loss, sample_size, _ = criterion(model, batch)
            total, size = total + loss, size + sample_size
        (total / size).backward()
        return head.weight.grad.clone()

    micro = gradient([(small, fa), (large, fb)])
    single = gradient([(all_three, torch.stack([fa[0], fb[0], fb[1], fa[1], fb[2], fb[3]]))])
    assert torch.allclose(micro, single, atol=1e-6)


def test_packed_batch_is_one_row_with_a_second_bos_restarting_positions():
    d, batch = collate("weam", "packed")
    m, p, bos, eos = d.index("<mask>"), d.pad(), d.bos(), d.eos()
    net_input = batch["net_input"]
    assert net_input["src_tokens"].tolist() == [[bos, m, 11, m, 13, eos, bos, m, 21, m, eos]]
    assert net_input["positions"].tolist() == [[2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6]]  # pad = 1: <s> is 2, both times
    assert net_input["blocks_from"].tolist() == [6]
    # x piece i at 1 + i, y piece j at 7 + j
    assert set(map(tuple, batch["cross_links"].tolist())) == {(1, 8), (1, 9), (7, 2), (9, 1), (9, 4)}
    assert batch["ntokens"] == 11


def random_items(d, n, seed=0):
    """``n`` masked pairs of random lengths (1 to 9 pieces a side) and random links, masks in the items."""
    g = torch.Generator().manual_seed(seed)
    symbols, mask_idx, pad = torch.arange(d.nspecial, len(d) - 1), d.index("<mask>"), d.pad()
    items = []
    for k in range(n):
        item = {"id": k, "pair": "en-de", "line": k, "y_first": False}
        for side in ("x", "y"):
            length = int(torch.randint(1, 10, (1,), generator=g))
            tokens = symbols[torch.randint(len(symbols), (length,), generator=g)]
            masked = torch.rand(length, generator=g) < 0.4
            masked[0] = True
            item[side], item[f"{side}_masked"] = tokens, tokens.masked_fill(masked, mask_idx)
            item[f"{side}_target"] = torch.full_like(tokens, pad).masked_scatter(masked, tokens[masked])
        links = torch.stack([torch.randint(len(item["x"]), (4,), generator=g),
                             torch.randint(len(item["y"]), (4,), generator=g)], dim=1)
        item["links"] = torch.unique(links, dim=0)
        items.append(item)
    return items


def test_packed_rows_give_each_sentence_the_states_it_has_alone_and_the_loss_of_separate_rows():
    """Packed rows (<s> x </s> <s> y </s>, attention within each sentence, positions restarting) are the same
    method as two rows: every piece's final state equals that of its sentence encoded alone, and the weam loss
    equals the separate format's, on pairs of different lengths (padding in both formats)."""
    d = make_dictionary()
    items = random_items(d, 6)
    model = tiny_roberta(d)
    criterion = WeamCriterion(SimpleNamespace(target_dictionary=d), cl_weight=0.7)
    packed = ObjectiveBatchDataset(items, d, "weam", "packed", shuffle=False).collater(items)
    separate = ObjectiveBatchDataset(items, d, "weam", "separate", shuffle=False).collater(items)
    bos, eos = d.bos(), d.eos()
    with torch.no_grad():
        from fairseq_weam.criterions.encoder_inputs import encoder_inputs

        with encoder_inputs(model, packed["net_input"]):
            states = model(packed["net_input"]["src_tokens"], features_only=True)[0]
        for r, item in enumerate(items):
            lx, ly = len(item["x"]), len(item["y"])
            for side, start, length in (("x", 0, lx), ("y", lx + 2, ly)):
                alone = torch.cat([torch.tensor([bos]), item[f"{side}_masked"], torch.tensor([eos])]).unsqueeze(0)
                expected = model(alone, features_only=True)[0][0]
                assert torch.allclose(states[r, start:start + length + 2], expected, atol=1e-5)
        loss_packed, size_packed, log_packed = criterion(model, packed)
        loss_separate, size_separate, log_separate = criterion(model, separate)
    assert size_packed == size_separate and log_packed["cl_tokens"] == log_separate["cl_tokens"] > 0
    assert float(loss_packed) == pytest.approx(float(loss_separate), abs=1e-4)
    layers = model.encoder.sentence_encoder.layers
    assert not any(layer._forward_pre_hooks for layer in layers)  # the hooks are gone after the step


def test_packed_pairs_cost_one_row_in_the_padded_batch():
    from fairseq_weam.data.objective_batch_dataset import pair_costs, row_layout

    assert [row_layout(o, "packed") for o in ("weam", "mlm", "tlm", "contrastive")] == \
        ["packed", "packed", "concat", "rows"]

    lx, ly = np.array([3, 10]), np.array([5, 2])
    assert pair_costs(lx, ly, {"packed"}).tolist() == [12, 16]
    assert pair_costs(lx, ly, {"rows"}).tolist() == [14, 24]
    assert pair_costs(lx, ly, {"concat", "packed"}).tolist() == [12, 16]
    assert pair_costs(lx, ly, {"rows", "concat"}).tolist() == [14, 24]
