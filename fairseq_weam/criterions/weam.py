"""The ``weam`` criterion: multilingual prediction plus cross-lingual (word-exchange) prediction.

L = mean_ml + λ·mean_cl, each term averaged over its own predicted pieces, so that λ means the same whatever
the alignment coverage. mean_ml is the masked-LM cross-entropy over the masked pieces of x and y. For
mean_cl, every masked piece with links gets h̃ = the mean of the final-layer states of the pieces it is
linked to in the other sentence, and its token is predicted from h̃ by the same LM head; masked pieces
without links add nothing. The batch lists the (query, key) pairs in ``sample["cross_links"]``
(``ObjectiveBatchDataset``); for ``tlm`` / ``mlm`` batches it is empty and the criterion is the plain
masked-LM loss, with the same logged keys.

Cost. The collater precomputes one gather of every prediction (masked pieces, then exchanged states), so the
step runs the LM head once over both sets, with fairseq's (fused where available) cross-entropy, and never
reads a size back from the device: the counts are Python ints of the batch.

Normalization. fairseq divides the summed gradients of all micro-batches (``--update-freq``) and workers by
the sum of their ``sample_size``. This criterion returns ``ml_sum + λ·(ml_tokens/cl_tokens)·cl_sum`` with
``sample_size = ml_tokens``: on one batch that is exactly mean_ml + λ·mean_cl; over several, the ml term is
the global per-token mean, exactly as fairseq's ``masked_lm`` (so ``--update-freq 2`` equals the bigger
batch), and the cl term is exact whenever the micro-batches share their coverage ``cl_tokens/ml_tokens``
(else each micro-batch's cl mean is weighted by its share of masked pieces). Returning a per-batch mean with
``sample_size = 1`` would instead weight every micro-batch equally, whatever its size, for both terms.
The logged ``loss`` is ``ml_loss + λ·cl_loss`` of the global means (base 2, per own pieces).

Contrastive. ``--objective contrastive`` batches (unmasked rows, ``objective == "contrastive"``) get InfoNCE over
in-batch negatives in both directions (``contrastive_loss.py``), summed over the 2B queries with
``sample_size = 2B``; logged as ``ctr_loss`` (bits per query) and ``ctr_acc`` (in-batch retrieval, %). A
weam/tlm/mlm batch that carries ``batch["contrastive"]`` (``--contrastive-weight w``) adds
``w·(ml_tokens/queries)·ctr_sum``, i.e. ``+ w·mean_ctr`` on one batch, by the same rule as the cl term.

Hybrid. A batch ``{"objectives": {name: batch}}`` (``--objective hybrid``) gets, per objective, the loss that
objective has alone on those items divided by its own ``sample_size`` (its mean over its own items), and their
sum (the contrastive mean times ``w``, default 1) with ``sample_size = 1``: every micro-batch counts alike.
Each objective's parts are logged under its name (``weam_loss``, ``weam_ml_loss``, ``contrastive_ctr_acc``, ...).
"""
import math
from dataclasses import dataclass, field

import torch
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.modules.cross_entropy import cross_entropy

from fairseq_weam.criterions.contrastive_loss import POOLINGS, info_nce, pool_states
from fairseq_weam.criterions.encoder_inputs import encoder_inputs
from fairseq_weam.errors import WeamError


MASKED_KEYS = ("loss", "ml_loss", "cl_loss", "weighted_cl_loss", "ml_correct", "cl_correct", "ml_tokens", "cl_tokens",
               "ntokens", "nsentences", "sample_size")
CONTRASTIVE_KEYS = ("loss", "weighted_ctr_loss", "ctr_loss", "ctr_correct", "ctr_queries", "ntokens", "nsentences",
                    "sample_size")


@dataclass
class WeamCriterionConfig(FairseqDataclass):
    cl_weight: float = field(
        default=1.0,
        metadata={"help": "λ in L = mean_ml + λ·mean_cl (each mean over its own predicted pieces)"},
    )
    contrastive_temperature: float = field(
        default=0.1,
        metadata={"help": "τ of the contrastive loss: similarities are cos(u, v) / τ"},
    )
    contrastive_pooling: ChoiceEnum(POOLINGS) = field(
        default="mean",
        metadata={"help": "sentence vector of the contrastive loss: final state of <s> (cls, as InfoXLM) or the mean "
                          "of the final states of the sentence's positions (mean)"},
    )


def mean_linked_states(flat, keys, slot, counts):
    """Per slot, the mean of its keys' states: ``flat`` (B*T) x C states, ``keys`` N positions in it, ``slot`` N
    slot numbers in ``[0, len(counts))``, ``counts`` the keys per slot (all given by the collater: no device sync)."""
    summed = flat.new_zeros(len(counts), flat.size(1)).index_add_(0, slot, flat.index_select(0, keys))
    return summed / counts.to(flat.dtype).unsqueeze(1)


@register_criterion("weam", dataclass=WeamCriterionConfig)
class WeamCriterion(FairseqCriterion):
    def __init__(self, task, cl_weight=1.0, contrastive_temperature=0.1, contrastive_pooling="mean"):
        super().__init__(task)
        if not contrastive_temperature > 0:
            raise WeamError(f"--contrastive-temperature {contrastive_temperature} must be > 0 (e.g. 0.1)")
        self.cl_weight = cl_weight
        self.temperature = contrastive_temperature
        self.pooling = contrastive_pooling
        weight = getattr(getattr(task, "cfg", None), "contrastive_weight", None)
        self.contrastive_weight = 1.0 if weight is None else float(weight)

    def forward(self, model, sample, reduce=True):
        if "objectives" in sample:
            return self.hybrid_terms(model, sample)
        return self.objective_terms(model, sample)

    def objective_terms(self, model, sample):
        """``(loss, sample_size, logging_output)`` of one objective's batch (see the module docstring)."""
        if sample.get("objective") == "contrastive":
            loss, queries, log = self.contrastive_terms(model, sample)
            log.update(loss=loss.data, weighted_ctr_loss=loss.data, ntokens=sample["ntokens"],
                       nsentences=sample["nsentences"], sample_size=queries)
            return loss, queries, log
        loss, ml_tokens, log = self.masked_terms(model, sample)
        if "contrastive" in sample:
            ctr_loss, queries, ctr_log = self.contrastive_terms(model, sample["contrastive"])
            loss = loss + (self.contrastive_weight * ml_tokens / max(queries, 1)) * ctr_loss
            log.update(ctr_log, loss=loss.data, weighted_ctr_loss=self.contrastive_weight * ctr_loss.data)
        return loss, ml_tokens, log

    def masked_terms(self, model, sample):
        """mean_ml + λ·mean_cl of a weam / tlm / mlm batch, in the summed form of the module docstring."""
        net_input = sample["net_input"]
        with encoder_inputs(model, net_input):  # positions of restarting rows, packed rows' attention
            features = model(net_input["src_tokens"], features_only=True)[0]
        flat = features.reshape(-1, features.size(-1))
        ml_tokens, cl_tokens = sample["ml_tokens"], sample["cl_tokens"]  # Python ints from the collater

        # one LM-head pass over every prediction: the masked pieces' own states (mean of one), then the
        # exchanged states (mean of the linked pieces of the other sentence)
        states = mean_linked_states(flat, sample["gather_positions"], sample["gather_slot"], sample["gather_counts"])
        logits = model.encoder.output_layer(states)
        targets = sample["prediction_target"]
        losses = cross_entropy(logits, targets, reduction="none")
        correct = logits.argmax(-1) == targets
        ml_loss, cl_loss = losses[:ml_tokens].sum(), losses[ml_tokens:].sum()
        ml_correct, cl_correct = correct[:ml_tokens].sum(), correct[ml_tokens:].sum()

        # / sample_size (= ml_tokens) this is mean_ml + λ·mean_cl; see the module docstring
        loss = ml_loss + (self.cl_weight * ml_tokens / max(cl_tokens, 1)) * cl_loss
        logging_output = {
            "loss": loss.data,
            "ml_loss": ml_loss.data,
            "cl_loss": cl_loss.data,
            "weighted_cl_loss": self.cl_weight * cl_loss.data,
            "ml_correct": ml_correct,
            "cl_correct": cl_correct,
            "ml_tokens": ml_tokens,
            "cl_tokens": cl_tokens,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": ml_tokens,
        }
        return loss, ml_tokens, logging_output

    def contrastive_terms(self, model, rows):
        """Summed InfoNCE of a contrastive batch (rows 0..B-1 are x, B..2B-1 their y), its 2B queries, its log."""
        tokens = rows["net_input"]["src_tokens"]
        features = model(tokens, features_only=True)[0]
        vectors = pool_states(features, tokens, self.padding_idx, self.pooling)
        pairs = rows["nsentences"]
        loss, correct = info_nce(vectors[:pairs], vectors[pairs:], self.temperature)
        return loss, 2 * pairs, {"ctr_loss": loss.data, "ctr_correct": correct, "ctr_queries": 2 * pairs}

    def hybrid_terms(self, model, sample):
        """Σ over the batch's objectives of its mean over its own items (contrastive's times w); sample_size 1."""
        total = 0.0
        log = {"hybrid": 1, "ntokens": sample["ntokens"], "nsentences": sample["nsentences"], "sample_size": 1}
        names = getattr(self.task, "objective_names", lambda: list(sample["objectives"]))()
        for name in names:  # every objective's keys, zero where the batch has none of its items: workers and
            keys = CONTRASTIVE_KEYS if name == "contrastive" else MASKED_KEYS  # micro-batches sum the same keys
            log.update({f"{name}:{key}": 0 for key in keys})
        for name, batch in sample["objectives"].items():
            loss, size, parts = self.objective_terms(model, batch)
            weight = self.contrastive_weight if name == "contrastive" else 1.0
            total = total + loss * (weight / max(size, 1))
            log.update({f"{name}:{key}": value for key, value in parts.items()})
        log["loss"] = total.data if torch.is_tensor(total) else total
        return total, 1, log

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        """Losses in bits per prediction (base 2, as fairseq's masked_lm), each per its own pieces or queries;
        ``loss`` = ``ml_loss`` + λ·``cl_loss`` (+ w·``ctr_loss``); accuracies in %. Hybrid runs log ``loss`` as the
        mean over batches of the summed objective means, and each objective's parts under its name."""

        def total(key):
            return utils.item(sum(log.get(key, 0) for log in logging_outputs))

        if any("hybrid" in log for log in logging_outputs):
            batches = total("sample_size")
            metrics.log_scalar("loss", total("loss") / max(batches, 1) / math.log(2), batches, round=3)
            names = sorted({key.split(":")[0] for log in logging_outputs for key in log if ":" in key})
            for name in names:
                size = total(f"{name}:sample_size")
                if size:
                    metrics.log_scalar(f"{name}_loss", total(f"{name}:loss") / size / math.log(2), size, round=3)
                log_parts(total, f"{name}:", f"{name}_")
            return
        ml_tokens, cl_tokens, queries = total("ml_tokens"), total("cl_tokens"), total("ctr_queries")
        ml_mean = total("ml_loss") / max(ml_tokens, 1) / math.log(2)
        weighted_cl_mean = total("weighted_cl_loss") / max(cl_tokens, 1) / math.log(2)
        weighted_ctr_mean = total("weighted_ctr_loss") / max(queries, 1) / math.log(2)
        metrics.log_scalar("loss", ml_mean + weighted_cl_mean + weighted_ctr_mean, ml_tokens or queries, round=3)
        log_parts(total, "", "")
        if ml_tokens:
            metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["ml_loss"].avg))

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def log_parts(total, key_prefix, name_prefix):
    """Log the masked-LM (ml, cl) and contrastive (ctr) parts found under ``key_prefix`` as ``name_prefix``+name."""
    ml_tokens, cl_tokens = total(key_prefix + "ml_tokens"), total(key_prefix + "cl_tokens")
    queries = total(key_prefix + "ctr_queries")
    if ml_tokens:
        parts = (("ml", ml_tokens), ("cl", cl_tokens)) if cl_tokens or not key_prefix else (("ml", ml_tokens),)
        for part, tokens in parts:  # an objective of a hybrid without cross-lingual predictions logs no cl part
            metrics.log_scalar(f"{name_prefix}{part}_loss",
                               total(f"{key_prefix}{part}_loss") / max(tokens, 1) / math.log(2), tokens, round=3)
            metrics.log_scalar(f"{name_prefix}{part}_acc",
                               100.0 * total(f"{key_prefix}{part}_correct") / max(tokens, 1), tokens, round=2)
            metrics.log_scalar(f"{name_prefix}{part}_tokens", tokens, priority=900, round=0)
    if queries:
        metrics.log_scalar(f"{name_prefix}ctr_loss", total(key_prefix + "ctr_loss") / queries / math.log(2), queries,
                           round=3)
        metrics.log_scalar(f"{name_prefix}ctr_acc", 100.0 * total(key_prefix + "ctr_correct") / queries, queries,
                           round=2)
