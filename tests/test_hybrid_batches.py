"""--objective hybrid: objectives mixed in one update (or alternated batch by batch) in set proportions, each loss
the one that objective has alone on the same items; bad settings refused in one line."""
import json
import re
from collections import Counter

import pytest
import torch

from fairseq_weam.criterions.weam import WeamCriterion
from fairseq_weam.data.hybrid_batches import HybridSpecError, parse_hybrid_objectives
from fairseq_weam.tasks.weam import WeamConfig, WeamTask
from contrastive_testing import aligned_data, hybrid_training_run, tiny_model

SHARES = "weam:0.5,contrastive:0.3,tlm:0.2"


def make_task(**overrides):
    cfg = WeamConfig(data=str(aligned_data()), seed=5, train_subset="train", finetune_from_model=None,
                     restore_file="checkpoint_last.pt", tokens_per_sample=64, **overrides)
    return WeamTask.setup_task(cfg)


def epoch_batches(task, epoch, split="train"):
    dataset = task.load_dataset(split, epoch=epoch)
    iterator = task.get_batch_iterator(dataset, max_sentences=8, max_positions=task.max_positions(), seed=5,
                                       epoch=epoch)
    return list(iterator.next_epoch_itr(shuffle=True))


@pytest.mark.parametrize("batching", ["mixed", "alternate"])
def test_items_of_each_objective_come_in_the_set_proportions(batching):
    task = make_task(objective="hybrid", hybrid_objectives=SHARES, hybrid_batching=batching)
    counts, kinds = Counter(), []
    for epoch in range(1, 16):  # 15 epochs x 96 pairs
        for batch in epoch_batches(task, epoch):
            kinds.append(len(batch["objectives"]))
            for name, sub in batch["objectives"].items():
                counts[name] += sub["nsentences"]
    total = sum(counts.values())
    assert total == 15 * 96
    for name, share in (("weam", 0.5), ("contrastive", 0.3), ("tlm", 0.2)):
        assert abs(counts[name] / total - share) < 0.04, counts  # 3 binomial standard deviations
    if batching == "alternate":
        assert set(kinds) == {1}  # every batch holds one objective
    else:
        assert sum(k >= 2 for k in kinds) > 0.8 * len(kinds)  # batches mix objectives


def test_each_objective_loss_equals_that_objective_run_alone_on_the_same_items():
    hybrid = make_task(objective="hybrid", hybrid_objectives=SHARES, contrastive_weight=0.5)
    dataset = hybrid.load_dataset("valid")
    model = tiny_model(hybrid)
    batch = dataset.collater([dataset[i] for i in range(24)])
    assert set(batch["objectives"]) == {"weam", "contrastive", "tlm"}
    with torch.no_grad():
        loss, sample_size, log = WeamCriterion(hybrid)(model, batch)
    assert sample_size == 1
    expected_total = 0.0
    for name, sub in batch["objectives"].items():
        alone = make_task(objective=name)
        alone_dataset = alone.load_dataset("valid")
        ids = sub["id"].tolist()
        with torch.no_grad():
            alone_loss, alone_size, _ = WeamCriterion(alone)(model, alone_dataset.collater(
                [alone_dataset[i] for i in ids]))
        mean = float(alone_loss) / alone_size
        assert float(log[f"{name}:loss"]) / log[f"{name}:sample_size"] == pytest.approx(mean, rel=1e-5), name
        expected_total += (0.5 if name == "contrastive" else 1.0) * mean
    assert float(loss) == pytest.approx(expected_total, rel=1e-5)


@pytest.mark.parametrize("overrides,message", [
    (dict(objective="hybrid"), "--objective hybrid needs --hybrid-objectives"),
    (dict(objective="weam", hybrid_objectives="weam:1"), "--hybrid-objectives needs --objective hybrid"),
    (dict(objective="hybrid", hybrid_objectives="weam:0.5,xlco:0.5"), "unknown objective 'xlco'"),
    (dict(objective="hybrid", hybrid_objectives="weam=0.5"), "'weam=0.5' is not objective:share"),
    (dict(objective="hybrid", hybrid_objectives="weam:0.5,mlm:0"), "share 0 of mlm must be > 0"),
    (dict(objective="hybrid", hybrid_objectives="weam:1,weam:1"), "weam is listed twice"),
    (dict(objective="hybrid", hybrid_objectives="weam:1,mlm:1", contrastive_weight=0.5), "no contrastive objective"),
    (dict(objective="contrastive", contrastive_weight=0.5), "has nothing to weigh"),
])
def test_bad_hybrid_settings_are_refused_in_one_line(overrides, message):
    with pytest.raises(HybridSpecError, match=re.escape(message)) as error:
        make_task(**overrides)
    assert "\n" not in str(error.value)


def test_shares_are_normalized():
    assert parse_hybrid_objectives(" weam:2, mlm:1,contrastive:1 ") == {"weam": 0.5, "mlm": 0.25, "contrastive": 0.25}


@pytest.mark.slow
def test_fairseq_train_logs_each_objective_loss_separately():
    checkpoint, output = hybrid_training_run()
    assert checkpoint.exists()
    logs = [json.loads(line[line.index("{"):]) for line in output.splitlines() if '"num_updates"' in line
            and "train_inner" in line]
    assert [int(log["num_updates"]) for log in logs] == [1, 2, 3, 4]
    for log in logs:
        for key in ("loss", "weam_loss", "weam_ml_loss", "weam_cl_loss", "contrastive_ctr_loss", "mlm_ml_loss"):
            assert key in log and log[key] is not None and float(log[key]) > 0, (key, log)
        assert float(log["loss"]) == pytest.approx(
            float(log["weam_loss"]) + float(log["contrastive_loss"]) + float(log["mlm_loss"]), abs=0.01)
