"""The robust criterion's set-up checks (read from fairseq's own parsed options) and the PGD random start."""
import math

import pytest
import torch
from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from scipy import stats

import fairseq_weam  # noqa: F401  (registers the criterion)
from fairseq_weam.criterions.robust_sentence_prediction import check_setup
from fairseq_weam.robust.embedding_attack import PGDSettings, pgd_perturbation
from weam_testing import TINY_ROBERTA, run
from xtreme_testing import finetune_args, tiny_prepared


def criterion_config(tmp_path, method, *flags):
    """The criterion's config as fairseq-train builds it from a command line (interpolations resolved)."""
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        str(tmp_path), "--task", "sentence_prediction", "--criterion", "robust_sentence_prediction",
        "--robust-method", method, "--num-classes", "2", *TINY_ROBERTA, *flags])
    return convert_namespace_to_omegaconf(args).criterion


@pytest.mark.parametrize("flags,message", [
    (["--fp16", "--cpu"], "--fp16/--bf16 need a GPU"),
    (["--bf16", "--cpu"], "--fp16/--bf16 need a GPU"),
    (["--ddp-backend", "fully_sharded"], "cannot train with --ddp-backend fully_sharded"),
    (["--ddp-backend", "pytorch_ddp", "--distributed-world-size", "2"], "needs --ddp-backend legacy_ddp"),
    (["--ddp-backend", "c10d", "--distributed-world-size", "2"], "needs --ddp-backend legacy_ddp"),
])
def test_refused_setups_say_what_to_do_in_one_line(tmp_path, flags, message):
    with pytest.raises(ValueError, match=message) as caught:
        check_setup(criterion_config(tmp_path, "adversarial", *flags))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("method,flags", [
    ("adversarial", ["--ddp-backend", "legacy_ddp", "--distributed-world-size", "2"]),
    ("noise", ["--ddp-backend", "no_c10d", "--distributed-world-size", "2"]),
    ("adversarial", ["--ddp-backend", "pytorch_ddp", "--distributed-world-size", "1"]),
    ("none", ["--ddp-backend", "pytorch_ddp", "--distributed-world-size", "2"]),
    ("none", ["--ddp-backend", "fully_sharded"]),
])
def test_accepted_setups(tmp_path, method, flags):
    check_setup(criterion_config(tmp_path, method, "--cpu", *flags))


def radii_of_random_start(n, tokens, dim, pad_positions, eps, seed=0):
    """Norms of the PGD random start (0 steps) for ``n`` examples of ``tokens`` positions, the last
    ``pad_positions`` of which are padding; and the total found at padding."""
    settings = PGDSettings(eps=eps, steps=0, norm="l2", random_init=True)
    embeddings = torch.randn(n, tokens, dim)
    padding = torch.zeros(n, tokens, dtype=torch.bool)
    padding[:, tokens - pad_positions:] = True
    delta = pgd_perturbation(lambda e: e.sum(), embeddings, padding,
                             settings, generator=torch.Generator().manual_seed(seed))
    return delta.flatten(1).norm(dim=1), delta[padding].abs().sum()


@pytest.mark.parametrize("tokens,dim,pad_positions", [(1, 2, 2), (2, 1, 3), (3, 1, 0)])
def test_l2_random_start_is_uniform_in_the_ball_of_the_real_tokens(tokens, dim, pad_positions):
    eps, n = 2.0, 20000
    d = tokens * dim  # the padding positions add no dimensions
    radii, at_padding = radii_of_random_start(n, tokens + pad_positions, dim, pad_positions, eps)
    assert at_padding == 0
    assert radii.max() <= eps + 1e-5
    # uniform in the d-ball: P(r < eps/2) = 0.5^d; the radius CDF is (r/eps)^d
    below = (radii < eps / 2).float().mean().item()
    assert below == pytest.approx(0.5 ** d, abs=4 * math.sqrt(0.5 ** d * (1 - 0.5 ** d) / n))
    assert stats.kstest(radii.numpy() / eps, lambda r: r ** d).pvalue > 1e-3


@pytest.mark.slow
def test_fairseq_train_refuses_fp16_on_the_cpu_in_one_line(tmp_path_factory, tmp_path):
    bin_dir = tiny_prepared(tmp_path_factory.getbasetemp() / "xtreme")[3]
    failed = run(finetune_args(bin_dir, tmp_path / "ckpt", "adversarial", 2, ["--fp16"]), check=False)
    assert failed.returncode == 1
    assert failed.stderr.rstrip().splitlines()[-1] == (
        "fairseq-train: error: --fp16/--bf16 need a GPU (none is used: --cpu given or no CUDA device); "
        "drop --fp16/--bf16 to train in fp32 on the CPU")
    assert "Traceback" not in failed.stderr and not list(tmp_path.rglob("*.pt"))
