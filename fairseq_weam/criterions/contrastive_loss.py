"""Sentence-level contrastive loss (InfoNCE over in-batch negatives, both directions), as InfoXLM's XLCo.

For a batch of B translation pairs (x_i, y_i) with sentence vectors u_i, v_i (pooled final states), the
similarity is ``s_ij = cos(u_i, v_j) / τ``; every x_i is a query whose positive is y_i and whose negatives are
the other B - 1 y of the batch, and symmetrically every y_j is a query over the x. The loss of a query is
``-log softmax(s)[own translation]``; 2B queries per batch.
"""
import torch
import torch.nn.functional as F

POOLINGS = ("cls", "mean")


def pool_states(states, tokens, pad, pooling):
    """B x C sentence vectors of ``states`` (B x T x C): the state of ``<s>`` (``cls``) or the mean over the
    non-padding positions, ``<s>`` and ``</s>`` included (``mean``)."""
    if pooling == "cls":
        return states[:, 0]
    if pooling != "mean":
        raise ValueError(f"unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    keep = tokens.ne(pad).unsqueeze(-1).to(states.dtype)
    return (states * keep).sum(1) / keep.sum(1).clamp_min(1.0)


def info_nce(x_vectors, y_vectors, temperature):
    """``(loss_sum, correct)`` over the 2B queries: the summed InfoNCE losses (nats) of x -> y and y -> x, and the
    number of queries whose own translation is the most similar (in-batch retrieval); computed in fp32."""
    similarity = F.normalize(x_vectors.float(), dim=-1) @ F.normalize(y_vectors.float(), dim=-1).T / temperature
    gold = torch.arange(similarity.size(0), device=similarity.device)
    loss = F.cross_entropy(similarity, gold, reduction="sum") + F.cross_entropy(similarity.T, gold, reduction="sum")
    correct = (similarity.argmax(1) == gold).sum() + (similarity.argmax(0) == gold).sum()
    return loss, correct
