"""robust_sentence_prediction: fairseq-train with each method, and the perturbation maths in-process."""
import copy
import json
import os

import pytest
import torch
import torch.nn.functional as F

import fairseq_weam  # noqa: F401  (registers the criterion, makes checkpoints loadable)
from fairseq import checkpoint_utils
from fairseq.modules.checkpoint_activations import checkpoint_wrapper
from fairseq.criterions.sentence_prediction import SentencePredictionConfig, SentencePredictionCriterion
from fairseq_weam.criterions.robust_sentence_prediction import (
    RobustCriterionError, RobustSentencePredictionConfig, RobustSentencePredictionCriterion)
from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.embedding_attack import AttackLossScale, PGDSettings, pgd_perturbation
from fairseq_weam.robust.embedding_noise import add_perturbation, sample_embedding_noise
from weam_testing import BIN, REPO, TINY_ROBERTA, run, tool
from xtreme_testing import finetune_args, tiny_finetuned, tiny_prepared

HEAD = "sentence_classification_head"


def train_log(proc):
    """The last JSON 'train' record fairseq-train logged."""
    records = [json.loads(line.split(" | ", 3)[3]) for line in (proc.stdout + proc.stderr).splitlines()
               if " | train | " in line]
    return records[-1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    prepared, ckpt = tiny_finetuned(tmp_path_factory.getbasetemp() / "xtreme")
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(ckpt)])
    task.load_dataset("valid")
    batch = next(iter(task.get_batch_iterator(task.dataset("valid"), max_sentences=16)
                      .next_epoch_itr(shuffle=False)))
    return models[0], task, batch


@pytest.mark.slow
@pytest.mark.parametrize("method,extra,keys", [
    ("none", [], []),
    ("adversarial", ["--adv-steps", "2", "--adv-norm", "linf", "--adv-eps", "0.05", "--adv-step-size", "0.02",
                     "--adv-random-init", "--adv-clean-weight", "0.5"], ["adv_loss", "clean_loss"]),
    ("noise", ["--noise-type", "uniform", "--noise-sigma", "0.3"], ["noise_loss"]),
])
def test_fairseq_train_each_method(tmp_path_factory, tmp_path, method, extra, keys):
    bin_dir = tiny_prepared(tmp_path_factory.getbasetemp() / "xtreme")[3]
    proc = run(finetune_args(bin_dir, tmp_path / "ckpt", method, 6, extra + ["--valid-subset", "valid,test.de"]))
    log = train_log(proc)
    assert log["train_num_updates"] == "6"
    for key in ["train_loss", "train_nll_loss", "train_accuracy"] + [f"train_{k}" for k in keys]:
        assert key in log and float(log[key]) == float(log[key]), (key, log)
    if method == "adversarial":  # loss = 0.5 * clean + adv (base-2 per sentence, rounded)
        expected = 0.5 * float(log["train_clean_loss"]) + float(log["train_adv_loss"])
        assert float(log["train_loss"]) == pytest.approx(expected, abs=2e-3)
    assert "test.de | " in proc.stdout + proc.stderr  # per-language valid subsets are accepted
    assert (tmp_path / "ckpt" / "checkpoint_best.pt").exists()


def test_embedding_path_gives_the_logits_of_the_model(trained):
    """(That --robust-method none gives fairseq's own numbers: test_robust_training.py, by fairseq-train.)"""
    model, task, batch = trained
    model.eval()
    # The embedding path used for perturbations gives the very same logits as model(...).
    src = batch["net_input"]["src_tokens"]
    with torch.no_grad():
        ref_logits, _ = model(src, features_only=True, classification_head_name=HEAD)
        emb_logits = embedding_forward.classify(model, src, HEAD, embedding_forward.token_embeddings(model, src))
    assert torch.allclose(ref_logits, emb_logits, atol=1e-6)


def test_noise_changes_logits_but_not_padding(trained):
    model, task, batch = trained
    model.eval()
    src = batch["net_input"]["src_tokens"]
    emb = embedding_forward.token_embeddings(model, src)
    pad = embedding_forward.padding_mask(model, src)
    assert pad.any(), "the batch should contain padding"
    noise = sample_embedding_noise(emb, pad, "gaussian", 0.5)
    assert noise[pad].abs().sum() == 0 and noise[~pad].abs().sum() > 0
    with torch.no_grad():
        clean = embedding_forward.classify(model, src, HEAD, emb)
        noisy = embedding_forward.classify(model, src, HEAD, add_perturbation(emb, noise))
    assert (clean - noisy).abs().max() > 1e-3


def attack_inputs(model, batch):
    """(src_tokens, token embeddings, padding mask, summed cross-entropy of the head from embeddings)."""
    src = batch["net_input"]["src_tokens"]
    targets = model.get_targets(batch, None).view(-1)

    def loss_of(e):
        logits = embedding_forward.classify(model, src, HEAD, e)
        return F.nll_loss(F.log_softmax(logits, dim=-1, dtype=torch.float32), targets, reduction="sum")

    return (src, embedding_forward.token_embeddings(model, src).detach(),
            embedding_forward.padding_mask(model, src), loss_of)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_increases_loss_within_the_ball(trained, norm):
    model, task, batch = trained
    model.eval()
    src, emb, pad, loss_of = attack_inputs(model, batch)

    eps = 1.0 if norm == "l2" else 0.05
    settings = PGDSettings(eps=eps, step_size=eps / 2, steps=3, norm=norm, random_init=True)
    delta = pgd_perturbation(loss_of, emb, pad, settings)
    assert delta[pad].abs().sum() == 0
    if norm == "l2":
        assert delta.flatten(1).norm(dim=1).max() <= eps + 1e-4
    else:
        assert delta.abs().max() <= eps + 1e-6
    with torch.no_grad():
        assert loss_of(add_perturbation(emb, delta)) > loss_of(emb) + 1e-3
    assert all(p.grad is None for p in model.parameters()), "the attack must not touch parameter grads"


def test_adversarial_is_finite_in_bfloat16(trained):
    model, task, batch = trained
    model = model.to(torch.bfloat16)
    try:
        model.train()
        cfg = RobustSentencePredictionConfig(robust_method="adversarial", adv_eps=100.0, adv_step_size=100.0)
        loss, n, log = RobustSentencePredictionCriterion(cfg, task)(model, batch)
        assert torch.isfinite(loss) and torch.isfinite(log["adv_loss"]) and log["adv_loss"] > 0
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    finally:
        model.zero_grad(set_to_none=True)
        model.float()


def confident_half_model(model, sharpen=3.0):
    """An fp16 copy whose head is so confident that an unscaled fp16 loss gradient underflows to zero."""
    model = copy.deepcopy(model).half()
    head = model.classification_heads[HEAD].out_proj
    head.weight.data *= sharpen
    head.bias.data *= sharpen
    return model.eval()


def test_pgd_under_fp16_scales_the_loss_so_gradients_do_not_underflow(trained):
    model, task, batch = trained
    model = confident_half_model(model)
    src, emb, pad, loss_of = attack_inputs(model, batch)
    assert emb.dtype == torch.float16

    # The underflow case, shown independently: the plain fp16 gradient is exactly zero for every example.
    probe = torch.zeros(emb.shape, requires_grad=True)
    (plain,) = torch.autograd.grad(loss_of((emb.float() + probe).half()), probe)
    assert plain.abs().sum() == 0
    settings = PGDSettings(eps=1.0, step_size=0.5, steps=2, norm="l2", random_init=False)
    delta = pgd_perturbation(loss_of, emb, pad, settings)
    assert torch.isfinite(delta).all() and delta[pad].abs().sum() == 0
    assert (delta.flatten(1).norm(dim=1) > 0.49).all(), "every example must move"
    with torch.no_grad():
        clean = embedding_forward.classify(model, src, HEAD, emb).float()
        attacked = embedding_forward.classify(model, src, HEAD, add_perturbation(emb, delta)).float()
    assert (clean - attacked).abs().max() > 1e-2


def test_pgd_overflowing_gradients_make_no_step_and_lower_the_scale(trained):
    model, task, batch = trained
    model = confident_half_model(model, sharpen=1.0)
    src, emb, pad, loss_of = attack_inputs(model, batch)

    scale = AttackLossScale(init=2.0 ** 40, window=100)
    settings = PGDSettings(eps=1.0, step_size=0.5, steps=2, norm="l2", random_init=False)
    delta = pgd_perturbation(loss_of, emb, pad, settings, loss_scale=scale)
    assert torch.isfinite(delta).all() and delta.abs().sum() == 0  # overflow: no step, never a NaN
    assert float(scale.scale) == 2.0 ** 38
    # Once the scale has come down, the attack moves again.
    for _ in range(40):
        delta = pgd_perturbation(loss_of, emb, pad, settings, loss_scale=scale)
    assert torch.isfinite(delta).all() and (delta.flatten(1).norm(dim=1) > 0.49).all()


def test_adversarial_criterion_under_fp16_trains_on_a_perturbed_input(trained):
    model, task, batch = trained
    model = confident_half_model(model).train()
    cfg = RobustSentencePredictionConfig(robust_method="adversarial", adv_steps=1, adv_eps=5.0,
                                         adv_step_size=5.0)
    loss, n, log = RobustSentencePredictionCriterion(cfg, task)(model, batch)
    assert torch.isfinite(loss)
    assert float(log["adv_loss"]) > float(log["clean_loss"]) + 1e-3


def test_mha_and_ffn_regularization_terms_are_kept(trained):
    """With --mha-reg-scale-factor/--ffn-reg-scale-factor, fairseq's criterion adds both terms; so do we."""
    model, task, batch = trained
    model = copy.deepcopy(model).train()
    model.args.mha_reg_scale_factor, model.args.ffn_reg_scale_factor = 1e-3, 2e-3
    fairseq_loss, _, fairseq_log = SentencePredictionCriterion(SentencePredictionConfig(), task)(model, batch)
    fairseq_loss = float(fairseq_loss.detach())
    fairseq_log = {key: float(value.detach()) for key, value in fairseq_log.items() if key.endswith("_reg_loss")}
    assert fairseq_log["mha_reg_loss"] > 0 and fairseq_log["ffn_reg_loss"] > 0
    no_attack = RobustSentencePredictionConfig(robust_method="adversarial", adv_steps=0, adv_clean_weight=0.0)
    no_noise = RobustSentencePredictionConfig(robust_method="noise", noise_sigma=0.0)
    for cfg in (no_attack, no_noise):
        loss, _, log = RobustSentencePredictionCriterion(cfg, task)(model, batch)
        assert float(loss.detach()) == pytest.approx(fairseq_loss, rel=1e-6)
        for key in ("mha_reg_loss", "ffn_reg_loss"):
            assert float(log[key]) == pytest.approx(fairseq_log[key], rel=1e-6)


def test_adversarial_refuses_checkpoint_activations(trained):
    model, task, batch = trained
    model = copy.deepcopy(model).train()
    layers = model.encoder.sentence_encoder.layers
    for i, layer in enumerate(layers):  # what --checkpoint-activations does to each encoder layer
        layers[i] = checkpoint_wrapper(layer)
    criterion = RobustSentencePredictionCriterion(RobustSentencePredictionConfig(robust_method="adversarial"), task)
    with pytest.raises(RobustCriterionError, match="cannot train with --checkpoint-activations"):
        criterion(model, batch)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="norm"):
        PGDSettings(norm="l3")
    with pytest.raises(ValueError, match="noise type"):
        sample_embedding_noise(torch.zeros(1, 2, 3), None, "laplace", 0.1)


@pytest.mark.slow
def test_hydra_config_trains(tmp_path_factory, tmp_path):
    """examples/finetune/config/xnli_robust.yaml works with fairseq-hydra-train (tiny model overrides)."""
    bin_dir = tiny_prepared(tmp_path_factory.getbasetemp() / "xtreme")[3]
    proc = run([tool("fairseq-hydra-train"), "--config-dir", REPO / "examples/finetune/config",
                "--config-name", "xnli_robust", f"task.data={bin_dir}", "task.num_classes=2",
                "checkpoint.finetune_from_model=null", "optimization.max_update=3", "common.cpu=true",
                "dataset.num_workers=0", f"checkpoint.save_dir={tmp_path}", "+model.encoder_layers=1",
                "+model.encoder_embed_dim=32", "+model.encoder_ffn_embed_dim=64",
                "+model.encoder_attention_heads=2", "task.max_positions=64", f"hydra.run.dir={tmp_path}/hydra"],
               cwd=REPO)
    assert '"train_adv_loss"' in proc.stdout + proc.stderr
    assert (tmp_path / "checkpoint_last.pt").exists()


@pytest.mark.slow
def test_finetune_and_evaluate_recipes(tmp_path_factory, tmp_path):
    """examples/finetune/{finetune,evaluate}.sh chain the CLIs (augmentation method, tiny model from scratch)."""
    task_dir, spm_model, dictionary, _ = tiny_prepared(tmp_path_factory.getbasetemp() / "xtreme")
    neighbours = tmp_path / "neighbours.json"
    neighbours.write_text(json.dumps({"good": ["nice"], "bad": ["poor"]}))
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "TASK": "pawsx", "TASK_DIR": str(task_dir),
           "DICT": str(dictionary), "SPM_MODEL": str(spm_model), "METHOD": "augmentation",
           "NEIGHBOURS": str(neighbours), "COPIES": "2", "OUT": str(tmp_path / "run"), "LR": "1e-3", "BATCH": "16",
           "EPOCHS": "1", "VALIDATE_EVERY": "12", "WORKERS": "1", "ARCH_FLAGS": " ".join(TINY_ROBERTA),
           "DEVICE_FLAGS": "--cpu --num-workers 0"}
    run(["bash", REPO / "examples/finetune/finetune.sh"], env=env)
    assert len((tmp_path / "run/task-augmented/train-en.tsv").read_text().splitlines()) == 2 * 192
    run(["bash", REPO / "examples/finetune/evaluate.sh", "--no-generalized"], env=env)
    results = json.loads((tmp_path / "run/eval/results.json").read_text())
    assert set(results["standard"]["accuracy"]) == {"en", "de", "fr"} and results["generalized"] is None
