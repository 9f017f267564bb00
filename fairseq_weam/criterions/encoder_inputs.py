"""What fairseq's RoBERTa encoder cannot be told through its arguments: position ids and a per-row attention mask.

``TransformerEncoder`` computes positions from the tokens (``pad + 1 + t``) and gives its layers only the
padding mask. Two batch formats of the weam task need more (``ObjectiveBatchDataset``):

* ``net_input["positions"]``: position ids that restart at the second sentence of a row (``--reset-positions``,
  and every packed row); a forward hook on the learned positional embedding replaces its output;
* ``net_input["blocks_from"]``: packed rows ``<s> x </s> <s> y </s>``; column ``blocks_from[r]`` starts the
  second sentence of row r, and every layer's self-attention is restricted to the query's own sentence (a
  forward pre-hook adds ``attn_mask``, batch x heads x T x T, to each layer's call). With the positions
  restarting too, each sentence's states are those it has encoded alone.

The hooks live only inside the ``with`` block, so the same model serves every other format and task unchanged.
"""
from contextlib import ExitStack, contextmanager

import torch
import torch.nn.functional as F
from fairseq.modules import LearnedPositionalEmbedding

from fairseq_weam.errors import WeamError


def _sentence_encoder(model):
    return getattr(model.encoder, "sentence_encoder", None)


@contextmanager
def given_positions(model, positions):
    """Run ``model`` with these position ids instead of fairseq's ``pad + 1 + t``."""
    if positions is None:
        yield
        return
    embed = getattr(_sentence_encoder(model), "embed_positions", None)
    if not isinstance(embed, LearnedPositionalEmbedding):
        raise WeamError(
            "--reset-positions and --input-mode packed need a model with learned positional embeddings "
            f"(RoBERTa / XLM-R); this one has {type(embed).__name__}: drop the flag"
        )
    handle = embed.register_forward_hook(
        lambda module, args, output: F.embedding(positions, module.weight, module.padding_idx)
    )
    try:
        yield
    finally:
        handle.remove()


def block_mask(blocks_from, width, heads):
    """``(rows * heads) x width x width``, True where query and key lie in different sentences of their row (row
    r's second sentence starts at column ``blocks_from[r]``), in the batch-major head order of fairseq's
    multi-head attention. Boolean like the padding mask (True: not attended); no query loses every key, as each
    sentence keeps at least its <s> and </s>."""
    second = torch.arange(width, device=blocks_from.device).unsqueeze(0) >= blocks_from.unsqueeze(1)
    across = second.unsqueeze(2) != second.unsqueeze(1)
    return across.repeat_interleave(heads, dim=0)


@contextmanager
def packed_attention(model, blocks_from):
    """Run ``model`` with each query attending only to the keys of its own sentence (packed rows)."""
    if blocks_from is None:
        yield
        return
    layers = getattr(_sentence_encoder(model), "layers", None)
    if not layers or not all(hasattr(layer, "self_attn") for layer in layers):
        raise WeamError("--input-mode packed needs a RoBERTa-style encoder (fairseq's TransformerEncoder layers): "
                        "use --input-mode separate with this model")
    masks = {}

    def add_mask(layer, args, kwargs):
        x = args[0]  # T x B x C
        key = (x.size(0), layer.self_attn.num_heads)
        if key not in masks:
            masks[key] = block_mask(blocks_from.to(x.device), *key)
        return args, {**kwargs, "attn_mask": masks[key]}

    handles = [layer.register_forward_pre_hook(add_mask, with_kwargs=True) for layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def encoder_inputs(model, net_input):
    """The positions and the packed rows' attention of ``net_input``, where the batch has them."""
    with ExitStack() as stack:
        stack.enter_context(given_positions(model, net_input.get("positions")))
        stack.enter_context(packed_attention(model, net_input.get("blocks_from")))
        yield
