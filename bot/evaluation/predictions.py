"""`--predictions FILE`: every scored input row written back with what modbot made of it.

CSV (`.csv`) or JSON lines (`.jsonl`/`.ndjson`), by extension. The input's own columns come
first, unchanged; then `gold`, `split`, `decision` (the policy over everything that was
scored), `rules_decision` / `model_decision` (each scorer alone, when it ran), `rule_hits`
(rule ids), `spans` (each hit with its span in the original text) and one `score_<label>`
per model label (JSONL: a `scores` object). An added name that the input already uses gets a
`modbot_` prefix. With several input files a `file` column says where each row came from.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.models import Decision, ModelScore, RuleHit, Verdict

CSV_SUFFIXES = frozenset({".csv"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


@dataclass(frozen=True, slots=True)
class Prediction:
    """One scored row, as the writer needs it."""

    fields: dict[str, str]
    file: str
    gold: str
    split: str
    decision: Decision
    verdicts: dict[str, Verdict]  # scorer -> its verdict alone
    hits: tuple[RuleHit, ...]
    model: ModelScore | None


def check_path(path: Path) -> None:
    if path.suffix.lower() not in CSV_SUFFIXES | JSONL_SUFFIXES:
        raise ValueError(f"--predictions {path}: give a .csv or .jsonl file name")


def spans(hits: Sequence[RuleHit]) -> list[dict[str, Any]]:
    return [
        {
            "rule": h.rule_id,
            "start": h.start,
            "end": h.end,
            "matched": h.matched,
            "action": h.action.word if h.action else "score",
            "shadow": h.shadow,
        }
        for h in hits
    ]


class PredictionWriter:
    """Writes rows as they are scored; `close()` flushes. Use as a context manager."""

    def __init__(
        self,
        path: Path,
        input_columns: Sequence[str],
        scorers: Sequence[str],
        labels: Sequence[str],
        several_files: bool,
    ) -> None:
        check_path(path)
        self.jsonl = path.suffix.lower() in JSONL_SUFFIXES
        self.scorers = [s for s in ("rules", "model") if s in scorers]
        self.labels = list(labels)
        self.several_files = several_files
        taken = set(input_columns)
        added = ["file"] if several_files else []
        added += ["gold", "split", "decision", *(f"{s}_decision" for s in self.scorers)]
        added += ["rule_hits", "spans"]
        added += ["scores"] if self.jsonl else [f"score_{label}" for label in self.labels]
        self.names = {name: f"modbot_{name}" if name in taken else name for name in added}
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._csv: csv.DictWriter[str] | None = None
        if not self.jsonl:
            columns = [*input_columns, *self.names.values()]
            self._csv = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
            self._csv.writeheader()
        self.rows = 0

    def write(self, item: Prediction) -> None:
        added = self._added(item)
        record = {**item.fields, **{self.names[k]: v for k, v in added.items()}}
        if self._csv is not None:
            self._csv.writerow(record)
        else:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.rows += 1

    def _added(self, item: Prediction) -> dict[str, Any]:
        out: dict[str, Any] = {"file": item.file} if self.several_files else {}
        out |= {"gold": item.gold, "split": item.split, "decision": item.decision.verdict.word}
        out |= {f"{s}_decision": item.verdicts[s].word for s in self.scorers}
        ids = list(dict.fromkeys(h.rule_id for h in item.hits))
        labels = item.model.labels if item.model else {}
        if self.jsonl:
            out |= {"rule_hits": ids, "spans": spans(item.hits), "scores": labels}
            return out
        out["rule_hits"] = " ".join(ids)
        out["spans"] = json.dumps(spans(item.hits), ensure_ascii=False) if item.hits else ""
        for label in self.labels:
            value = labels.get(label)
            out[f"score_{label}"] = "" if value is None else f"{value:.4f}"
        return out

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
