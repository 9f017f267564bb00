"""The gettext reader and ``weam-gettext-bitext`` on a locale tree the test compiles itself."""
import struct
from collections import Counter

import pytest
from weam_testing import run, tool

from fairseq_weam.corpus.gettext_catalogs import (
    GettextCatalogError,
    clean_message,
    iter_catalog_messages,
    read_mo,
)


def write_mo(path, messages, charset="UTF-8", byte_order="<"):
    """Compile {msgid: msgstr} (str; use \\x00 for plurals, \\x04 for msgctxt) into a .mo file."""
    header = f"Project-Id-Version: test\nContent-Type: text/plain; charset={charset}\n"
    items = sorted([("", header)] + list(messages.items()))
    ids = [k.encode(charset) for k, _ in items]
    strs = [v.encode(charset) for _, v in items]
    n = len(items)
    ids_table, strs_table = 28, 28 + 8 * n
    data_start = 28 + 16 * n
    blob, id_entries, str_entries = b"", [], []
    for strings, entries in ((ids, id_entries), (strs, str_entries)):
        for s in strings:
            entries.append((len(s), data_start + len(blob)))
            blob += s + b"\x00"
    out = struct.pack(byte_order + "7I", 0x950412DE, 0, n, ids_table, strs_table, 0, data_start)
    for length, offset in id_entries + str_entries:
        out += struct.pack(byte_order + "2I", length, offset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + blob)


@pytest.fixture
def locale_tree(tmp_path):
    root = tmp_path / "locale"
    write_mo(root / "de/LC_MESSAGES/editor.mo", {
        "_File": "_Datei",
        "&Open %s": "%s &öffnen",
        "Saved %(count)d files to {0}": "{0}: %(count)d Dateien gespeichert",
        "%1$s %2$s": "%2$s %1$s",                   # nothing but format: empty
        "1234": "1234",                                # no letters
        "first line\nsecond line": "erste\nzweite",     # multi-line
        "Untranslated": "",
        "menu\x04Quit": "Beenden",                      # msgctxt: the msgid after it is kept
        "one file\x00%d files": "eine Datei\x00%d Dateien",  # plural: singular + msgstr[0]
        "Close   window": "Fenster\tschließen",
    })
    write_mo(root / "de/LC_MESSAGES/viewer.mo", {    # big-endian, Latin-1, a duplicate pair
        "_File": "_Datei", "Zoom in": "Vergrößern",
    }, charset="ISO-8859-1", byte_order=">")
    write_mo(root / "zh_CN/LC_MESSAGES/editor.mo", {"_File": "文件(_F)", "Open": "打开"})
    return root


def test_clean_message_strips_formats_and_accelerators():
    assert clean_message("_Save As…") == ("Save As…", None)
    assert clean_message("Copy %d of %-5.2f (%s) in {name}") == ("Copy of ( ) in", None)
    assert clean_message("E&xit && &Tools") == ("Exit & Tools", None)
    assert clean_message("file_name") == ("file_name", None)
    assert clean_message("%s") == (None, "empty")
    assert clean_message("2.0 >= 1") == (None, "no_letters")
    assert clean_message("a\nb") == (None, "multi_line")
    assert clean_message("line\n") == ("line", None)


def test_read_mo_both_byte_orders(locale_tree):
    header, entries = read_mo(locale_tree / "de/LC_MESSAGES/viewer.mo")
    assert header["content-type"].endswith("ISO-8859-1")
    assert dict(entries)[b"Zoom in"] == "Vergrößern".encode("latin-1")
    _, entries = read_mo(locale_tree / "de/LC_MESSAGES/editor.mo")
    assert len(entries) == 10  # the header is not an entry


def test_read_mo_rejects_other_files(tmp_path):
    bad = tmp_path / "x.mo"
    bad.write_bytes(b"\x00" * 40)
    with pytest.raises(GettextCatalogError, match="bad magic"):
        read_mo(bad)


def test_iter_catalog_messages(locale_tree):
    drops = Counter()
    messages = list(iter_catalog_messages("de", locale_tree, drops))
    assert ("editor", "File", "Datei") in messages
    assert ("viewer", "File", "Datei") in messages  # the domain is kept, de-duplication is later
    assert ("viewer", "Zoom in", "Vergrößern") in messages  # decoded with the header's charset
    assert ("editor", "Open", "öffnen") in messages
    assert ("editor", "Saved files to", ": Dateien gespeichert") in messages
    assert ("editor", "Quit", "Beenden") in messages
    assert ("editor", "one file", "eine Datei") in messages
    assert ("editor", "Close window", "Fenster schließen") in messages
    assert drops == Counter(seen=12, empty=1, no_letters=1, multi_line=1, untranslated=1)
    assert sorted(iter_catalog_messages("zh_CN", locale_tree)) == [("editor", "File", "文件"), ("editor", "Open", "打开")]


@pytest.mark.slow
def test_cli_writes_split_bitext(locale_tree, tmp_path):
    out = tmp_path / "RAW"
    args = [tool("weam-gettext-bitext"), "--pairs", "en-de,en-zh_CN", "--out", out,
            "--valid-size", "2", "--locale-dir", locale_tree]
    proc = run(args)
    assert "en-de: 2 catalogs" in proc.stdout and "duplicate=1" in proc.stdout
    en = (out / "train.en-de.en").read_text("utf-8").splitlines() + (out / "valid.en-de.en").read_text("utf-8").splitlines()
    de = (out / "train.en-de.de").read_text("utf-8").splitlines() + (out / "valid.en-de.de").read_text("utf-8").splitlines()
    assert len((out / "valid.en-de.de").read_text("utf-8").splitlines()) == 2
    assert sorted(zip(en, de)) == sorted([
        ("File", "Datei"), ("Open", "öffnen"), ("Saved files to", ": Dateien gespeichert"),
        ("Quit", "Beenden"), ("one file", "eine Datei"), ("Close window", "Fenster schließen"),
        ("Zoom in", "Vergrößern"),
    ])
    assert (out / "valid.en-zh_CN.zh_CN").read_text("utf-8").count("\n") == 1  # 2 pairs: half is valid
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    run(args)
    assert first == {p.name: p.read_bytes() for p in out.iterdir()}  # deterministic
    assert not list(out.glob("*.tmp"))


@pytest.mark.slow
def test_cli_fails_clearly_for_missing_language(locale_tree, tmp_path):
    proc = run([tool("weam-gettext-bitext"), "--pairs", "en-de,en-fr", "--out", tmp_path / "RAW",
                "--locale-dir", locale_tree], check=False)
    assert proc.returncode != 0
    assert "'fr'" in proc.stderr and str(locale_tree / "fr" / "LC_MESSAGES") in proc.stderr
    assert not (tmp_path / "RAW").exists()  # checked before anything is written
