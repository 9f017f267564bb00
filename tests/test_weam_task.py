"""The weam task on binarized tiny data: pairs found, pair sampling, and one data path for every objective."""
import pytest
import torch

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
        else:  # <s> x </s> y </s>
            row = target[r]
            tokens = batch["net_input"]["src_tokens"][r]
            eos_positions = (tokens == task.dictionary.eos()).nonzero().flatten().tolist()
            x_t, y_t = row[1 : eos_positions[0]], row[eos_positions[0] + 1 :]
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


@pytest.mark.parametrize("other", [("tlm", "separate"), ("mlm", "separate"), ("weam", "concat")])
def test_every_objective_sees_the_same_pairs_and_masks(data, other):
    weam = make_task(data, objective="weam")
    baseline = make_task(data, objective=other[0], input_mode=other[1])
    for a, b in zip(first_batches(weam), first_batches(baseline)):
        assert a["pair"] == b["pair"] and torch.equal(a["line"], b["line"])
        assert per_pair_view(a, weam) == per_pair_view(b, baseline)
        assert len(a["cross_links"]) > 0
        if other[0] != "weam":
            assert len(b["cross_links"]) == 0


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
    """The prefetch thread would still be formatting batches at exit and abort the process (code 134)."""
    task = make_task(data)
    dataset = task.load_dataset("train")
    assert task.get_batch_iterator(dataset, max_sentences=8, num_workers=0, data_buffer_size=10).buffer_size == 0
    assert task.get_batch_iterator(dataset, max_sentences=8, num_workers=1, data_buffer_size=10).buffer_size == 10
