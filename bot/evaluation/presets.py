"""Presets: the labelled sets under ../shared/data, as `modbot eval --preset NAME`.

The sets are development material beside a source checkout; an installed modbot never needs
them. Sources and licences are listed in docs/eval.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.evaluation.data import DataError


@dataclass(frozen=True, slots=True)
class Preset:
    files: tuple[str, ...]  # relative to the data folder
    text_column: str
    label_column: str
    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()
    group_columns: tuple[str, ...] = ()
    about: str = ""


def _hatexplain(split: str, name: str) -> Preset:
    return Preset(
        (f"hatexplain/hatexplain_{split}.csv",),
        text_column="text",
        label_column="label_majority",
        positive=("hatespeech",),
        negative=("normal",),
        group_columns=("targets_union",),
        about=f"HateXplain {name}: hatespeech vs normal (offensive skipped), by target",
    )


def _hatemoji(split: str) -> Preset:
    return Preset(
        (f"hatemoji/HatemojiBuild_{split}.csv",),
        text_column="text",
        label_column="label_gold",
        positive=("1",),
        negative=("0",),
        group_columns=("type", "target"),
        about=f"HatemojiBuild {split}: hateful (1) vs not (0), by type and target",
    )


def _davidson(positive: tuple[str, ...], about: str) -> Preset:
    return Preset(
        ("davidson/data_labeled_data.csv",),
        text_column="tweet",
        label_column="class",
        positive=positive,
        negative=("2",),
        about=about,
    )


def _wikipedia(kind: str, about: str) -> Preset:
    return Preset(
        (f"wikipedia_toxicity/toxicity_{kind}_testset.csv",),
        text_column="comment",
        label_column="toxic",
        positive=("True",),
        negative=("False",),
        about=about,
    )


PRESETS: dict[str, Preset] = {
    "hatexplain-test": _hatexplain("test", "test"),
    "hatexplain-val": _hatexplain("val", "validation"),
    "hatemoji-test": _hatemoji("test"),
    "hatemoji-val": _hatemoji("validation"),
    "davidson": _davidson(
        ("0",), "Davidson tweets: hate speech (0) vs neither (2); offensive (1) skipped"
    ),
    "davidson-offensive": _davidson(
        ("0", "1"), "Davidson tweets: hate speech or offensive (0, 1) vs neither (2)"
    ),
    "wikipedia": _wikipedia("nonfuzzed", "Wikipedia talk comments: toxic True vs False"),
    "wikipedia-fuzzed": _wikipedia(
        "fuzzed", "The same comments, identity terms swapped: figures should not move"
    ),
    "identity-templates": Preset(
        ("identity_templates/en_sentence_templates.csv",),
        text_column="phrase",
        label_column="toxicity",
        positive=("toxic",),
        negative=("nontoxic",),
        group_columns=("template",),
        about="Templated sentences naming identity groups: toxic vs nontoxic, by template",
    ),
    "jigsaw-sample": Preset(
        (
            "jigsaw_sample/train.csv",
            "jigsaw_sample/test.csv",
            "jigsaw_sample/ibm_max_test_examples.csv",
        ),
        text_column="comment_text",
        label_column="toxic",
        positive=("1",),
        negative=("0",),  # test.csv marks unlabelled rows -1: skipped
        about="Jigsaw toxic-comment sample, three files: toxic 1 vs 0; unlabelled (-1) skipped",
    ),
}


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def default_data_dirs() -> list[Path]:
    """Where ../shared/data may be: beside the current directory, or beside the checkout."""
    out: list[Path] = []
    for base in (Path.cwd(), repo_root()):
        candidate = (base.parent / "shared" / "data").resolve()
        if candidate not in out:
            out.append(candidate)
    return out


def find_data_dir(explicit: Path | None) -> Path:
    """The folder presets read, or DataError saying where it was looked for."""
    if explicit is not None:
        if not explicit.is_dir():
            raise DataError(f"--data-dir {explicit}: no such folder")
        return explicit
    candidates = default_data_dirs()
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = " or ".join(str(c) for c in candidates)
    raise DataError(
        f"presets read the labelled sets in ../shared/data, which is not at {looked}: "
        "give --data-dir DIR, or run on your own CSV with --text-column/--label-column/--positive"
    )


def preset_files(name: str, data_dir: Path) -> tuple[Path, ...]:
    """The preset's files under `data_dir`, or DataError naming the first one missing."""
    preset = PRESETS[name]
    paths = tuple(data_dir / rel for rel in preset.files)
    for rel, path in zip(preset.files, paths, strict=True):
        if not path.is_file():
            raise DataError(f"preset {name} expects {rel} under {data_dir}: {path} is not there")
    return paths


def describe() -> str:
    width = max(len(n) for n in PRESETS)
    return "\n".join(f"  {name:<{width}}  {p.about}" for name, p in PRESETS.items())
