"""The weam task on binarized tiny data: pairs found, pair sampling, and one data path for every objective."""
import argparse

import pytest
import torch
from fairseq.tasks import FairseqTask

from fairseq_weam.tasks.weam import WeamConfig, WeamTask, find_lang_pairs
from weam_pair_data import make_aligned_data

pytestmark = pytest.mark.slow  # binarizes two pairs with fairseq-preprocess (a few seconds)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_aligned_data(tmp_path_factory.mktemp("weam_task"), pairs=("en-de", "en-fr"), n_train=120)


def make_task(data, **overrides):
    cfg = WeamConfig(data=str(data), seed=7, train_subset="train", finetune_from_model=None,
                     restore_file="checkpoint_last.pt", tokens_per_sample=64, **overrides)
    return WeamTask.setup_task(cfg)


def first_batches(task, split="train", n=4, epoch=1):
    dataset = task.load_dataset(split, epoch=epoch)
    iterator = task.get_batch_iterator(dataset, max_sentences=8, max_positions=task.max_positions(),
                                       seed=7, epoch=epoch)
    batches = iterator.next_epoch_itr(shuffle=True)
    return [next(batches) for _ in range(n)]


def per_pair_view(batch, task):
    """(pair, line, masked x tokens with positions, masked y tokens with positions) per example."""
    pad, target, B = task.dictionary.pad(), batch["target"], batch["nsentences"]
    views = []
    for r in range(B):
        if target.size(0) == 2 * B:  # separate rows
            x_t, y_t = target[r], target[B + r]
            x_len = int(batch["net_input"]["src_lengths"][r]) - 2
            x_t, y_t = x_t[1 : 1 + x_len], y_t[1:]
        else:  # <s> x </s> y </s>, or <s> y </s> x </s> when y_first
            row = target[r]
            tokens = batch["net_input"]["src_tokens"][r]
            eos_positions = (tokens == task.dictionary.eos()).nonzero().flatten().tolist()
            x_t, y_t = row[1 : eos_positions[0]], row[eos_positions[0] + 1 :]
            if batch["y_first"][r]:
                x_t, y_t = y_t, x_t
        masked = lambda t: [(i, int(v)) for i, v in enumerate(t.tolist()) if v != pad]
        views.append((batch["pair"][r], int(batch["line"][r]), masked(x_t), masked(y_t)))
    return views


def test_finds_every_binarized_pair(data):
    assert find_lang_pairs(data, "train") == ["en-de", "en-fr"]
    assert make_task(data).lang_pairs("valid") == ["en-de", "en-fr"]
    with pytest.raises(FileNotFoundError, match="en-xx"):
        make_task(data, lang_pairs="en-de,en-xx").lang_pairs("train")


def test_mask_token_is_added_to_the_dictionary(data):
    task = make_task(data)
    assert task.dictionary[task.mask_idx] == "<mask>" and task.mask_idx == len(task.dictionary) - 1


def epoch_views(task, epoch=1, dataset=None):
    """{id: per-pair view} over one whole epoch of batches (max_sentences 8) of ``dataset`` (default: loaded anew)."""
    dataset = dataset or task.load_dataset("train", epoch=epoch)
    iterator = task.get_batch_iterator(dataset, max_sentences=8, max_positions=task.max_positions(), seed=7,
                                       epoch=epoch)
    views = {}
    for batch in iterator.next_epoch_itr(shuffle=True):
        views.update(zip(batch["id"].tolist(), per_pair_view(batch, task)))
    return views


@pytest.mark.parametrize("other", [("tlm", "separate"), ("mlm", "separate"), ("weam", "concat")])
def test_every_objective_sees_the_same_pairs_and_masks(data, other):
    # ordered by |x| + |y|, every objective has the same batches, pair by pair
    weam = make_task(data, objective="weam", order_by_pair_length=True)
    baseline = make_task(data, objective=other[0], input_mode=other[1], order_by_pair_length=True)
    for a, b in zip(first_batches(weam), first_batches(baseline)):
        assert a["pair"] == b["pair"] and torch.equal(a["line"], b["line"])
        assert per_pair_view(a, weam) == per_pair_view(b, baseline)
        assert len(a["cross_links"]) > 0
        if other[0] != "weam":
            assert len(b["cross_links"]) == 0
    # ordered by padded cost (the default), two-row and one-row formats batch differently, but over an epoch every
    # objective sees every pair with the same masks, whatever batch it lands in
    weam_views = epoch_views(make_task(data, objective="weam"))
    other_views = epoch_views(make_task(data, objective=other[0], input_mode=other[1]))
    assert len(weam_views) == len(make_task(data).load_dataset("train")) and weam_views == other_views


def test_masks_depend_on_seed_epoch_and_index_only(data):
    """An item's masks are the same in its training batch, collated alone, and after a resume (epoch 2, back to 1);
    they change with the epoch."""
    task = make_task(data)
    batch = first_batches(task, n=1)[0]
    dataset = task.dataset("train")
    for r, index in enumerate(batch["id"].tolist()[:5]):
        alone = dataset.collater([dataset[index]])
        assert per_pair_view(alone, task)[0] == per_pair_view(batch, task)[r]
    used = make_task(data)
    dataset = used.load_dataset("train")
    epoch_views(used, epoch=2, dataset=dataset)  # masks drawn before do not change those drawn after
    assert epoch_views(used, epoch=1, dataset=dataset) == epoch_views(make_task(data))
    assert epoch_views(make_task(data), epoch=2) != epoch_views(make_task(data), epoch=1)


def test_different_seeds_give_different_masks(data):
    a = first_batches(make_task(data))[0]
    other = make_task(data)
    other.cfg.seed = 8
    b = first_batches(other)[0]
    assert per_pair_view(a, make_task(data)) != per_pair_view(b, other)


def test_temperature_sampling_upsamples_the_smaller_pair(data):
    task = make_task(data, pair_sampling_alpha=0.0)
    dataset = task.load_dataset("train")
    pairs = [dataset[i]["pair"] for i in range(len(dataset))]
    # sizes 120 and 113: alpha 0 -> uniform over pairs, each about half of the epoch
    assert abs(pairs.count("en-fr") - len(pairs) / 2) <= 1
    valid = task.load_dataset("valid")
    assert [valid[i]["pair"] for i in range(len(valid))].count("en-fr") == 48 - 7


def test_resampling_changes_with_the_epoch(data):
    task = make_task(data, pair_sampling_alpha=0.0)
    dataset = task.load_dataset("train", epoch=1)
    dataset.set_epoch(1)
    first = [(dataset[i]["pair"], dataset[i]["line"]) for i in range(len(dataset))]
    dataset.set_epoch(2)
    second = [(dataset[i]["pair"], dataset[i]["line"]) for i in range(len(dataset))]
    assert first != second


def test_sides_are_cut_so_that_the_pair_fits(data):
    task = make_task(data)
    task.cfg.tokens_per_sample = 11  # each side at most 4 pieces
    dataset = task.load_dataset("train")
    for i in range(20):
        item = dataset[i]
        assert len(item["x"]) <= 4 and len(item["y"]) <= 4
        assert (item["links"][:, 0] < len(item["x"])).all() and (item["links"][:, 1] < len(item["y"])).all()
    assert max(dataset.sizes) <= 11


def test_no_prefetch_thread_without_dataloader_workers(data):
    """The prefetch thread would still be formatting batches at exit and abort the process (code 134), in
    the weam task and in fairseq's own tasks (masked_lm, sentence_prediction) run with the plugin."""
    task = make_task(data)
    dataset = task.load_dataset("train")
    assert task.get_batch_iterator(dataset, max_sentences=8, num_workers=0, data_buffer_size=10).buffer_size == 0
    assert task.get_batch_iterator(dataset, max_sentences=8, num_workers=1, data_buffer_size=10).buffer_size == 10
    plain = FairseqTask(argparse.Namespace())  # what fairseq's own tasks inherit
    assert plain.get_batch_iterator(dataset, max_sentences=8, num_workers=0, data_buffer_size=10).buffer_size == 0
    assert plain.get_batch_iterator(dataset, max_sentences=8, num_workers=1, data_buffer_size=10).buffer_size == 10


@pytest.mark.parametrize("objective,mode", [("tlm", "separate"), ("weam", "concat")])
def test_one_row_formats_present_each_pair_in_both_orders(data, objective, mode):
    task = make_task(data, objective=objective, input_mode=mode)
    dataset = task.load_dataset("train", epoch=1)
    indices = range(len(dataset))
    orders = dataset.pair_orders(indices).tolist()
    assert 0.4 < sum(orders) / len(orders) < 0.6, sum(orders) / len(orders)
    again = make_task(data, objective=objective, input_mode=mode).load_dataset("train", epoch=1)
    assert again.pair_orders(indices).tolist() == orders  # same seed and epoch: same orders
    dataset.set_epoch(2)
    assert dataset.pair_orders(indices).tolist() != orders
    dataset.set_epoch(1)
    # the row really starts with y: after <s> come the pieces of y (masked), then </s>
    batch = first_batches(task, n=1)[0]
    assert batch["y_first"].tolist() == dataset.pair_orders(batch["id"]).tolist()
    eos = task.dictionary.eos()
    for r in range(batch["nsentences"]):
        item = dataset[int(batch["id"][r])]
        first = item["y"] if batch["y_first"][r] else item["x"]
        row, target = batch["net_input"]["src_tokens"][r], batch["target"][r]
        original = torch.where(target[1 : 1 + len(first)] != task.dictionary.pad(), target[1 : 1 + len(first)],
                               row[1 : 1 + len(first)])
        assert torch.equal(original, first) and row[1 + len(first)] == eos


def test_fixed_pair_order_keeps_l1_first(data):
    task = make_task(data, objective="tlm", fixed_pair_order=True)
    batch = first_batches(task, n=1)[0]
    assert not batch["y_first"].any()


def test_reset_positions_restart_at_the_second_sentence(data):
    task = make_task(data, objective="tlm", reset_positions=True)
    pad, eos = task.dictionary.pad(), task.dictionary.eos()
    batch = first_batches(task, n=1)[0]
    tokens, positions = batch["net_input"]["src_tokens"], batch["net_input"]["positions"]
    for r in range(len(tokens)):
        row = [t for t in tokens[r].tolist() if t != pad]
        first_eos = row.index(eos)
        expected = [pad + 1 + t for t in range(first_eos + 1)] + [pad + 2 + k for k in range(len(row) - first_eos - 1)]
        expected += [pad] * (tokens.size(1) - len(row))
        assert positions[r].tolist() == expected
    assert "positions" not in first_batches(make_task(data, objective="tlm"), n=1)[0]["net_input"]


@pytest.mark.parametrize("objective,mode", [("weam", "separate"), ("mlm", "separate"), ("tlm", "separate"),
                                            ("weam", "concat"), ("weam", "packed"), ("mlm", "packed")])
def test_max_tokens_bounds_the_padded_batch_tensor(data, objective, mode):
    task = make_task(data, objective=objective, input_mode=mode)
    dataset = task.load_dataset("train")
    max_tokens = 120
    iterator = task.get_batch_iterator(dataset, max_tokens=max_tokens, max_positions=task.max_positions(), seed=7)
    sizes = [batch["net_input"]["src_tokens"].numel() for batch in iterator.next_epoch_itr(shuffle=False)]
    assert sizes and max(sizes) <= max_tokens, (max(sizes), max_tokens)
    assert sum(sizes) / len(sizes) > max_tokens / 2  # batches are filled, not cut to tiny pieces


def test_load_aligned_pairs_reads_the_raw_pairs_and_links(data):
    from fairseq_weam.data.aligned_pair_dataset import PairDataError, load_aligned_pairs, load_dictionary

    dictionary = load_dictionary(data)
    dataset = load_aligned_pairs(data, "valid", "en-fr", dictionary, max_pieces=100)
    raw = data.parent / "raw"
    x_lines = (raw / "valid.en-fr.en").read_text(encoding="utf-8").splitlines()
    y_lines = (raw / "valid.en-fr.fr").read_text(encoding="utf-8").splitlines()
    links = (raw / "valid.en-fr.align").read_text(encoding="utf-8").splitlines()
    assert len(dataset) == len(x_lines) == 41
    for i in (0, 17, 40):
        item = dataset[i]
        assert dictionary.string(item["x"]) == x_lines[i] and dictionary.string(item["y"]) == y_lines[i]
        assert [f"{a}-{b}" for a, b in item["links"].tolist()] == links[i].split()
    with pytest.raises(PairDataError, match=r"valid\.en-xx\.en\.bin/\.idx not found"):
        load_aligned_pairs(data, "valid", "en-xx", dictionary, max_pieces=100)


@pytest.mark.parametrize("split", ["train", "valid"])
def test_batching_reads_the_token_counts_as_one_array(data, split, monkeypatch):
    """Two pairs (resampled and concatenated for train, concatenated for valid): fairseq's batch_by_size gets
    num_tokens_vec, equal to the per-index counts, and never calls num_tokens per index."""
    from fairseq_weam.data import AlignedPairDataset

    task = make_task(data)
    dataset = task.load_dataset(split)
    indices = dataset.ordered_indices()
    per_index = [dataset.num_tokens(i) for i in indices]
    assert dataset.num_tokens_vec(indices).tolist() == per_index

    def per_index_call(self, index):
        raise AssertionError("batching called num_tokens per index")

    monkeypatch.setattr(AlignedPairDataset, "num_tokens", per_index_call)
    iterator = task.get_batch_iterator(dataset, max_tokens=150, max_positions=task.max_positions(), seed=7)
    assert sum(len(b) for b in iterator.frozen_batches) == len(indices)


@pytest.mark.parametrize("objective,mode", [("weam", "separate"), ("tlm", "separate"), ("weam", "concat"),
                                            ("weam", "packed")])
def test_ordering_by_padded_cost_pads_less_and_keeps_every_pair(data, objective, mode):
    def epoch(**flags):
        task = make_task(data, objective=objective, input_mode=mode, **flags)
        dataset = task.load_dataset("train")
        iterator = task.get_batch_iterator(dataset, max_tokens=150, max_positions=task.max_positions(), seed=7)
        batches = list(iterator.next_epoch_itr(shuffle=False))
        cells = sum(b["net_input"]["src_tokens"].numel() for b in batches)
        real = sum(b["ntokens"] for b in batches)
        pairs = [[(p, int(line)) for p, line in zip(b["pair"], b["line"])] for b in batches]
        return cells / real, pairs

    length_cells, length_pairs = epoch(order_by_pair_length=True)
    cost_cells, cost_pairs = epoch()  # the default
    assert sorted(sum(cost_pairs, [])) == sorted(sum(length_pairs, []))
    if mode == "separate" and objective != "tlm":  # two rows a pair: the cost is 2 * (max(|x|, |y|) + 2)
        assert cost_cells < length_cells, (cost_cells, length_cells)
    else:  # one row a pair: its cost is |x| + |y| + 3 (+ 1 packed), the same order and batches
        assert cost_pairs == length_pairs
