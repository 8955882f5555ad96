"""The Detoxify scorer: offline loading, windows, batching, errors and shutdown.

Everything runs on the tiny checkpoint from tests/tinymodel.py (no download) except the
minilm-tox test, which uses the shared offline model when it is present.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from conftest_model import TinyModel
from detoxify import Detoxify
from tinymodel import WORDS, build_tiny_checkpoint

from bot.config import ModelSettings
from bot.scoring.base import ModelScorer
from bot.scoring.model import (
    DetoxifyScorer,
    LoadedModel,
    ModelLoadError,
    ScorerClosedError,
    load_model,
    pull,
    split_windows,
    window_limit,
)

REPO = Path(__file__).resolve().parents[1]
MINILM = Path("/work/shared/models/minilm-tox")
TINY_LABELS = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack")
SCORING = ModelSettings(window_overlap_tokens=16, batch_size=4)  # with a LoadedModel given
TEXTS = ["you are a cat", "great article thanks", "i hate people", "the sun is very nice", ""]


@pytest.fixture(autouse=True)
def _no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty caches and offline mode: nothing here may reach the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


def tiny_settings(tiny: TinyModel, **overrides: Any) -> ModelSettings:
    values: dict[str, Any] = {
        "checkpoint": tiny.checkpoint,
        "hf_config": tiny.hf_config,
        "window_overlap_tokens": 16,
        "batch_size": 4,
    }
    return ModelSettings(**(values | overrides))


@pytest.fixture(name="loaded")
def _loaded(tiny_model: TinyModel) -> LoadedModel:
    """The tiny model loaded fresh for each test (about 0.03 s), so patches stay local."""
    return load_model(tiny_settings(tiny_model))


def assert_close(a: dict[str, float], b: dict[str, float], tol: float = 1e-4) -> None:
    assert a.keys() == b.keys()
    for label in a:
        assert abs(a[label] - b[label]) < tol, (label, a[label], b[label])


# --- loading --------------------------------------------------------------------------------


def test_local_checkpoint_loads_offline_into_a_real_detoxify(loaded: LoadedModel) -> None:
    """A checkpoint naming a hub model_type loads from local files only, labels renamed."""
    assert isinstance(loaded.detox, Detoxify)
    assert loaded.labels == TINY_LABELS
    assert loaded.version.startswith("checkpoint:tiny.ckpt@")
    assert len(loaded.version.rsplit("@", 1)[1]) == 12
    assert loaded.max_tokens == 62  # model_max_length 64 minus [CLS] and [SEP]


def test_short_texts_score_like_detoxify_predict(loaded: LoadedModel) -> None:
    """Our batched, padded path gives detoxify's own predict() numbers for short texts."""
    scores = DetoxifyScorer(SCORING, loaded).score_texts(TEXTS)
    for text, score in zip(TEXTS, scores, strict=True):
        assert score.windows == 1
        assert_close(score.labels, loaded.detox.predict(text), tol=1e-5)


def test_the_model_reads_markup_as_rendered(loaded: LoadedModel) -> None:
    """Character references and inline tags reach the model as the page shows them."""
    scorer = DetoxifyScorer(SCORING, loaded)
    typed = ["you&#8217;re <b>awful</b> &amp; rude", "caf&eacute; <em>is</em> shut"]
    shown = ["you\u2019re awful & rude", "café is shut"]
    for as_typed, as_shown in zip(
        scorer.score_texts(typed), scorer.score_texts(shown), strict=True
    ):
        assert_close(as_typed.labels, as_shown.labels, tol=1e-6)
    literal = loaded.detox.predict(typed[0])  # what reading the markup as text would give
    assert any(abs(literal[k] - scorer.score_texts(typed)[0].labels[k]) > 1e-4 for k in literal)


def test_threads_setting_sets_torch_threads(tiny_model: TinyModel) -> None:
    """model.threads is applied to torch when the model loads."""
    before = torch.get_num_threads()
    try:
        load_model(tiny_settings(tiny_model, threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_window_limit_respects_tokenizer_and_roberta_offset() -> None:
    """Max length is min(tokenizer, positions), minus RoBERTa's position offset."""
    bert = SimpleNamespace(model_type="bert", max_position_embeddings=512, pad_token_id=0)
    roberta = SimpleNamespace(model_type="roberta", max_position_embeddings=514, pad_token_id=1)
    assert window_limit(256, bert) == 256
    assert window_limit(int(1e30), bert) == 512  # "unset" tokenizer max length
    assert window_limit(None, roberta) == 512
    assert window_limit(512, roberta) == 512


# --- windows --------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 62, 63, 100, 150, 1000])
def test_split_windows_keeps_every_token(length: int) -> None:
    """Windows are at most `size` long, overlap, and together cover every token in order."""
    ids = list(range(length))
    windows = split_windows(ids, 62, 16)
    assert all(len(w) <= 62 for w in windows)
    assert sorted({i for w in windows for i in w}) == ids
    for first, second in itertools.pairwise(windows):
        assert first[-1] - second[0] + 1 >= 16  # overlap in tokens
    assert (len(windows) == 1) == (length <= 62)


def test_long_comment_is_windowed_not_truncated(loaded: LoadedModel) -> None:
    """A comment past max length gets several windows; its score is each label's max."""
    words = [WORDS[(i * 7) % len(WORDS)] for i in range(150)]  # one token per word
    scorer = DetoxifyScorer(SCORING, loaded)
    [long_score] = scorer.score_texts([" ".join(words)])
    spans = split_windows(list(range(len(words))), loaded.max_tokens, 16)
    window_texts = [" ".join(words[span[0] : span[-1] + 1]) for span in spans]
    window_scores = scorer.score_texts(window_texts)
    assert long_score.windows == len(spans) == 3
    expected = {lab: max(s.labels[lab] for s in window_scores) for lab in loaded.labels}
    assert_close(long_score.labels, expected, tol=1e-5)
    [head] = scorer.score_texts([" ".join(words[: loaded.max_tokens])])
    assert long_score.labels != head.labels  # the tail counted: detoxify would drop it


def test_empty_and_whitespace_text_score(loaded: LoadedModel) -> None:
    """Empty or blank comments are scored like any other text, in one window."""
    scorer = DetoxifyScorer(SCORING, loaded)
    for score in scorer.score_texts(["", "   \n\t "]):
        assert score.windows == 1
        assert set(score.labels) == set(TINY_LABELS)
        assert all(0.0 <= v <= 1.0 for v in score.labels.values())


# --- the async scorer -----------------------------------------------------------------------


async def test_scorer_implements_the_protocol_and_loads_in_start(
    tiny_model: TinyModel,
) -> None:
    """start() loads and warms up; version and labels come from the checkpoint."""
    scorer = DetoxifyScorer(tiny_settings(tiny_model))
    assert isinstance(scorer, ModelScorer)
    await scorer.start()
    try:
        assert scorer.labels == TINY_LABELS
        assert scorer.version.startswith("checkpoint:tiny.ckpt@")
        score = await scorer.score("you are a cat")
        assert score.model == scorer.version
    finally:
        await scorer.close()


async def test_concurrent_scores_share_forward_passes(loaded: LoadedModel) -> None:
    """Ten concurrent score() calls run in fewer passes and match one-at-a-time scores."""
    texts = [f"{a} {b}" for a in ("you are", "they are") for b in TEXTS]
    alone = [DetoxifyScorer(SCORING, loaded).score_texts([t])[0] for t in texts]
    scorer = DetoxifyScorer(ModelSettings(batch_size=4, batch_wait_ms=200), loaded)
    await scorer.start()
    try:
        together = await asyncio.gather(*(scorer.score(t) for t in texts))
        assert scorer.forward_passes == 3  # ceil(10 / 4), not 10
        for a, b in zip(alone, together, strict=True):
            assert_close(a.labels, b.labels)
    finally:
        await scorer.close()


async def test_concurrent_mixed_lengths_are_bucketed(
    loaded: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Short and long texts arriving interleaved run in passes of like length, not mixed."""
    scorer = DetoxifyScorer(ModelSettings(batch_size=4, batch_wait_ms=200), loaded)
    await scorer.start()
    real = loaded.detox.model
    shapes: list[tuple[int, ...]] = []

    def recording(**inputs: Any) -> Any:
        shapes.append(tuple(inputs["input_ids"].shape))
        return real(**inputs)

    monkeypatch.setattr(loaded.detox, "model", recording)
    short, long = "you are a cat", " ".join(WORDS[:40])
    try:
        await asyncio.gather(*(scorer.score(t) for t in [short, long] * 4))
    finally:
        await scorer.close()
    assert sorted(shapes) == [(4, 6), (4, 42)]  # [CLS] + words + [SEP], no padding at all


async def test_a_lone_score_waits_only_batch_wait_ms(loaded: LoadedModel) -> None:
    """A single call is scored once batch_wait_ms passes, without a full batch."""
    scorer = DetoxifyScorer(ModelSettings(batch_size=64, batch_wait_ms=30), loaded)
    await scorer.start()
    try:
        started = time.perf_counter()
        await asyncio.wait_for(scorer.score("you are a cat"), 2)
        assert time.perf_counter() - started < 1.0
        assert scorer.forward_passes == 1
    finally:
        await scorer.close()


async def test_score_many_keeps_order(loaded: LoadedModel) -> None:
    """Bulk scoring returns one score per text, in input order, equal to single scoring."""
    scorer = DetoxifyScorer(ModelSettings(batch_size=2), loaded)
    await scorer.start()
    try:
        texts = [*TEXTS, " ".join(WORDS * 3)]
        bulk = await scorer.score_many(texts)
        assert [s.windows > 1 for s in bulk] == [False] * len(TEXTS) + [True]
        for text, score in zip(texts, bulk, strict=True):
            assert_close(score.labels, scorer.score_texts([text])[0].labels)
    finally:
        await scorer.close()


async def test_batch_error_reaches_every_waiter(
    loaded: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing forward pass raises in every caller of that batch; the next batch works."""
    scorer = DetoxifyScorer(ModelSettings(batch_size=8, batch_wait_ms=50), loaded)
    await scorer.start()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(loaded.detox, "model", _raise_boom)
            results = await asyncio.gather(
                *(scorer.score(t) for t in TEXTS[:3]), return_exceptions=True
            )
        assert [type(r) for r in results] == [RuntimeError] * 3
        assert all("boom" in str(r) for r in results)
        assert (await scorer.score("you are a cat")).windows == 1
    finally:
        await scorer.close()


def _raise_boom(**_: Any) -> Any:
    raise RuntimeError("boom")


async def test_close_fails_waiters_and_loop_stays_responsive(
    loaded: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a slow batch runs the loop keeps ticking; close() then fails waiters at once.

    The batch takes 2 s, so a loop blocked by it, or a close() that waited for it, would take
    about that long; both bounds leave a wide margin for a loaded machine."""
    scorer = DetoxifyScorer(ModelSettings(batch_size=1, batch_wait_ms=0), loaded)
    await scorer.start()
    real = loaded.detox.model
    batch_s = 2.0

    def slow(**inputs: Any) -> Any:
        time.sleep(batch_s)
        return real(**inputs)

    monkeypatch.setattr(loaded.detox, "model", slow)
    waiters = [asyncio.create_task(scorer.score(t)) for t in TEXTS[:3]]
    started = time.perf_counter()
    for _ in range(10):
        await asyncio.sleep(0.01)
    assert time.perf_counter() - started < batch_s / 2  # ten ticks, not stuck behind the batch
    started = time.perf_counter()
    await asyncio.wait_for(scorer.close(), batch_s / 2)
    results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 1)
    assert time.perf_counter() - started < batch_s / 2
    assert [type(r) for r in results] == [ScorerClosedError] * 3
    with pytest.raises(ScorerClosedError):
        await scorer.score("too late")


async def test_close_fails_callers_still_being_collected(loaded: LoadedModel) -> None:
    """Callers gathered into a batch that is still waiting to fill also fail on close()."""
    scorer = DetoxifyScorer(ModelSettings(batch_size=8, batch_wait_ms=5000), loaded)
    await scorer.start()
    waiters = [asyncio.create_task(scorer.score(t)) for t in TEXTS[:3]]
    await asyncio.sleep(0.05)  # the batcher now holds all three, waiting for more
    await scorer.close()
    results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 1)
    assert [type(r) for r in results] == [ScorerClosedError] * 3
    assert scorer.forward_passes == 0


async def test_score_before_start_raises(tiny_model: TinyModel) -> None:
    """Scoring a scorer that was never started fails fast instead of hanging."""
    scorer = DetoxifyScorer(tiny_settings(tiny_model))
    with pytest.raises(ScorerClosedError, match="start"):
        await asyncio.wait_for(scorer.score("hello"), 1)


# --- load errors ----------------------------------------------------------------------------


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a torch checkpoint")


def _wrong_format(path: Path) -> None:
    torch.save({"weights": {}}, path)


def _wrong_labels(path: Path) -> None:
    loaded = torch.load(path, weights_only=True)
    loaded["config"]["dataset"]["args"]["classes"] = ["toxic"]
    torch.save(loaded, path)


def _wrong_weights(path: Path) -> None:
    loaded = torch.load(path, weights_only=True)
    del loaded["state_dict"]["classifier.weight"]
    torch.save(loaded, path)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (Path.unlink, "does not exist"),
        (_corrupt, "cannot be read as a torch checkpoint"),
        (_wrong_format, "not in Detoxify's checkpoint format: it lacks 'state_dict'"),
        (_wrong_labels, "does not list num_classes=6"),
        (_wrong_weights, "missing or mismatched classifier.weight"),
    ],
)
def test_bad_checkpoint_names_the_problem_and_the_fix(
    tmp_path: Path, damage: Any, expected: str
) -> None:
    """A missing, corrupt or malformed checkpoint raises ModelLoadError with the fixes."""
    checkpoint, hf_dir = build_tiny_checkpoint(tmp_path)
    damage(checkpoint)
    with pytest.raises(ModelLoadError) as caught:
        load_model(ModelSettings(checkpoint=checkpoint, hf_config=hf_dir))
    message = str(caught.value)
    assert expected in message
    assert str(checkpoint) in message
    assert "model.enabled: false" in message and "model.checkpoint" in message


@pytest.mark.parametrize(
    ("remove", "expected"),
    [
        (["config.json"], "lacks config.json"),
        (["tokenizer.json"], "lacks tokenizer files"),
        (None, "is not a folder"),
    ],
)
def test_bad_hf_folder_names_the_missing_files(
    tmp_path: Path, remove: list[str] | None, expected: str
) -> None:
    """An hf_config folder without config.json or tokenizer files says what to put there."""
    checkpoint, hf_dir = build_tiny_checkpoint(tmp_path)
    if remove is None:
        shutil.rmtree(hf_dir)
    for name in remove or ():
        (hf_dir / name).unlink()
    with pytest.raises(ModelLoadError) as caught:
        load_model(ModelSettings(checkpoint=checkpoint, hf_config=hf_dir))
    message = str(caught.value)
    assert expected in message and str(hf_dir) in message
    assert "bert-base-uncased" in message and "save_pretrained" in message


def test_unknown_model_name_lists_the_valid_ones() -> None:
    """A misspelt model.name is rejected with Detoxify's model names."""
    with pytest.raises(ModelLoadError, match=r"unknown model\.name 'orignal'") as caught:
        load_model(ModelSettings(name="orignal"))
    assert "original, original-small, unbiased" in str(caught.value)


def test_offline_named_model_fails_at_once_with_the_fixes(tmp_path: Path) -> None:
    """No cached weights and offline env: fail without touching the network, say what to do."""
    started = time.perf_counter()
    with pytest.raises(ModelLoadError) as caught:
        load_model(ModelSettings(name="unbiased"))
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    assert "toxic_debiased-c7548aa0.ckpt" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "HF_HUB_OFFLINE=1" in message
    assert "modbot models pull --model unbiased" in message
    assert "model.checkpoint and model.hf_config" in message
    assert "model.enabled: false" in message


def test_pull_offline_says_where_to_run_it() -> None:
    """`models pull` with downloads off fails at once and says how to fetch elsewhere."""
    with pytest.raises(ModelLoadError) as caught:
        pull("original", progress=lambda _: None)
    message = str(caught.value)
    assert "machine with network" in message and "~/.cache/torch" in message


# --- end to end -----------------------------------------------------------------------------

NAMED_SCRIPT = """
import json
from bot.config import ModelSettings
from bot.scoring.model import DetoxifyScorer, pull
scorer = DetoxifyScorer(ModelSettings(name="original"))
[score] = scorer.score_texts(["you are a cat"])
summary = pull("original", progress=lambda _: None)
print(json.dumps({"version": score.model, "labels": score.labels, "pull": summary}))
"""


def _fake_caches(root: Path, tiny: TinyModel) -> dict[str, str]:
    """Torch hub and HF caches as `modbot models pull` would leave them, tiny weights inside."""
    weights = root / "torch" / "hub" / "checkpoints" / "toxic_original-c1212f89.ckpt"
    weights.parent.mkdir(parents=True)
    shutil.copy(tiny.checkpoint, weights)
    repo = root / "hf" / "hub" / "models--bert-base-uncased"
    revision = "0" * 40
    shutil.copytree(tiny.hf_config, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return {"TORCH_HOME": str(root / "torch"), "HF_HOME": str(root / "hf")}


@pytest.mark.slow
def test_named_model_loads_offline_from_caches(
    tmp_path: Path,
    tiny_model: TinyModel,
) -> None:
    """With weights and base model cached, the named path runs stock Detoxify with no network
    and gives the same scores as the local-checkpoint path for the same weights."""
    env = os.environ | _fake_caches(tmp_path, tiny_model) | {"PYTHONPATH": str(REPO)}
    env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", NAMED_SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"] == "detoxify:original@c1212f89"
    assert "weights in" in result["pull"] and "toxic_original-c1212f89.ckpt" in result["pull"]
    local = DetoxifyScorer(tiny_settings(tiny_model)).score_texts(["you are a cat"])[0]
    assert_close(result["labels"], local.labels, tol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(not MINILM.is_dir(), reason=f"{MINILM} (shared offline model) is absent")
def test_minilm_tox_gives_its_readme_sanity_values() -> None:
    """The shared 4-label model loads offline (hub model_type, max length 256) and scores
    roughly as its README says."""
    settings = ModelSettings(checkpoint=MINILM / "minilm-tox.ckpt", hf_config=MINILM / "hf")
    scorer = DetoxifyScorer(settings)
    hateful, kind = scorer.score_texts(["Immigrants are vermin.", "Great article, thanks!"])
    assert scorer.labels == ("toxicity", "insult", "threat", "identity_attack")
    assert hateful.labels["toxicity"] > 0.5
    assert kind.labels["toxicity"] < 0.2
    [long] = scorer.score_texts(["Great article, thanks! " * 80])
    assert long.windows == 2  # 400 tokens, 254 per window
