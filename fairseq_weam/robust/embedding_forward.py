"""Run a RoBERTa/XLM-R classifier from (possibly perturbed) input token embeddings.

``RobertaModel.forward`` drops ``token_embeddings`` (which is why fairseq's R3F criterion perturbs
nothing on RoBERTa); ``RobertaEncoder.extract_features`` does pass them on to the transformer, which
scales them by ``embed_scale`` and then adds positions and the embedding LayerNorm. So a perturbation of
``embed_tokens(src_tokens)`` lands before positions and LayerNorm, as in the robust-training papers.
"""


def token_embeddings(model, src_tokens):
    """The raw (unscaled, position-free) input embeddings, B x T x C."""
    return model.encoder.sentence_encoder.embed_tokens(src_tokens)


def padding_mask(model, src_tokens):
    """B x T, True at padding positions."""
    return src_tokens.eq(model.encoder.sentence_encoder.padding_idx)


def classify(model, src_tokens, head_name, embeddings=None):
    """Logits of classification head ``head_name`` for ``src_tokens``, optionally from given embeddings."""
    if head_name not in getattr(model, "classification_heads", {}):
        raise KeyError(
            f"the model has no classification head {head_name!r} (heads: "
            f"{', '.join(getattr(model, 'classification_heads', {}).keys()) or 'none'}); "
            "fine-tune with --task sentence_prediction or pass the right --classification-head-name"
        )
    features, _ = model.encoder.extract_features(src_tokens, token_embeddings=embeddings)
    return model.classification_heads[head_name](features)


def features(model, src_tokens, embeddings=None):
    """Last-layer states B x T x C for ``src_tokens``, optionally from given input token embeddings (for heads
    that read every position: token tagging, span extraction)."""
    states, _ = model.encoder.extract_features(src_tokens, token_embeddings=embeddings)
    return states
