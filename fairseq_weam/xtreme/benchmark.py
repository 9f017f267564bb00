"""The XTREME and XTREME-R benchmarks as the official scorer defines them: tasks, languages, groups, files.

One place for the facts every other module needs (which family a task is, which test languages the official
``evaluate.py`` of google-research/xtreme expects, the suffix of its prediction files), so that preparation,
evaluation, the submission layout and the scorer cannot disagree. The language lists and groups are the
official ``XTREME_TASK2LANGS`` / ``XTREME_R_TASK2LANGS`` and ``XTREME_GROUP2TASK`` / ``XTREME_R_GROUP2TASK``
(LAReQA has no language list there: the official scorer skips it).
"""
from typing import Dict, List

from fairseq_weam.errors import WeamError

VERSIONS = ("xtreme", "xtreme-r")

#: task -> family; the family decides the fairseq task, the data layout and the prediction format.
TASK_FAMILY = {
    "xnli": "classification",
    "pawsx": "classification",
    "xcopa": "multiple_choice",
    "udpos": "tagging",
    "panx": "tagging",
    "xquad": "qa",
    "mlqa": "qa",
    "tydiqa": "qa",
    "tatoeba": "retrieval",
    "bucc2018": "retrieval",
    "lareqa": "retrieval",
    "mewslix": "retrieval",
}

FAMILIES = ("classification", "multiple_choice", "tagging", "qa", "retrieval")

GROUP2TASK = {
    "xtreme": {
        "classification": ["pawsx", "xnli"],
        "tagging": ["udpos", "panx"],
        "qa": ["xquad", "mlqa", "tydiqa"],
        "retrieval": ["bucc2018", "tatoeba"],
    },
    "xtreme-r": {
        "classification": ["xnli", "xcopa"],
        "tagging": ["udpos", "panx"],
        "qa": ["xquad", "mlqa", "tydiqa"],
        "retrieval": ["tatoeba", "mewslix"],
        "multi_choice": ["xcopa"],
    },
}


def _langs(text):
    return text.replace("\n", "").replace(" ", "").split(",")


TASK2LANGS: Dict[str, Dict[str, List[str]]] = {
    "xtreme": {
        "pawsx": _langs("de,en,es,fr,ja,ko,zh"),
        "xnli": _langs("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh"),
        "panx": _langs("ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,"
                       "it,pt,es,bg,ru,ja,ka,ko,th,sw,yo,my,zh,kk,tr,et,fi,hu"),
        "udpos": _langs("af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,"
                        "nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,zh"),
        "bucc2018": _langs("de,fr,ru,zh"),
        "tatoeba": _langs("ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,"
                          "pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,tr,et,fi,hu"),
        "xquad": _langs("en,es,de,el,ru,tr,ar,vi,th,zh,hi"),
        "mlqa": _langs("en,es,de,ar,hi,vi,zh"),
        "tydiqa": _langs("en,ar,bn,fi,id,ko,ru,sw,te"),
    },
    "xtreme-r": {
        "xnli": _langs("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh"),
        "panx": _langs("ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,"
                       "it,pt,es,bg,ru,ja,ka,ko,th,sw,yo,my,zh,kk,tr,et,fi,hu,qu,pl,uk,az,lt,pa,gu,ro"),
        "udpos": _langs("af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,"
                        "nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,zh,lt,pl,uk,wo,ro"),
        "tatoeba": _langs("ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,"
                          "pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,tr,et,fi,hu,az,lt,pl,uk,ro"),
        "xcopa": _langs("et,ht,id,it,qu,sw,ta,th,tr,vi,zh"),
        "lareqa": [],
        "mewslix": _langs("ar,de,en,es,fa,ja,pl,ro,ta,tr,uk"),
        "xquad": _langs("en,es,de,el,ru,tr,ar,vi,th,zh,hi,ro"),
        "mlqa": _langs("en,es,de,ar,hi,vi,zh"),
        "tydiqa": _langs("en,ar,bn,fi,id,ko,ru,sw,te"),
    },
}


class BenchmarkError(WeamError, ValueError):
    """An unknown task or version."""


def check_version(version: str) -> str:
    if version not in VERSIONS:
        raise BenchmarkError(f"unknown benchmark version {version!r}: use one of {', '.join(VERSIONS)}")
    return version


def family(task: str) -> str:
    if task not in TASK_FAMILY:
        raise BenchmarkError(f"unknown XTREME task {task!r}: use one of {', '.join(TASK_FAMILY)}")
    return TASK_FAMILY[task]


def prediction_suffix(task: str, version: str = "xtreme-r") -> str:
    """The suffix of ``predictions/<task>/test-<lang>.<suffix>`` (and of the label files) for a task, as
    the official scorer's ``get_suffix``: QA and Mewsli-X json, the multiple-choice group jsonl, else tsv.
    LAReQA (never opened by the official scorer) is json here, a ranking like Mewsli-X."""
    groups = GROUP2TASK[check_version(version)]
    if task in groups["qa"] or task in ("mewslix", "lareqa"):
        return "json"
    if task in groups.get("multi_choice", ()):
        return "jsonl"
    return "tsv"


def official_languages(task: str, version: str = "xtreme-r") -> List[str]:
    """The test languages the official scorer expects for ``task`` (empty for LAReQA, which it skips)."""
    family(task)
    return list(TASK2LANGS[check_version(version)].get(task, []))
