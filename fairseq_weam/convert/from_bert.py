"""A Hugging Face BERT (mBERT, any ``BertForMaskedLM`` / ``BertModel`` directory) as a fairseq RoBERTa.

BERT is a post-LN, GELU transformer like RoBERTa; what differs is mapped so the converted model gives the
same hidden states and masked-LM logits:
- vocabulary: fairseq index f holds BERT id ``bert_ids[f]`` (:class:`~fairseq_weam.prepare.hf_tokenizer.WordPieceVocabulary`:
  ``[CLS] [PAD] [SEP] [UNK]`` on ``<s> <pad> </s> <unk>``, ``[MASK]`` on ``<mask>``, last);
- positions: fairseq's learned positions start at ``padding_idx + 1`` = 2, so BERT position p is row p + 2;
- token types: fairseq has none; token type 0 (every token of a single-segment input) is added to every
  position row, which keeps the word embeddings (tied to the LM head) unchanged;
- LM head: ``cls.predictions`` (transform dense, GELU, LayerNorm, tied decoder, bias) in fairseq's order;
  a ``BertModel`` without one gets fairseq's freshly initialized head (said in the summary).
fairseq's LayerNorm has eps 1e-5; BERT's is usually 1e-12. The two agree where a LayerNorm's input varies
much more than 1e-5 (trained models); the conversion measures the difference on a probe input and reports it.
"""
import logging
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

from fairseq_weam.atomic import atomic_path
from fairseq_weam.convert.fairseq_model import ConvertError, build_roberta, roberta_args, roberta_flags, write_checkpoint
from fairseq_weam.prepare.hf_tokenizer import WordPieceVocabulary

logger = logging.getLogger(__name__)

FAIRSEQ_LAYER_NORM_EPS = 1e-5
CHECKPOINT_NAME = "model.pt"
FLAGS_NAME = "fairseq_model_flags.txt"
#: fairseq layer parameter <- BERT layer parameter (both without their layer prefix)
LAYER_NAMES = {
    "self_attn.q_proj": "attention.self.query",
    "self_attn.k_proj": "attention.self.key",
    "self_attn.v_proj": "attention.self.value",
    "self_attn.out_proj": "attention.output.dense",
    "self_attn_layer_norm": "attention.output.LayerNorm",
    "fc1": "intermediate.dense",
    "fc2": "output.dense",
    "final_layer_norm": "output.LayerNorm",
}
LM_HEAD_KEY = "cls.predictions.transform.dense.weight"


def load_bert(bert_dir):
    """``(BertForMaskedLM, config, has_lm_head)`` from a Hugging Face directory (config.json and weights)."""
    from transformers import BertConfig, BertForMaskedLM

    bert_dir = Path(bert_dir)
    if not (bert_dir / "config.json").is_file():
        raise ConvertError(f"{bert_dir}: no config.json; give a Hugging Face BERT directory "
                           "(config.json, model.safetensors or pytorch_model.bin, vocab.txt or tokenizer.json)")
    config = BertConfig.from_pretrained(str(bert_dir))
    if config.model_type != "bert":
        raise ConvertError(f"{bert_dir}/config.json: model_type {config.model_type!r}, not 'bert'")
    if config.hidden_act != "gelu":
        raise ConvertError(f"{bert_dir}/config.json: hidden_act {config.hidden_act!r}; fairseq's RoBERTa uses "
                           "'gelu' (erf), so only such a BERT converts exactly")
    if getattr(config, "position_embedding_type", "absolute") != "absolute" or config.is_decoder:
        raise ConvertError(f"{bert_dir}/config.json: only encoders with absolute positions convert to RoBERTa")
    try:
        model, info = BertForMaskedLM.from_pretrained(str(bert_dir), output_loading_info=True)
    except (OSError, ValueError) as err:
        raise ConvertError(f"{bert_dir}: transformers cannot load the weights ({str(err).splitlines()[0]})") from None
    missing = set(info.get("missing_keys", ()))
    encoder_missing = sorted(k for k in missing if not k.startswith("cls."))
    if encoder_missing:
        raise ConvertError(f"{bert_dir}: the weights lack {encoder_missing[0]} (and {len(encoder_missing) - 1} more)")
    model.eval()
    return model, config, LM_HEAD_KEY not in missing


def converted_state(bert_state: Dict[str, torch.Tensor], config, bert_ids: np.ndarray, fairseq_state: Dict,
                    has_lm_head: bool) -> Dict[str, torch.Tensor]:
    """fairseq's RoBERTa state dict (``fairseq_state``: a freshly built model's, for shapes and the LM head
    of a BERT without one) filled with BERT's weights."""
    ids = torch.as_tensor(bert_ids)
    out = dict(fairseq_state)
    enc = "encoder.sentence_encoder."
    emb = "bert.embeddings."
    out[enc + "embed_tokens.weight"] = bert_state[emb + "word_embeddings.weight"][ids]
    positions = bert_state[emb + "position_embeddings.weight"] + bert_state[emb + "token_type_embeddings.weight"][0]
    table = torch.zeros_like(fairseq_state[enc + "embed_positions.weight"])
    table[2:2 + positions.shape[0]] = positions
    out[enc + "embed_positions.weight"] = table
    out[enc + "layernorm_embedding.weight"] = bert_state[emb + "LayerNorm.weight"]
    out[enc + "layernorm_embedding.bias"] = bert_state[emb + "LayerNorm.bias"]
    for layer in range(config.num_hidden_layers):
        for fairseq_name, bert_name in LAYER_NAMES.items():
            for kind in ("weight", "bias"):
                out[f"{enc}layers.{layer}.{fairseq_name}.{kind}"] = \
                    bert_state[f"bert.encoder.layer.{layer}.{bert_name}.{kind}"]
    out["encoder.lm_head.weight"] = out[enc + "embed_tokens.weight"]
    if has_lm_head:
        for fairseq_name, bert_name in (("dense", "transform.dense"), ("layer_norm", "transform.LayerNorm")):
            for kind in ("weight", "bias"):
                out[f"encoder.lm_head.{fairseq_name}.{kind}"] = bert_state[f"cls.predictions.{bert_name}.{kind}"]
        out["encoder.lm_head.bias"] = bert_state["cls.predictions.bias"][ids]
    for key, value in out.items():
        if key in fairseq_state and value.shape != fairseq_state[key].shape:
            raise ConvertError(f"converted {key} has shape {tuple(value.shape)}, the fairseq model "
                               f"{tuple(fairseq_state[key].shape)}")
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def probe_difference(bert, fairseq_model, vocabulary: WordPieceVocabulary, length=16) -> float:
    """Largest |difference| of the final hidden states of both models on ``[CLS] + tokens + [SEP]``."""
    ids = vocabulary.regular_ids[:length]
    bert_ids = torch.tensor([[vocabulary.special_ids["<s>"], *ids, vocabulary.special_ids["</s>"]]])
    fairseq_ids = torch.tensor([[0, *range(4, 4 + len(ids)), 2]])
    with torch.no_grad():
        expected = bert.bert(input_ids=bert_ids).last_hidden_state
        got, _ = fairseq_model(fairseq_ids, features_only=True)
    return float((expected - got).abs().max())


def convert_bert(bert_dir, out_dir, log=print) -> List[str]:
    """Write ``out_dir``: ``model.pt`` (fairseq RoBERTa), ``dict.txt`` and the model flags; return the flags."""
    from fairseq.data import Dictionary

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConvertError(f"{out_dir} exists and is not empty: give a new output directory")
    bert, config, has_lm_head = load_bert(bert_dir)
    vocabulary = WordPieceVocabulary(bert_dir)
    if len(vocabulary.tokens) != config.vocab_size:
        raise ConvertError(f"{bert_dir}: the tokenizer has {len(vocabulary.tokens)} entries, the model "
                           f"{config.vocab_size} token embeddings; give the tokenizer saved with the model")
    flags = roberta_flags(config.num_hidden_layers, config.hidden_size, config.intermediate_size,
                          config.num_attention_heads, config.max_position_embeddings, config.hidden_dropout_prob,
                          config.attention_probs_dropout_prob)
    with atomic_path(out_dir, directory=True) as tmp:
        tmp = Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        vocabulary.write_dict(tmp / "dict.txt")
        dictionary = Dictionary.load(str(tmp / "dict.txt"))
        dictionary.add_symbol("<mask>")
        args = roberta_args(out_dir.resolve(), flags)
        model = build_roberta(args, dictionary)
        state = converted_state(bert.state_dict(), config, vocabulary.bert_ids(), model.state_dict(), has_lm_head)
        model.load_state_dict(state, strict=True)
        model.eval()
        difference = probe_difference(bert, model, vocabulary)
        write_checkpoint(tmp / CHECKPOINT_NAME, args, model.state_dict())
        (tmp / FLAGS_NAME).write_text(" ".join(flags) + "\n", encoding="utf-8")
    log(f"wrote {out_dir / CHECKPOINT_NAME} and {out_dir / 'dict.txt'} ({len(dictionary)} types with <mask>)")
    log(f"largest |hidden state difference| on a probe input: {difference:.2e}"
        + (f" (BERT's LayerNorm eps is {config.layer_norm_eps:g}, fairseq's {FAIRSEQ_LAYER_NORM_EPS:g})"
           if config.layer_norm_eps != FAIRSEQ_LAYER_NORM_EPS else ""))
    if not has_lm_head:
        log("the BERT weights have no masked-LM head (cls.predictions): the fairseq LM head is freshly initialized")
    log(f"fairseq-train model flags (also in {out_dir / FLAGS_NAME}): {' '.join(flags)}")
    return flags
