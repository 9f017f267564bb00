"""weam-convert from-hf and weam-prepare --hf-tokenizer: a tiny random BERT made here, converted, compared, trained on."""
import random

import numpy as np
import pytest
import torch
from weam_pair_data import write_word_bitext
from weam_testing import USER_DIR, run, tool, write_lines

pytestmark = pytest.mark.slow

WB = "\u2581"
SPECIALS = {"[CLS]": "<s>", "[PAD]": "<pad>", "[SEP]": "</s>", "[UNK]": "<unk>", "[MASK]": "<mask>"}
LETTERS = "abcdefgh"
EN = ["house", "tree", "abc", "bead", "face"]
DE = ["haus", "bach", "fach", "dach", "hage"]
VOCAB = (["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(LETTERS) + [f"##{c}" for c in LETTERS]
         + ["house", "tree", "haus", "##se", "##ch", "ba", "[unused1]"])


def fairseq_symbol(token):
    """fairseq's symbol of a BERT entry, written out by hand: specials on fairseq's, ## pieces continue a word."""
    if token in SPECIALS:
        return SPECIALS[token]
    return token[2:] if token.startswith("##") else WB + token


def continuation_words(tokens):
    """Words of WordPiece tokens: a token starting with ## joins the word before it."""
    words = []
    for t in tokens:
        if t.startswith("##") and words:
            words[-1].append(t)
        else:
            words.append([t])
    return words


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    root = tmp_path_factory.mktemp("bert")
    write_lines(root / "vocab.txt", VOCAB)
    torch.manual_seed(0)
    # fairseq's LayerNorm has eps 1e-5 (BERT's default 1e-12): the same eps makes the two models equal
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, layer_norm_eps=1e-5)
    model = BertForMaskedLM(config)
    with torch.no_grad():  # BERT's token type 0 and the LM bias are not zero in a trained model
        model.bert.embeddings.token_type_embeddings.weight.normal_(0, 0.5)
        model.cls.predictions.bias.normal_(0, 0.5)
    out = root / "tiny-bert"
    model.save_pretrained(out)
    BertTokenizer(vocab=str(root / "vocab.txt"), do_lower_case=True).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def converted(bert_dir, tmp_path_factory):
    from fairseq_weam.cli.convert import main

    out = tmp_path_factory.mktemp("conv") / "fairseq"
    assert main(["from-hf", str(bert_dir), str(out)]) == 0
    return out


def test_dictionary_maps_bert_entries_onto_fairseq_symbols(converted):
    from fairseq.data import Dictionary

    d = Dictionary.load(str(converted / "dict.txt"))
    d.add_symbol("<mask>")
    assert len(d) == len(VOCAB)
    assert [d[i] for i in range(4)] == ["<s>", "<pad>", "</s>", "<unk>"] and d[len(d) - 1] == "<mask>"
    regular = [t for t in VOCAB if t not in SPECIALS]
    assert [d[i] for i in range(4, len(d) - 1)] == [fairseq_symbol(t) for t in regular]


def test_converted_model_gives_bert_hidden_states_and_mlm_logits(bert_dir, converted):
    from fairseq import checkpoint_utils
    from fairseq.data import Dictionary
    from transformers import BertForMaskedLM

    import fairseq_weam  # noqa: F401  (fairseq reads checkpoints weights-only)

    bert = BertForMaskedLM.from_pretrained(str(bert_dir)).eval()
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(converted / "model.pt")],
                                                                   arg_overrides={"data": str(converted)})
    model.eval()
    d = Dictionary.load(str(converted / "dict.txt"))
    d.add_symbol("<mask>")
    to_fairseq = torch.tensor([d.index(fairseq_symbol(t)) for t in VOCAB])
    bert_of_fairseq = torch.argsort(to_fairseq)

    rng = random.Random(1)
    body = [i for i, t in enumerate(VOCAB) if t not in SPECIALS or t in ("[UNK]", "[MASK]")]
    lengths = [20, 13, 5]
    ids = torch.full((3, 22), VOCAB.index("[PAD]"))
    for row, n in enumerate(lengths):
        ids[row, :n + 2] = torch.tensor([VOCAB.index("[CLS]")] + [rng.choice(body) for _ in range(n)]
                                        + [VOCAB.index("[SEP]")])
    mask = ids != VOCAB.index("[PAD]")
    with torch.no_grad():
        out = bert(input_ids=ids, attention_mask=mask.long(), token_type_ids=torch.zeros_like(ids),
                   output_hidden_states=True)
        logits, extra = model(to_fairseq[ids], return_all_hiddens=True)
        features, _ = model(to_fairseq[ids], features_only=True)
    assert to_fairseq[VOCAB.index("[PAD]")] == 1
    assert torch.allclose(features[mask], out.hidden_states[-1][mask], atol=1e-5)
    assert (features[mask] - out.hidden_states[-1][mask]).abs().max() < 1e-5
    assert (logits[mask] - out.logits[mask][:, bert_of_fairseq]).abs().max() < 1e-5
    assert (out.hidden_states[-1][mask].abs().max()) > 0.5  # not trivially equal


@pytest.fixture(scope="module")
def prepared(bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("wp")
    write_word_bitext(root / "RAW", EN, DE, n_train=60, n_valid=12, max_len=7)
    run([tool("weam-prepare"), "--raw-dir", root / "RAW", "--dest-dir", root / "DATA", "--hf-tokenizer", bert_dir,
         "--aligner", "precomputed", "--workers", "1"])
    return root


def test_prepare_with_the_hf_tokenizer_writes_bert_pieces_and_their_word_links(bert_dir, converted, prepared):
    from fairseq.data import Dictionary, data_utils
    from transformers import AutoTokenizer

    data = prepared / "DATA"
    assert (data / "dict.txt").read_text() == (converted / "dict.txt").read_text()
    tokenizer = AutoTokenizer.from_pretrained(str(bert_dir))
    d = Dictionary.load(str(data / "dict.txt"))
    d.add_symbol("<mask>")
    bert_of_fairseq = {d.index(fairseq_symbol(t)): i for i, t in enumerate(VOCAB)}
    lines = {lang: (prepared / "RAW" / f"train.en-de.{lang}").read_text().splitlines() for lang in ("en", "de")}
    word_links = [line.split() for line in (prepared / "RAW" / "train.en-de.align").read_text().splitlines()]
    tokens = {lang: data_utils.load_indexed_dataset(str(data / f"train.en-de.{lang}"), d) for lang in ("en", "de")}
    piece_links = data_utils.load_indexed_dataset(str(data / "train.align.en-de"), None)
    assert len(tokens["en"]) == len(lines["en"])
    for n in range(len(lines["en"])):
        words, starts = {}, {}
        for lang in ("en", "de"):
            expected = tokenizer(lines[lang][n], add_special_tokens=False)["input_ids"]
            got = [bert_of_fairseq[int(i)] for i in tokens[lang][n][:-1]]  # </s> appended by fairseq
            assert got == expected
            pieces = tokenizer.convert_ids_to_tokens(expected)
            words[lang] = continuation_words(pieces)
            starts[lang] = np.cumsum([0] + [len(w) for w in words[lang]])
        expected_links = set()
        for link in word_links[n]:
            i, j = map(int, link.split("-"))
            expected_links |= {(a, b) for a in range(starts["en"][i], starts["en"][i + 1])
                               for b in range(starts["de"][j], starts["de"][j + 1])}
        got_links = set(map(tuple, piece_links[n].view(-1, 2).tolist()))
        assert got_links == expected_links
    assert any(len(w) > 1 for w in words["en"])  # multi-piece words were linked


def test_weam_trains_from_the_converted_bert(converted, prepared):
    flags = (converted / "fairseq_model_flags.txt").read_text().split()
    proc = run([tool("fairseq-train"), prepared / "DATA", "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
                *flags, "--tokens-per-sample", "64", "--batch-size", "8", "--optimizer", "adam", "--lr", "1e-4",
                "--max-update", "2", "--save-dir", prepared / "ckpt", "--cpu", "--num-workers", "0",
                "--log-format", "simple", "--log-interval", "1", "--no-epoch-checkpoints", "--mask-whole-words",
                "--restore-file", converted / "model.pt", "--reset-optimizer", "--reset-dataloader",
                "--reset-meters", "--reset-lr-scheduler"])
    log = proc.stdout + proc.stderr
    assert f"Loaded checkpoint {converted / 'model.pt'}" in log
    assert "num_updates=2" in log and "cl_tokens=" in log
