"""--parallel-data: the alignment term mixed into robust fine-tuning changes the gradients by exactly
μ x its own gradient (against an independent per-sentence computation), is logged apart, and bad input
gets one line."""
import json

import pytest
import torch
import torch.nn.functional as F
from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

import fairseq_weam  # noqa: F401  (registers the criterion)
from fairseq_weam.robust.parallel_alignment import ParallelDataError
from stability_testing import raw_pairs, write_parallel
from weam_testing import run
from xtreme_testing import finetune_args, tiny_prepared


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / "xtreme"
    task_dir, spm_model, dictionary, bin_dir = tiny_prepared(base)
    parallel_root = tmp_path_factory.mktemp("parallel")
    return bin_dir, spm_model, dictionary, parallel_root, write_parallel(parallel_root, spm_model, dictionary)


def build(bin_dir, save_dir, method, extra):
    """(task, model, criterion) exactly as fairseq-train builds them from these flags."""
    argv = [str(a) for a in finetune_args(bin_dir, save_dir, method, 2, extra)[1:]]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    torch.manual_seed(1)
    model = task.build_model(cfg.model)
    return task, model, task.build_criterion(cfg.criterion)


def gradients(model, criterion, sample):
    model.zero_grad(set_to_none=True)
    loss, size, log = criterion(model, sample)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return loss.detach(), size, log, grads


def independent_agreement(model, dictionary_task, parallel_root, batch):
    """Mean over the batch's links of 1 - cos of the linked pieces' final states, each sentence encoded alone,
    pieces and links read from the raw files."""
    pairs = raw_pairs(parallel_root, "train")
    d = dictionary_task.source_dictionary
    losses = []
    for line in batch["line"].tolist():
        x, y, links = pairs[line]
        states = []
        for pieces in (x, y):
            tokens = torch.tensor([[d.bos()] + [d.index(p) for p in pieces] + [d.eos()]])
            states.append(model(tokens, features_only=True)[0][0, 1:-1])
        for i, j in links:
            losses.append(1 - F.cosine_similarity(states[0][i], states[1][j], dim=0))
    return torch.stack(losses).mean()


def test_agreement_term_adds_mu_times_its_own_gradient(setup, tmp_path):
    bin_dir, _, _, parallel_root, data = setup
    mu = 0.7
    task, model, plain = build(bin_dir, tmp_path / "a", "none", [])
    _, _, mixed = build(bin_dir, tmp_path / "b", "none", ["--parallel-data", data, "--parallel-loss", "agreement",
                                                          "--parallel-weight", str(mu)])
    sample = next(iter(task.get_batch_iterator(task.dataset("train"), max_sentences=8).next_epoch_itr(shuffle=False)))
    model.train()
    loss0, size, log0, g0 = gradients(model, plain, sample)
    batch = mixed.robust.parallel.next_batch()  # the batch the criterion will draw (same seed, fresh stream)
    mixed.robust.parallel.batches, mixed.robust.parallel.epoch = None, 0
    loss1, size1, log1, g1 = gradients(model, mixed, sample)
    assert size1 == size and float(log1["loss"]) == pytest.approx(float(log0["loss"]))  # the task loss, apart

    model.zero_grad(set_to_none=True)
    reference = independent_agreement(model, task, parallel_root, batch)
    reference.backward()
    g_align = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert float(log1["parallel_loss"]) == pytest.approx(float(reference), rel=1e-4)
    assert float(loss1) == pytest.approx(float(loss0) + mu * size * float(reference), rel=1e-5)
    changed = 0
    for name, grad in g1.items():
        expected = g0.get(name, torch.zeros_like(grad)) + mu * size * g_align.get(name, torch.zeros_like(grad))
        assert torch.allclose(grad, expected, atol=1e-5, rtol=1e-4), name
        changed += int(not torch.allclose(grad, g0.get(name, torch.zeros_like(grad)), atol=1e-6))
    assert changed > 5
    model.eval()  # validation: no term
    loss2, _, log2 = mixed(model, sample)
    assert "parallel_loss" not in log2


def test_weam_and_adversarial_parallel_terms_change_gradients(setup, tmp_path):
    bin_dir, _, _, _, data = setup
    task, model, plain = build(bin_dir, tmp_path / "a", "adversarial", ["--adv-steps", "1"])
    sample = next(iter(task.get_batch_iterator(task.dataset("train"), max_sentences=8).next_epoch_itr(shuffle=False)))
    model.train()
    _, _, log0, g0 = gradients(model, plain, sample)
    logs = {}
    for variant, extra in (("weam", []), ("adversarial", ["--parallel-adversarial"])):
        _, _, crit = build(bin_dir, tmp_path / variant, "adversarial",
                           ["--adv-steps", "1", "--parallel-data", data, "--parallel-loss", "weam", *extra])
        torch.manual_seed(3)
        _, _, logs[variant], g = gradients(model, crit, sample)
        assert any(not torch.allclose(g[n], g0[n], atol=1e-6) for n in g0)
        assert {"parallel_loss", "parallel_ml_loss", "parallel_cl_loss"} <= set(logs[variant])
    # the PGD perturbation of the parallel side raises the alignment (WEAM) loss on the same batch
    assert float(logs["adversarial"]["parallel_loss"]) > float(logs["weam"]["parallel_loss"])


def train_records(output, kind="train_inner"):
    return [json.loads(line.split(" | ", 3)[3]) for line in output.splitlines() if f" | {kind} | " in line]


@pytest.mark.slow
def test_fairseq_train_logs_the_term_apart(setup, tmp_path):
    bin_dir, _, _, _, data = setup
    plain = run(finetune_args(bin_dir, tmp_path / "p", "adversarial", 2, ["--no-save", "--adv-steps", "1"]))
    mixed = run(finetune_args(bin_dir, tmp_path / "m", "adversarial", 2,
                              ["--no-save", "--adv-steps", "1", "--parallel-data", data, "--parallel-weight", "0.5",
                               "--parallel-adversarial"]))
    p, m = train_records(plain.stderr + plain.stdout), train_records(mixed.stderr + mixed.stdout)
    assert len(p) == len(m) == 2
    assert "parallel_loss" not in p[0] and float(m[0]["parallel_loss"]) > 0
    assert float(m[0]["parallel_cl_loss"]) > 0 and float(m[0]["parallel_ml_loss"]) > 0
    assert m[0]["loss"] == p[0]["loss"]  # update 1: same weights, the task loss is logged without the term
    assert float(m[0]["gnorm"]) != pytest.approx(float(p[0]["gnorm"]), abs=1e-3)  # but not its gradients


def one_line_error(proc):
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_bad_parallel_data_fails_in_one_line(setup, tmp_path):
    bin_dir, _, _, _, data = setup
    proc = run(finetune_args(bin_dir, tmp_path / "x", "none", 1, ["--parallel-data", tmp_path / "nowhere"]),
               check=False)
    line = one_line_error(proc)
    assert line.startswith("fairseq-train: error: ") and "nowhere/dict.txt not found" in line


def test_bad_settings_are_refused(setup, tmp_path):
    bin_dir, _, dictionary, _, data = setup
    other = tmp_path / "other"
    other.mkdir()
    for f in data.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    (other / "dict.txt").write_text("\n".join(reversed(dictionary.read_text().splitlines())) + "\n")
    with pytest.raises(ParallelDataError, match="is not the fine-tuning data's dictionary"):
        build(bin_dir, tmp_path / "a", "none", ["--parallel-data", other])
    with pytest.raises(ParallelDataError, match="--parallel-weight -1.0 is negative"):
        build(bin_dir, tmp_path / "a", "none", ["--parallel-data", data, "--parallel-weight", "-1"])
    with pytest.raises(ParallelDataError, match="en-fr: not binarized for split 'train'"):
        build(bin_dir, tmp_path / "a", "none", ["--parallel-data", data, "--parallel-lang-pairs", "en-fr"])


def test_parallel_data_with_torch_ddp_is_refused(setup, tmp_path):
    from fairseq_weam.criterions.robust_sentence_prediction import check_setup
    argv = [str(a) for a in finetune_args(setup[0], tmp_path, "none", 1, [
        "--parallel-data", setup[4], "--ddp-backend", "pytorch_ddp", "--distributed-world-size", "2"])[1:]]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    with pytest.raises(ValueError, match="^--parallel-data needs --ddp-backend legacy_ddp"):
        check_setup(cfg.criterion)
