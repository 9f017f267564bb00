"""The fairseq side of a conversion: RoBERTa arguments from sizes, and checkpoints read and written safely."""
from pathlib import Path
from typing import Dict, List

import torch

from fairseq_weam import checkpoint_safety
from fairseq_weam.errors import WeamError


class ConvertError(WeamError, ValueError):
    """A checkpoint or model directory that cannot be converted (the message says why and what to do)."""


def roberta_flags(layers: int, dim: int, ffn: int, heads: int, max_positions: int, dropout: float,
                  attention_dropout: float) -> List[str]:
    """The ``fairseq-train`` model flags that build a post-LN, GELU RoBERTa of these sizes."""
    return ["--arch", "roberta", "--encoder-layers", str(layers), "--encoder-embed-dim", str(dim),
            "--encoder-ffn-embed-dim", str(ffn), "--encoder-attention-heads", str(heads),
            "--max-positions", str(max_positions), "--activation-fn", "gelu", "--dropout", str(dropout),
            "--attention-dropout", str(attention_dropout)]


def roberta_args(data_dir, flags: List[str]):
    """fairseq's full argument namespace for ``masked_lm`` on ``data_dir`` with a model of ``flags``."""
    from fairseq import options

    parser = options.get_training_parser()
    return options.parse_args_and_arch(parser, [str(data_dir), "--task", "masked_lm", "--criterion", "masked_lm",
                                                "--tokens-per-sample", flags[flags.index("--max-positions") + 1],
                                                *flags])


def build_roberta(args, dictionary):
    """The RoBERTa model ``args`` describe, over ``dictionary`` (with ``<mask>``)."""
    from fairseq.models.roberta import RobertaModel

    class _Task:
        source_dictionary = target_dictionary = dictionary

    return RobertaModel.build_model(args, _Task())


def write_checkpoint(path, args, model_state: Dict[str, torch.Tensor]):
    """A checkpoint in the layout of XLM-R's released ``model.pt`` (``args`` and weights, no optimizer state):
    ``--restore-file`` (with ``--reset-optimizer``), ``--finetune-from-model`` and the hub loaders read it."""
    state = {
        "args": args,
        "model": model_state,
        "optimizer_history": [{"criterion_name": "MaskedLmLoss", "optimizer_name": "none",
                               "lr_scheduler_state": {}, "num_updates": 0}],
        "extra_state": {"train_iterator": {"epoch": 1, "iterations_in_epoch": 0}},
        "last_optimizer_state": None,
    }
    torch.save(state, path)


def read_checkpoint(path) -> Dict:
    """A fairseq checkpoint's state, read weights-only (``checkpoint_safety``); its model arguments as ``state["model_args"]``."""
    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"{path}: no such checkpoint file")
    state = checkpoint_safety.load(str(path), map_location="cpu")
    if not isinstance(state, dict) or "model" not in state:
        raise ConvertError(f"{path}: not a fairseq checkpoint (no 'model' weights)")
    cfg = state.get("cfg")
    model_args = cfg.get("model") if isinstance(cfg, dict) or hasattr(cfg, "get") else None
    if model_args is None:
        model_args = state.get("args")
    if model_args is None:
        raise ConvertError(f"{path}: the checkpoint holds no model arguments (cfg['model'] or args)")
    state["model_args"] = model_args
    state["task_args"] = (cfg.get("task") if cfg is not None else None) or state.get("args")
    return state
