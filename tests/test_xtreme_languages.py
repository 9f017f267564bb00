"""The shipped languages table: every XTREME-R language, well-formed; the loader's one-line errors."""
import pytest

from fairseq_weam.xtreme.benchmark import TASK2LANGS
from fairseq_weam.xtreme.languages import TABLE, LanguagesTableError, languages, lookup, read_languages


def test_every_xtreme_r_language_is_in_the_table_with_every_column():
    table = languages()
    wanted = {lang for langs in TASK2LANGS["xtreme-r"].values() for lang in langs}
    assert len(wanted) == 50 and wanted <= set(table)
    for code in wanted:
        assert all(table[code]), code
    # a few facts checked by hand against WALS / ISO 15924
    assert table["eu"].family == "Basque" and table["fi"].genus == "Finnic" and table["hu"].genus == "Ugric"
    assert (table["ur"].script, table["hi"].script) == ("Arabic", "Devanagari")  # one language, two scripts
    assert table["kk"].script == "Cyrillic" and table["tr"].family == table["kk"].family == "Turkic"
    assert table["ht"].name == "Haitian Creole" and table["qu"].family == "Quechuan"
    assert "Glottolog" in TABLE.read_text(encoding="utf-8") and "wals.info" in TABLE.read_text(encoding="utf-8")


def test_lookup_strips_regions_and_says_none_for_unknown_codes():
    assert lookup("zh_CN").name == "Chinese" and lookup("pt-BR").name == "Portuguese"
    assert lookup("xx") is None


@pytest.mark.parametrize("text, message", [
    ("code\tname\n", ":1: expected the header code name family genus script"),
    ("# c\ncode\tname\tfamily\tgenus\tscript\nen\tEnglish\tIndo-European\tGermanic\n", ":3: expected 5 non-empty"),
    ("code\tname\tfamily\tgenus\tscript\nEN\tEnglish\tIE\tGermanic\tLatin\n", ":2: 'EN' is not a lower-case"),
    ("code\tname\tfamily\tgenus\tscript\nen\tE\tI\tG\tL\nen\tE\tI\tG\tL\n", ":3: language 'en' is listed twice"),
    ("# only comments\n", "no languages"),
])
def test_a_bad_table_is_one_line_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "languages.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LanguagesTableError) as err:
        read_languages(path)
    assert str(path) in str(err.value) and message in str(err.value) and "\n" not in str(err.value)
