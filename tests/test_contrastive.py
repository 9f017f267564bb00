"""--objective contrastive: InfoNCE over in-batch negatives, checked against a hand computation (numpy), alone and
added to WEAM by --contrastive-weight."""
import numpy as np
import pytest
import torch

from fairseq_weam.criterions.contrastive_loss import info_nce
from fairseq_weam.criterions.weam import WeamCriterion
from fairseq_weam.tasks.weam import WeamConfig, WeamTask
from contrastive_testing import aligned_data, tiny_model


def numpy_info_nce(x, y, temperature):
    """Summed -log softmax of the own translation over the 2B queries (x -> y rows, then y -> x)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    s = x @ y.T / temperature
    total = 0.0
    for i in range(len(s)):
        total += -s[i, i] + np.log(np.exp(s[i]).sum())        # query x_i against every y
        total += -s[i, i] + np.log(np.exp(s[:, i]).sum())     # query y_i against every x
    return total


def test_info_nce_of_three_pairs_matches_the_hand_computation():
    x = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    y = np.array([[2.0, 0.1], [0.5, 1.0], [-1.0, 1.0]])
    # by hand for τ = 1: cos(x0, y0) = 0.99875, cos(x0, y1) = 0.44721, cos(x0, y2) = -0.70711, so the x0 query
    # costs -0.99875 + log(2.71489 + 1.56390 + 0.49307) = -0.99875 + 1.56274 = 0.56399
    s0 = np.array([0.99875, 0.44721, -0.70711])
    assert -s0[0] + np.log(np.exp(s0).sum()) == pytest.approx(0.56399, abs=1e-4)
    for temperature in (1.0, 0.1):
        loss, correct = info_nce(torch.tensor(x), torch.tensor(y), temperature)
        assert float(loss) == pytest.approx(numpy_info_nce(x, y, temperature), rel=1e-6)
        # x0 -> y0, x1 -> y1, x2 -> y2? cos(x2, y0) = 0.74, cos(x2, y1) = 0.95 > cos(x2, y2) = 0: miss;
        # y0 -> x0, y1 -> x1 (0.89 vs x2 0.95: miss), y2 -> x2 (0 vs x1 0.71: miss)
        assert int(correct) == 3


@pytest.fixture(scope="module")
def setting():
    data = aligned_data()

    def task_for(**overrides):
        cfg = WeamConfig(data=str(data), seed=3, train_subset="train", finetune_from_model=None,
                         restore_file="checkpoint_last.pt", tokens_per_sample=64, **overrides)
        task = WeamTask.setup_task(cfg)
        task.load_dataset("valid")
        return task

    task = task_for(objective="contrastive")
    return task_for, task, tiny_model(task)


def test_contrastive_batch_loss_is_infonce_of_the_pooled_unmasked_pairs(setting):
    task_for, task, model = setting
    dataset = task.datasets["valid"]
    items = [dataset[i] for i in range(3)]
    batch = dataset.collater(items)
    tokens = batch["net_input"]["src_tokens"]
    bos, eos, pad = task.dictionary.bos(), task.dictionary.eos(), task.dictionary.pad()
    for r, item in enumerate(items):  # rows 0..2 are <s> x </s>, 3..5 <s> y </s>, unmasked
        for row, side in ((tokens[r], item["x"]), (tokens[3 + r], item["y"])):
            assert row[row.ne(pad)].tolist() == [bos, *side.tolist(), eos]
    for pooling in ("mean", "cls"):
        criterion = WeamCriterion(task, contrastive_temperature=0.5, contrastive_pooling=pooling)
        with torch.no_grad():
            loss, sample_size, log = criterion(model, batch)
            states = model(tokens, features_only=True)[0].numpy()
        keep = tokens.ne(pad).numpy()[:, :, None]
        vectors = states[:, 0] if pooling == "cls" else (states * keep).sum(1) / keep.sum(1)
        expected = numpy_info_nce(vectors[:3].astype(np.float64), vectors[3:].astype(np.float64), 0.5)
        assert sample_size == 6 and log["ctr_queries"] == 6
        assert float(loss) == pytest.approx(expected, rel=1e-4)


def test_contrastive_weight_adds_the_weighted_contrastive_mean_to_weam(setting):
    task_for, contrastive_task, model = setting
    alone, summed = task_for(objective="weam"), task_for(objective="weam", contrastive_weight=0.7)
    ids = [0, 1, 2, 3]
    criterion = WeamCriterion(summed)
    with torch.no_grad():
        weam_loss, weam_size, _ = WeamCriterion(alone)(model, alone.datasets["valid"].collater(
            [alone.datasets["valid"][i] for i in ids]))
        ctr_loss, ctr_size, _ = criterion(model, contrastive_task.datasets["valid"].collater(
            [contrastive_task.datasets["valid"][i] for i in ids]))
        batch = summed.datasets["valid"].collater([summed.datasets["valid"][i] for i in ids])
        loss, size, log = criterion(model, batch)
    assert size == weam_size
    assert float(loss) / size == pytest.approx(float(weam_loss) / weam_size + 0.7 * float(ctr_loss) / ctr_size,
                                               rel=1e-5)
    assert float(log["ctr_loss"]) == pytest.approx(float(ctr_loss), rel=1e-5)
