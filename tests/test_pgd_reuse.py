"""Adversarial training without --adv-random-init reuses the clean forward as PGD's first step.

Checked against a plain-torch PGD written here: same perturbation (the logged adversarial loss is the loss at
the reference perturbation), same parameter gradients as backpropagating clean + adversarial loss, and one
backward pass fewer through the encoder than forward-per-step PGD.
"""
import argparse

import pytest
import torch
import torch.nn.functional as F
from fairseq.data import Dictionary
from fairseq.models.roberta.model import RobertaModel, base_architecture

from fairseq_weam.robust.training import RobustTraining, RobustTrainingConfig

HEAD = "head"
VOCAB = 50


def tiny_classifier(dtype=torch.float32):
    torch.manual_seed(0)
    args = argparse.Namespace(encoder_layers=2, encoder_embed_dim=32, encoder_ffn_embed_dim=64,
                              encoder_attention_heads=2, max_positions=64, dropout=0.0, attention_dropout=0.0,
                              activation_dropout=0.0, pooler_dropout=0.0)
    base_architecture(args)
    dictionary = Dictionary()
    for i in range(VOCAB):
        dictionary.add_symbol(f"w{i}")
    task = argparse.Namespace(source_dictionary=dictionary, dictionary=dictionary)
    model = RobertaModel.build_model(args, task)
    model.register_classification_head(HEAD, num_classes=3)
    return model.to(dtype).train(), dictionary.pad()


def batch(pad, rows=6, length=12):
    generator = torch.Generator().manual_seed(1)
    src = torch.randint(4, VOCAB, (rows, length), generator=generator)
    src[:, 0] = 0
    for row in range(1, rows, 2):  # padding at the end of every other row
        src[row, length - 1 - row:] = pad
    return src, torch.randint(0, 3, (rows,), generator=generator)


def loss_function(model, src, targets):
    def loss_of(embeddings):
        states, _ = model.encoder.extract_features(src, token_embeddings=embeddings)
        logits = model.classification_heads[HEAD](states)
        return F.cross_entropy(logits.float(), targets, reduction="sum"), logits
    return loss_of


def reference_pgd(loss_of, embeddings, keep, norm, eps, step_size, steps):
    """Madry et al.'s PGD from zero, in plain torch: ascend the loss, project on the ball per example."""
    delta = torch.zeros(embeddings.shape, dtype=torch.float32)
    for _ in range(steps):
        probe = delta.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_of((embeddings.detach().float() + probe).to(embeddings.dtype))[0],
                                      probe)
        grad = grad.float() * keep
        if norm == "linf":
            delta = (delta + step_size * grad.sign()).clamp(-eps, eps)
        else:
            delta = delta + step_size * grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1)
            radius = delta.flatten(1).norm(dim=1).view(-1, 1, 1)
            delta = delta * torch.where(radius > eps, eps / radius, torch.ones_like(radius))
        delta = delta * keep
    return delta


def robust(method="adversarial", **overrides):
    return RobustTraining(RobustTrainingConfig(robust_method=method, **overrides))


def count_encoder_backwards(model):
    """A list that grows by one each time a gradient flows back through the first encoder layer's output."""
    calls = []

    def hook(module, inputs, output):
        states = output[0] if isinstance(output, tuple) else output
        if states.requires_grad:
            states.register_hook(lambda grad: calls.append(1))

    model.encoder.sentence_encoder.layers[0].register_forward_hook(hook)
    return calls


@pytest.mark.parametrize("norm,eps,step_size,steps,clean_weight", [
    ("l2", 1.0, 0.5, 1, 1.0), ("l2", 0.3, 0.2, 3, 0.5), ("linf", 0.05, 0.02, 2, 1.0),
])
def test_same_perturbation_and_gradients_as_plain_pgd(norm, eps, step_size, steps, clean_weight):
    model, pad = tiny_classifier()
    src, targets = batch(pad)
    loss_of = loss_function(model, src, targets)
    wrapper = robust(adv_norm=norm, adv_eps=eps, adv_step_size=step_size, adv_steps=steps,
                     adv_clean_weight=clean_weight)
    calls = count_encoder_backwards(model)
    loss, logits, logged = wrapper.loss(model, src, loss_of)
    loss.backward()
    assert len(calls) == steps + 1, "the clean forward must serve as the first PGD step"
    got = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)

    embeddings = model.encoder.sentence_encoder.embed_tokens(src)
    keep = src.ne(pad).unsqueeze(-1).float()
    delta = reference_pgd(loss_of, embeddings, keep, norm, eps, step_size, steps)
    clean, clean_logits = loss_of(embeddings)
    adversarial, _ = loss_of(embeddings + delta)
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    expected = torch.autograd.grad(clean_weight * clean + adversarial, [p for _, p in model.named_parameters()
                                                                        if p.requires_grad], allow_unused=True)
    assert float(logged["adv_loss"]) == pytest.approx(float(adversarial), rel=1e-5)
    assert float(logged["adv_loss"]) > float(logged["clean_loss"]) + 1e-3
    assert float(logged["clean_loss"]) == pytest.approx(float(clean), rel=1e-6)
    assert float(loss) == pytest.approx(float(clean_weight * clean + adversarial), rel=1e-6)
    assert torch.allclose(logits, clean_logits, atol=1e-6)
    expected = {name: g for name, g in zip(names, expected) if g is not None}
    assert got.keys() == expected.keys()
    for name, g in expected.items():
        assert torch.allclose(got[name], g, rtol=1e-4, atol=1e-6), name


def test_random_init_keeps_a_separate_clean_pass():
    model, pad = tiny_classifier()
    src, targets = batch(pad)
    calls = count_encoder_backwards(model)
    loss, _, _ = robust(adv_steps=2, adv_random_init=True).loss(model, src, loss_function(model, src, targets))
    loss.backward()
    assert len(calls) == 2 + 2  # K PGD steps, then fairseq's backward of the clean and the adversarial loss


def test_zero_clean_weight_gives_the_adversarial_gradient_only():
    model, pad = tiny_classifier()
    src, targets = batch(pad)
    loss_of = loss_function(model, src, targets)
    loss, _, logged = robust(adv_steps=2, adv_clean_weight=0.0).loss(model, src, loss_of)
    loss.backward()
    got = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    embeddings = model.encoder.sentence_encoder.embed_tokens(src)
    delta = reference_pgd(loss_of, embeddings, src.ne(pad).unsqueeze(-1).float(), "l2", 1.0, 0.5, 2)
    adversarial, _ = loss_of(embeddings + delta)
    adversarial.backward()
    assert float(loss) == pytest.approx(float(adversarial), rel=1e-6)
    for name, p in model.named_parameters():
        if p.grad is not None:
            assert torch.allclose(got[name], p.grad, rtol=1e-4, atol=1e-6), name


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_gives_the_gradients_of_plain_pgd(dtype):
    """fp16: the clean graph stays for fairseq's own scaled backward; bf16: the clean gradients come from the
    attack's backward. Both match plain PGD in the same precision (loose tolerances: half precision)."""
    model, pad = tiny_classifier(dtype)
    src, targets = batch(pad)
    loss_of = loss_function(model, src, targets)
    wrapper = robust(adv_steps=2, adv_eps=2.0, adv_step_size=1.0, adv_loss_scale=2.0 ** 10)  # no overflow
    loss, _, logged = wrapper.loss(model, src, loss_of)
    (loss * 8).backward()  # what fairseq's fp16 scaler does
    got = {name: p.grad.float() / 8 for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    embeddings = model.encoder.sentence_encoder.embed_tokens(src)
    delta = reference_pgd(lambda e: (loss_of(e)[0] * 2.0 ** 10,), embeddings,
                          src.ne(pad).unsqueeze(-1).float(), "l2", 2.0, 1.0, 2)
    clean, _ = loss_of(embeddings)
    adversarial, _ = loss_of((embeddings.float() + delta).to(dtype))
    ((clean + adversarial) * 8).backward()
    assert torch.isfinite(loss) and float(logged["adv_loss"]) > float(logged["clean_loss"])
    assert float(logged["adv_loss"]) == pytest.approx(float(adversarial), rel=2e-2)
    for name, p in model.named_parameters():
        if p.grad is not None:
            expected = p.grad.float() / 8
            assert (got[name] - expected).norm() <= 0.05 * expected.norm() + 1e-3, name
