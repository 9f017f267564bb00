"""A fairseq RoBERTa / XLM-R checkpoint (WEAM, TLM, MLM; or fine-tuned by ``sentence_prediction``) as a Hugging
Face ``XLMRobertaForMaskedLM`` / ``XLMRobertaForSequenceClassification`` directory with its tokenizer.

The weights map one to one (XLM-R in transformers is fairseq's RoBERTa: learned positions from
``padding_idx + 1``, post-LN, GELU, LayerNorm eps 1e-5; its single token type is zero). The tokenizer is
built from the sentencepiece model and the fairseq ``dict.txt`` together: token id = fairseq index, in the
dictionary's own order, so it is right whether or not ``dict.txt`` lists the model's pieces in
sentencepiece's id order (the ``+1`` offset transformers' sentencepiece conversion assumes). When it does,
``sentencepiece.bpe.model`` is copied too, for tokenizers that read it.
"""
import json
import shutil
from pathlib import Path
from typing import Dict, List, Optional

import torch

from fairseq_weam.atomic import atomic_path
from fairseq_weam.convert.fairseq_model import ConvertError, read_checkpoint
from fairseq_weam.text.pieces import WORD_BOUNDARY

ENC = "encoder.sentence_encoder."
#: transformers layer parameter <- fairseq layer parameter (both without their layer prefix)
LAYER_NAMES = {
    "attention.self.query": "self_attn.q_proj",
    "attention.self.key": "self_attn.k_proj",
    "attention.self.value": "self_attn.v_proj",
    "attention.output.dense": "self_attn.out_proj",
    "attention.output.LayerNorm": "self_attn_layer_norm",
    "intermediate.dense": "fc1",
    "output.dense": "fc2",
    "output.LayerNorm": "final_layer_norm",
}
SPM_NAME = "sentencepiece.bpe.model"
SPECIAL_SYMBOLS = ("<s>", "<pad>", "</s>", "<unk>")


def _arg(args, name, default=None):
    return args.get(name, default) if isinstance(args, dict) else getattr(args, name, default)


def _check_architecture(args, weights: Dict, path):
    for name, wanted in (("encoder_normalize_before", False), ("no_scale_embedding", True),
                         ("layernorm_embedding", True)):
        value = _arg(args, name, wanted)
        if bool(value) != wanted:
            raise ConvertError(f"{path}: {name}={value}; XLM-R in transformers is post-LN RoBERTa "
                               f"({name}={wanted}), so this model has no XLMRoberta equivalent")
    if _arg(args, "activation_fn", "gelu") != "gelu":
        raise ConvertError(f"{path}: activation_fn={_arg(args, 'activation_fn')}; only gelu converts exactly")
    if ENC + "embed_tokens.weight" not in weights:
        raise ConvertError(f"{path}: no {ENC}embed_tokens.weight: not a fairseq RoBERTa / XLM-R checkpoint")


def xlmr_config(args, weights: Dict, num_labels: Optional[int] = None, id2label=None):
    from transformers import XLMRobertaConfig

    vocab, dim = weights[ENC + "embed_tokens.weight"].shape
    layers = 1 + max(int(k[len(ENC) + len("layers."):].split(".")[0]) for k in weights if k.startswith(ENC + "layers."))
    extra = {"num_labels": num_labels} if num_labels else {}
    if id2label:
        extra.update(id2label=id2label, label2id={v: k for k, v in id2label.items()})
    return XLMRobertaConfig(
        vocab_size=vocab, hidden_size=dim, num_hidden_layers=layers,
        num_attention_heads=_arg(args, "encoder_attention_heads"),
        intermediate_size=weights[ENC + "layers.0.fc1.weight"].shape[0],
        max_position_embeddings=weights[ENC + "embed_positions.weight"].shape[0], type_vocab_size=1,
        layer_norm_eps=1e-5, hidden_act="gelu", pad_token_id=1, bos_token_id=0, eos_token_id=2,
        hidden_dropout_prob=_arg(args, "dropout", 0.1), attention_probs_dropout_prob=_arg(args, "attention_dropout", 0.1),
        classifier_dropout=_arg(args, "pooler_dropout", None),
        tie_word_embeddings=not _arg(args, "untie_weights_roberta", False), **extra,
    )


def xlmr_state(weights: Dict, config, head: Optional[str]) -> Dict[str, torch.Tensor]:
    """transformers' state dict of XLMRobertaForMaskedLM (``head`` None) or ...ForSequenceClassification."""
    out = {
        "roberta.embeddings.word_embeddings.weight": weights[ENC + "embed_tokens.weight"],
        "roberta.embeddings.position_embeddings.weight": weights[ENC + "embed_positions.weight"],
        "roberta.embeddings.token_type_embeddings.weight": torch.zeros(1, config.hidden_size),
        "roberta.embeddings.LayerNorm.weight": weights[ENC + "layernorm_embedding.weight"],
        "roberta.embeddings.LayerNorm.bias": weights[ENC + "layernorm_embedding.bias"],
    }
    for layer in range(config.num_hidden_layers):
        for hf_name, fairseq_name in LAYER_NAMES.items():
            for kind in ("weight", "bias"):
                out[f"roberta.encoder.layer.{layer}.{hf_name}.{kind}"] = \
                    weights[f"{ENC}layers.{layer}.{fairseq_name}.{kind}"]
    if head is None:
        for hf_name, fairseq_name in (("dense", "dense"), ("layer_norm", "layer_norm")):
            for kind in ("weight", "bias"):
                out[f"lm_head.{hf_name}.{kind}"] = weights[f"encoder.lm_head.{fairseq_name}.{kind}"]
        out["lm_head.decoder.weight"] = weights["encoder.lm_head.weight"]
        out["lm_head.bias"] = weights["encoder.lm_head.bias"]
    else:
        for name in ("dense", "out_proj"):
            for kind in ("weight", "bias"):
                out[f"classifier.{name}.{kind}"] = weights[f"classification_heads.{head}.{name}.{kind}"]
    return {k: v.float().contiguous() for k, v in out.items()}


def _heads(weights: Dict) -> List[str]:
    return sorted({k.split(".")[1] for k in weights if k.startswith("classification_heads.")})


def _read_dict(dict_path) -> List[str]:
    symbols = []
    with open(dict_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split(" ")
            if len(fields) < 2 or not fields[0]:
                raise ConvertError(f"{dict_path}:{n}: not a fairseq dict.txt line ('symbol count')")
            symbols.append(fields[0])
    return symbols


def build_tokenizer(spm_model, dict_path):
    """``(XLMRobertaTokenizer, layout_matches)``: ids are fairseq's (``<s> <pad> </s> <unk>``, dict.txt, ``<mask>``);
    ``layout_matches``: dict.txt is the model's pieces in sentencepiece id order (fairseq id = spm id + 1)."""
    from sentencepiece import sentencepiece_model_pb2
    from transformers import XLMRobertaTokenizer

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(Path(spm_model).read_bytes())
    if proto.trainer_spec.model_type != sentencepiece_model_pb2.TrainerSpec.UNIGRAM:
        raise ConvertError(f"{spm_model}: a {sentencepiece_model_pb2.TrainerSpec.ModelType.Name(proto.trainer_spec.model_type)} "
                           "sentencepiece model; XLMRobertaTokenizer is a unigram model, so only unigram models "
                           "(XLM-R's, weam-prepare's default) export exactly")
    scores = {p.piece: p.score for p in proto.pieces}
    floor = min(scores.values()) - 10.0
    symbols = _read_dict(dict_path)
    vocab = [(s, 0.0) for s in SPECIAL_SYMBOLS] + [(s, scores.get(s, floor)) for s in symbols] + [("<mask>", 0.0)]
    tokenizer = XLMRobertaTokenizer(vocab=vocab, _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap,
                                    add_prefix_space=proto.normalizer_spec.add_dummy_prefix)
    regular = [p.piece for p in proto.pieces[3:]]
    matches = ([p.piece for p in proto.pieces[:3]] == ["<unk>", "<s>", "</s>"] and symbols[:len(regular)] == regular
               and all(s.startswith("madeupword") for s in symbols[len(regular):]))
    return tokenizer, matches


def _default_data_file(task_args, names: List[str], flag: str, path) -> Path:
    data = _arg(task_args, "data") if task_args is not None else None
    for name in names:
        if data and (Path(data) / name).is_file():
            return Path(data) / name
    raise ConvertError(f"{path}: cannot find {' or '.join(names)} under the checkpoint's data directory ({data}): "
                       f"give {flag}")


def export_xlmr(checkpoint, out_dir, dict_path=None, spm_model=None, head=None, label_dict=None, masked_lm=False,
                log=print) -> Path:
    """Write ``out_dir`` (config.json, model.safetensors, tokenizer) from a fairseq checkpoint."""
    from transformers import XLMRobertaForMaskedLM, XLMRobertaForSequenceClassification

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConvertError(f"{out_dir} exists and is not empty: give a new output directory")
    state = read_checkpoint(checkpoint)
    weights, args = state["model"], state["model_args"]
    _check_architecture(args, weights, checkpoint)
    heads = _heads(weights)
    if head is not None and head not in heads:
        raise ConvertError(f"{checkpoint}: no classification head {head!r} (heads: {', '.join(heads) or 'none'})")
    if head is None and heads and not masked_lm:
        if len(heads) > 1:
            raise ConvertError(f"{checkpoint}: heads {', '.join(heads)}: choose one with --classification-head, "
                               "or export the masked LM with --masked-lm")
        head = heads[0]
    if masked_lm:
        head = None
    dict_path = Path(dict_path) if dict_path else _default_data_file(
        state["task_args"], ["dict.txt", "input0/dict.txt"], "--dict", checkpoint)
    spm_model = Path(spm_model) if spm_model else (dict_path.parent / SPM_NAME if (dict_path.parent / SPM_NAME).is_file()
                                                   else _default_data_file(state["task_args"], [SPM_NAME], "--spm-model", checkpoint))
    symbols = _read_dict(dict_path)
    vocab_rows = weights[ENC + "embed_tokens.weight"].shape[0]
    if len(symbols) + len(SPECIAL_SYMBOLS) + 1 != vocab_rows:
        raise ConvertError(f"{dict_path} gives {len(symbols) + 5} types with <mask>, the checkpoint {checkpoint} has "
                           f"{vocab_rows} token embeddings: give the dict.txt the model was trained with (--dict)")
    if not any(s.startswith(WORD_BOUNDARY) for s in symbols):
        raise ConvertError(f"{dict_path}: no ▁ piece: not a sentencepiece dictionary (a model from weam-convert "
                           "from-hf keeps BERT's WordPiece vocabulary, which XLMRobertaTokenizer cannot encode)")
    id2label = None
    label_path = Path(label_dict) if label_dict else None
    if head is not None and label_path is None and state["task_args"] is not None and _arg(state["task_args"], "data"):
        candidate = Path(_arg(state["task_args"], "data")) / "label" / "dict.txt"
        label_path = candidate if candidate.is_file() else None
    if head is not None and label_path is not None:
        labels = [s for s in _read_dict(label_path) if not s.startswith("madeupword")]  # fairseq-preprocess padding
        n = weights[f"classification_heads.{head}.out_proj.weight"].shape[0]
        if len(labels) != n:
            raise ConvertError(f"{label_path}: {len(labels)} labels, the head {head!r} has {n} outputs")
        id2label = dict(enumerate(labels))
    num_labels = weights[f"classification_heads.{head}.out_proj.weight"].shape[0] if head else None
    config = xlmr_config(args, weights, num_labels, id2label)
    model_class = XLMRobertaForSequenceClassification if head else XLMRobertaForMaskedLM
    model = model_class(config)
    missing, unexpected = model.load_state_dict(xlmr_state(weights, config, head), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and not k.endswith("token_type_ids")
               and k != "lm_head.decoder.bias"]
    if missing or unexpected:
        raise ConvertError(f"{checkpoint}: weights do not fit {model_class.__name__} (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]})")
    tokenizer, layout_matches = build_tokenizer(spm_model, dict_path)
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        if layout_matches:
            shutil.copyfile(spm_model, Path(tmp) / SPM_NAME)
        (Path(tmp) / "weam_export.json").write_text(json.dumps({
            "checkpoint": str(Path(checkpoint).resolve()), "dict": str(dict_path.resolve()),
            "spm_model": str(spm_model.resolve()), "model_class": model_class.__name__,
            "classification_head": head, "dict_in_sentencepiece_order": layout_matches}, indent=1), encoding="utf-8")
    log(f"wrote {out_dir}: {model_class.__name__}"
        + (f" (head {head!r}, {num_labels} labels)" if head else "")
        + f", tokenizer with fairseq's ids{'' if layout_matches else ' (dict.txt not in sentencepiece order: tokenizer.json only)'}")
    return out_dir
