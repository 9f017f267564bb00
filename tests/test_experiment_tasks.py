"""Catalog tasks (which group of catalogs is this message from?) on a locale tree compiled by the test; the
languages table's resource classes; translated-message counts and the measured resource levels."""
import pytest

from fairseq_weam.experiments.catalog_tasks import CatalogTaskError, CatalogTaskSettings, build_catalog_task
from fairseq_weam.experiments.grouped_report import measured_level, translated_messages
from fairseq_weam.xtreme.benchmark import TASK2LANGS
from fairseq_weam.xtreme.languages import LanguagesTableError, languages, read_languages
from test_gettext_bitext import write_mo

ENGLISH_A = [f"Country number {i}" for i in range(30)]
ENGLISH_B = [f"Open the file {i} now" for i in range(30)]


@pytest.fixture
def locale(tmp_path):
    root = tmp_path / "locale"
    shared = "Shared message"  # in both classes: ambiguous, dropped
    write_mo(root / "de/LC_MESSAGES/dom_a.mo", {**{e: f"DE {e}" for e in ENGLISH_A}, shared: "DE s"})
    write_mo(root / "de/LC_MESSAGES/dom_b.mo", {**{e: f"DE {e}" for e in ENGLISH_B}, shared: "DE s"})
    write_mo(root / "sw/LC_MESSAGES/dom_a.mo", {e: f"SW {e}" for e in ENGLISH_A[:12]})  # few translations
    return root


def rows(path):
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()]


def test_catalog_task_tests_each_language_on_its_own_translations_of_held_out_messages(tmp_path, locale):
    settings = CatalogTaskSettings(classes={"a": ["dom_a"], "b": ["dom_b"]}, test_langs=["de", "sw"], pool_langs=[],
                                   train_size=20, dev_size=6, test_size=10, locale_dir=str(locale), seed=3)
    report = build_catalog_task(tmp_path / "task", settings)
    task = tmp_path / "task"
    train, dev = rows(task / "train-en.tsv"), rows(task / "dev-en.tsv")
    assert sorted(l for _, l in train) == ["a"] * 10 + ["b"] * 10 and len(dev) == 6
    assert report["counts"]["dropped_ambiguous_a"] == 1 and all("Shared" not in t for t, _ in train + dev)
    sw, de = rows(task / "test-sw.tsv"), rows(task / "test-de.tsv")
    # sw translates only class a's first 12 messages: its test rows are some of those, at most 10 / 2 classes
    assert 1 <= len(sw) <= 5 and {l for _, l in sw} == {"a"}
    sw_sources = {t[len("SW "):] for t, _ in sw}
    assert sw_sources <= set(ENGLISH_A[:12])
    assert sorted(l for _, l in de) == ["a"] * 5 + ["b"] * 5
    assert all((t[len("DE "):] in ENGLISH_A) == (l == "a") for t, l in de)
    held_out = sw_sources | {t[len("DE "):] for t, _ in de} | {t for t, _ in rows(task / "test-en.tsv")}
    assert not held_out & {t for t, _ in train + dev}  # no test message is trained on, in any language
    assert report["examples"]["test-sw"] == len(sw)


def test_catalog_task_refuses_a_class_without_messages(tmp_path, locale):
    settings = CatalogTaskSettings(classes={"a": ["dom_a"], "c": ["dom_missing"]}, test_langs=["de"], pool_langs=[],
                                   locale_dir=str(locale))
    with pytest.raises(CatalogTaskError, match="class 'c': only 0 messages"):
        build_catalog_task(tmp_path / "task", settings)
    assert not (tmp_path / "task").exists()


def test_translated_message_counts_and_measured_levels(tmp_path, locale):
    cache = tmp_path / "counts.json"
    assert translated_messages(["de", "sw", "fi"], str(locale), cache) == {"de": 62, "sw": 12, "fi": 0}
    assert translated_messages(["sw"], str(locale), cache) == {"sw": 12}
    assert [measured_level(n, [20, 50]) for n in (12, 20, 62)] == ["low (<20 messages)", "mid (20-50)", "high (>=50)"]


def test_every_xtreme_r_language_has_a_joshi_class(tmp_path):
    table = languages()
    wanted = {lang for langs in TASK2LANGS["xtreme-r"].values() for lang in langs}
    assert all(table[lang].resource in range(6) for lang in wanted)
    # the paper's examples (Joshi et al. 2020, Table 1): winners, underdogs, rising stars, hopefuls
    assert [table[c].resource for c in ("en", "de", "ja", "ru", "ko", "nl", "id", "uk", "he", "zu")] == \
        [5, 5, 5, 4, 4, 4, 3, 3, 3, 2]
    path = tmp_path / "languages.tsv"
    path.write_text("code\tname\tfamily\tgenus\tscript\tresource\nen\tE\tI\tG\tL\t7\n", encoding="utf-8")
    with pytest.raises(LanguagesTableError, match=r":2: resource class '7' is not one of"):
        read_languages(path)
    path.write_text("code\tname\tfamily\tgenus\tscript\nen\tE\tI\tG\tL\n", encoding="utf-8")
    assert read_languages(path)["en"].resource is None  # the column is optional
