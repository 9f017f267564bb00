"""Restartable stages: each writes to temporary paths, renames on success, and records that it is done.

A stage is skipped when its record (``WORK/stages/<name>.json``) holds the same signature (its settings
and the signatures of what it reads) and all its outputs exist. The record also keeps the stage's
figures, so a re-run can still write the full report. A failed stage leaves only ``*.partial`` files,
which are removed.
"""
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Dict, List

from fairseq_weam.atomic import write_text_atomic

#: Part of every stage signature: bump it when a stage's output for the same inputs changes.
PIPELINE_VERSION = 3


def file_signature(path) -> List:
    stat = Path(path).stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def partial_path(path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".partial")


class StageRunner:
    def __init__(self, work_dir, log=print):
        self.records_dir = Path(work_dir) / "stages"
        self.log = log
        self.results: Dict[str, Dict] = {}  # name -> {"status", "signature", "stats", "seconds"[, "started"]}

    def _record_path(self, name):
        return self.records_dir / (name.replace(":", "_").replace("/", "_") + ".json")

    @staticmethod
    def signature(name: str, settings) -> str:
        """The signature ``run`` gives the stage (a function of its name and settings only)."""
        key = [name, settings, PIPELINE_VERSION]
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def _complete_record(self, name, signature, outputs):
        record_path = self._record_path(name)
        if record_path.exists() and all(Path(p).exists() for p in outputs):
            record = json.loads(record_path.read_text())
            if record.get("signature") == signature:
                return record
        return None

    def will_run(self, name: str, settings, outputs: List[Path]) -> bool:
        """Whether ``run`` with these arguments would run the stage (rather than skip it)."""
        return self._complete_record(name, self.signature(name, settings), outputs) is None

    def run(self, name: str, settings, outputs: List[Path], fn: Callable[[List[Path]], Dict]) -> str:
        """Run ``fn(partial_outputs) -> stats`` unless done; return the stage's signature for dependants."""
        signature = self.signature(name, settings)
        record = self._complete_record(name, signature, outputs)
        if record is not None:
            self.results[name] = dict(record, status="skipped")
            self.log(f"stage {name}: skipped (outputs complete)")
            return signature
        record_path = self._record_path(name)
        record_path.unlink(missing_ok=True)
        partials = [partial_path(p) for p in outputs]
        start = time.time()
        try:
            for p in partials:
                p.parent.mkdir(parents=True, exist_ok=True)
            stats = fn(partials)
            stats = stats if isinstance(stats, dict) else {}
            for p, final in zip(partials, outputs):
                os.replace(p, final)
        finally:
            for p in partials:
                if p.exists():
                    p.unlink()
        seconds = round(time.time() - start, 3)
        record = {"name": name, "signature": signature, "stats": stats, "seconds": seconds}
        self.records_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(record_path, json.dumps(record, indent=1, sort_keys=True))
        self.results[name] = dict(record, status="ran", started=start)
        self.log(f"stage {name}: done in {seconds:.1f}s")
        return signature

    @property
    def any_ran(self) -> bool:
        return any(r["status"] == "ran" for r in self.results.values())
