"""Loading the toxicity model (Detoxify) and pre-fetching its weights; scoring is in model.py.

Two ways to load (`load_model`):
- a named Detoxify model (`model.name`): weights from the torch hub cache or downloaded on first
  use, the base model's config and tokenizer from the Hugging Face cache or hub;
- a local checkpoint (`model.checkpoint` + `model.hf_config`) for air-gapped sites, built from
  local files only (detoxify 0.5.4 asks the hub even then; this module does not).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import torch
import transformers
from detoxify import Detoxify  # type: ignore[import-untyped]
from detoxify.detoxify import MODEL_URLS  # type: ignore[import-untyped]
from huggingface_hub import constants as hf_constants

from bot.config import ModelSettings

log = structlog.get_logger(__name__)

# detoxify's own renames (load_checkpoint), so every checkpoint speaks the same label names
LABEL_RENAMES = {
    "toxic": "toxicity",
    "identity_hate": "identity_attack",
    "severe_toxic": "severe_toxicity",
}
# the hub model each named checkpoint takes its config and tokenizer from
BASE_MODELS = {
    "original": "bert-base-uncased",
    "unbiased": "roberta-base",
    "multilingual": "xlm-roberta-base",
    "original-small": "albert-base-v2",
    "unbiased-small": "albert-base-v2",
}
# RoBERTa-style embeddings number positions from pad_token_id + 1, so fewer tokens fit
_OFFSET_POSITION_TYPES = frozenset(
    {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "roberta-prelayernorm"}
)
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
)
_SANE_MAX_LENGTH = 100_000  # transformers uses 1e30 for "unset"
_TRUE = {"1", "true", "yes", "on"}
_OFFLINE_VARS = ("MODBOT_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_ARCH_KEYS = ("model_type", "model_name", "tokenizer_name", "num_classes")


class ModelLoadError(Exception):
    """The model cannot be loaded; the message says what failed and how to fix it."""


class ScorerClosedError(RuntimeError):
    """The scorer was closed (or never started) before this text could be scored."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A loaded Detoxify model plus what scoring needs to window text for it."""

    detox: Detoxify
    labels: tuple[str, ...]
    version: str
    max_tokens: int  # text tokens per window, special tokens excluded
    prefix: tuple[int, ...]  # special tokens before the text, e.g. [CLS]
    suffix: tuple[int, ...]  # special tokens after the text, e.g. [SEP]
    pad_id: int
    load_s: float


# --- loading --------------------------------------------------------------------------------


def load_model(settings: ModelSettings) -> LoadedModel:
    """Load the configured model (blocking; seconds), or raise ModelLoadError naming the fix."""
    started = time.perf_counter()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # not in logs
    if settings.checkpoint is None:
        detox, version = _load_named(settings.name, settings.device)
    else:
        assert settings.hf_config is not None  # ModelSettings enforces the pair
        detox, version = _load_local(settings.checkpoint, settings.hf_config, settings.device)
    detox.model.eval()
    prefix, suffix = _special_tokens(detox.tokenizer)
    limit = window_limit(detox.tokenizer.model_max_length, detox.model.config)
    loaded = LoadedModel(
        detox=detox,
        labels=tuple(detox.class_names),
        version=version,
        max_tokens=limit - len(prefix) - len(suffix),
        prefix=prefix,
        suffix=suffix,
        pad_id=_pad_id(detox.tokenizer),
        load_s=time.perf_counter() - started,
    )
    if loaded.max_tokens < 1:
        raise ModelLoadError(f"model {version} leaves no room for text (max length {limit})")
    log.info(
        "model_loaded",
        version=version,
        labels=list(loaded.labels),
        load_s=round(loaded.load_s, 3),
        max_tokens=loaded.max_tokens,
        device=settings.device,
        threads=torch.get_num_threads(),
    )
    return loaded


def window_limit(model_max_length: int | None, config: Any) -> int:
    """Most tokens (special ones included) one forward pass may take for this model."""
    positions = int(config.max_position_embeddings)
    if getattr(config, "model_type", "") in _OFFSET_POSITION_TYPES:
        positions -= int(config.pad_token_id or 0) + 1  # roberta-base: 514 -> 512
    if model_max_length and 0 < model_max_length < _SANE_MAX_LENGTH:
        return min(positions, int(model_max_length))
    return positions


def _special_tokens(tokenizer: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Find the tokens the tokenizer puts around a single text (transformers 5 has no
    `build_inputs_with_special_tokens`): encode a probe with and without them."""
    bare = tokenizer("hello", add_special_tokens=False)["input_ids"]
    full = tokenizer("hello")["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if bare and full[start : start + len(bare)] == bare:
            return tuple(full[:start]), tuple(full[start + len(bare) :])
    raise ModelLoadError(f"cannot tell where {type(tokenizer).__name__} puts special tokens")


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad) if pad is not None else 0


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}"


def _offline_reason() -> str | None:
    """Which environment variable says not to use the network, if any."""
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var}={os.environ[var]}"
    return None


# --- named Detoxify models ------------------------------------------------------------------


def _model_url(name: str) -> str:
    if name not in MODEL_URLS:
        valid = ", ".join(sorted(MODEL_URLS))
        raise ModelLoadError(
            f"unknown model.name {name!r}: Detoxify's models are {valid}; "
            "or set model.checkpoint + model.hf_config to a local checkpoint"
        )
    return str(MODEL_URLS[name])


def cached_weights_path(name: str) -> Path:
    """Where torch hub keeps (or will keep) the named model's weights file."""
    url = _model_url(name)
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def url_hash(url: str) -> str:
    match = re.search(r"-([a-f0-9]+)\.", url.rsplit("/", 1)[-1])
    return match.group(1) if match else ""


def _named_fixes(name: str) -> str:
    return (
        "Fix one of:\n"
        f"  - run `modbot models pull --model {name}` on this machine once it has network, or on "
        "one that has and copy ~/.cache/torch and ~/.cache/huggingface here;\n"
        "  - air-gapped: set model.checkpoint and model.hf_config to a local Detoxify checkpoint "
        "and its Hugging Face config/tokenizer folder;\n"
        "  - rules only: set model.enabled: false."
    )


def _cache_note(weights: Path) -> str:
    state = "present" if weights.exists() else "missing"
    return (
        f"weights file {weights.name} looked for in {weights.parent} (torch hub cache, under "
        f"$TORCH_HOME): {state}; base model config/tokenizer looked for in the Hugging Face "
        f"cache {hf_constants.HF_HUB_CACHE} ($HF_HOME)"
    )


def _load_named(name: str, device: str) -> tuple[Detoxify, str]:
    url = _model_url(name)
    weights = cached_weights_path(name)
    offline = _offline_reason()
    if offline and not weights.exists():
        raise ModelLoadError(
            f"cannot load Detoxify model {name!r}: its weights file {weights.name} is not in the "
            f"torch hub cache {weights.parent} ($TORCH_HOME) and downloads are off ({offline}).\n"
            + _named_fixes(name)
        )
    try:
        detox = Detoxify(model_type=name, device=device)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load Detoxify model {name!r}: {one_line(exc)}\n{_cache_note(weights)}.\n"
            + _named_fixes(name)
        ) from exc
    return detox, f"detoxify:{name}@{url_hash(url)}"


# --- local checkpoints ----------------------------------------------------------------------


def _local_fixes() -> str:
    return (
        "Fix one of:\n"
        "  - point model.checkpoint at a Detoxify checkpoint (a torch.save'd dict {config: "
        "{arch: {args: {model_type, model_name, tokenizer_name, num_classes}}, dataset: {args: "
        "{classes}}}, state_dict}) and model.hf_config at its base model's Hugging Face folder "
        "(config.json + tokenizer files, saved with save_pretrained);\n"
        "  - or use a named model: unset model.checkpoint and model.hf_config, set model.name "
        "(run `modbot models pull` where there is network);\n"
        "  - rules only: set model.enabled: false."
    )


def _local_error(what: str) -> ModelLoadError:
    return ModelLoadError(f"{what}\n{_local_fixes()}")


def _load_local(checkpoint: Path, hf_dir: Path, device: str) -> tuple[Detoxify, str]:
    loaded = _read_checkpoint(checkpoint, device)
    args, labels = _checkpoint_spec(loaded, checkpoint)
    _check_hf_folder(hf_dir, str(args["model_type"]))
    model = _build_model(args, loaded["state_dict"], hf_dir, checkpoint)
    tokenizer = _build_tokenizer(str(args["tokenizer_name"]), hf_dir)
    detox = Detoxify.__new__(Detoxify)  # a real Detoxify, without its hub-bound __init__
    detox.model = model.to(device)
    detox.tokenizer = tokenizer
    detox.class_names = list(labels)
    detox.device = device
    return detox, f"checkpoint:{checkpoint.name}@{_sha256(checkpoint)[:12]}"


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _read_checkpoint(path: Path, device: str) -> Any:
    """torch.load the checkpoint; tries the safe loader first. The path comes from the
    operator's config, so a checkpoint that needs full unpickling is trusted like the config."""
    if not path.is_file():
        raise _local_error(f"model.checkpoint {path} does not exist or is not a file.")
    try:
        try:
            return torch.load(path, map_location=device, weights_only=True)
        except pickle.UnpicklingError as exc:
            if "Weights only load failed" not in str(exc):
                raise  # unreadable, not merely holding more than tensors
            loaded = torch.load(path, map_location=device, weights_only=False)
            log.info("checkpoint_full_unpickle", checkpoint=str(path))
            return loaded
    except Exception as exc:
        raise _local_error(
            f"model.checkpoint {path} cannot be read as a torch checkpoint "
            f"(truncated or corrupt?): {one_line(exc)}"
        ) from exc


def _dig(data: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise KeyError(".".join(keys))
        data = data[key]
    return data


def _checkpoint_spec(loaded: Any, path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The checkpoint's architecture args and label names, checked against Detoxify's format."""
    try:
        _dig(loaded, ["state_dict"])
        args = {k: _dig(loaded, ["config", "arch", "args", k]) for k in _ARCH_KEYS}
        classes = _dig(loaded, ["config", "dataset", "args", "classes"])
    except KeyError as exc:
        raise _local_error(
            f"model.checkpoint {path} is not in Detoxify's checkpoint format: it lacks {exc}."
        ) from None
    if not isinstance(classes, list | tuple) or len(classes) != int(args["num_classes"]):
        raise _local_error(
            f"model.checkpoint {path}: config.dataset.args.classes ({classes!r}) does not list "
            f"num_classes={args['num_classes']} label names."
        )
    for key in ("model_name", "tokenizer_name"):
        if not hasattr(transformers, str(args[key])):
            raise _local_error(
                f"model.checkpoint {path}: config.arch.args.{key} {args[key]!r} is not a "
                f"class in transformers {transformers.__version__}."
            )
    return args, tuple(LABEL_RENAMES.get(str(c), str(c)) for c in classes)


def _check_hf_folder(hf_dir: Path, base: str) -> None:
    what = f"the base model's ({base}) Hugging Face config and tokenizer"
    hint = (
        f"On a machine with network: AutoConfig and AutoTokenizer.from_pretrained({base!r})"
        ".save_pretrained(folder), then copy the folder here."
    )
    if not hf_dir.is_dir():
        raise _local_error(f"model.hf_config {hf_dir} is not a folder; it must hold {what}. {hint}")
    missing = []
    if not (hf_dir / "config.json").is_file():
        missing.append("config.json")
    if not any((hf_dir / name).is_file() for name in _TOKENIZER_FILES):
        missing.append(f"tokenizer files (one of {', '.join(_TOKENIZER_FILES)})")
    if missing:
        raise _local_error(
            f"model.hf_config {hf_dir} lacks {' and '.join(missing)}; it must hold {what}. {hint}"
        )


def _build_model(args: dict[str, Any], state_dict: Any, hf_dir: Path, ckpt: Path) -> Any:
    """Route (b): config from the local folder, weights from the checkpoint, no hub."""
    model_class = getattr(transformers, str(args["model_name"]))
    try:
        config = model_class.config_class.from_pretrained(
            hf_dir, num_labels=int(args["num_classes"]), local_files_only=True
        )
        model, info = model_class.from_pretrained(
            None,
            config=config,
            state_dict=state_dict,
            local_files_only=True,
            output_loading_info=True,
            dtype=torch.float32,
        )
    except Exception as exc:
        raise _local_error(
            f"building {args['model_name']} from {hf_dir / 'config.json'} with the weights in "
            f"{ckpt} failed: {one_line(exc)}"
        ) from exc
    bad = sorted(info.get("missing_keys", ())) + sorted(info.get("mismatched_keys", ()))
    if bad:
        raise _local_error(
            f"the weights in {ckpt} do not fit the model described by {hf_dir / 'config.json'} "
            f"({args['model_name']}): missing or mismatched {', '.join(map(str, bad[:5]))}"
            + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        )
    return model


def _build_tokenizer(tokenizer_name: str, hf_dir: Path) -> Any:
    try:
        return getattr(transformers, tokenizer_name).from_pretrained(hf_dir, local_files_only=True)
    except Exception as exc:
        raise _local_error(
            f"loading {tokenizer_name} from model.hf_config {hf_dir} failed: {one_line(exc)}"
        ) from exc


# --- pre-fetching ---------------------------------------------------------------------------


def pull(name: str, progress: Callable[[str], object] = print) -> str:
    """Fetch a named model's weights into the torch hub cache and its base model's config and
    tokenizer into the Hugging Face cache, for `modbot models pull`.

    Returns a one-line summary of where everything went; raises ModelLoadError on failure.
    """
    url = _model_url(name)
    weights = cached_weights_path(name)
    if weights.exists():
        progress(f"weights already cached: {weights}")
    else:
        _download_weights(name, url, weights, progress)
    progress(f"fetching {BASE_MODELS.get(name, name)} config and tokenizer into the HF cache")
    try:
        Detoxify(model_type=name, device="cpu")
    except Exception as exc:
        raise ModelLoadError(_pull_failure(name, one_line(exc))) from exc
    summary = f"model {name}: weights in {weights}, config/tokenizer in {hf_constants.HF_HUB_CACHE}"
    progress(summary)
    return summary


def _download_weights(
    name: str, url: str, weights: Path, progress: Callable[[str], object]
) -> None:
    offline = _offline_reason()
    if offline:
        raise ModelLoadError(_pull_failure(name, f"downloads are off ({offline})"))
    progress(f"downloading {url} -> {weights}")
    weights.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(weights), hash_prefix=url_hash(url) or None)
    except Exception as exc:
        raise ModelLoadError(_pull_failure(name, one_line(exc))) from exc


def _pull_failure(name: str, reason: str) -> str:
    return (
        f"cannot pull Detoxify model {name!r}: {reason}.\n"
        "Fix one of:\n"
        "  - run `modbot models pull` on a machine with network, then copy its ~/.cache/torch "
        "and ~/.cache/huggingface (or $TORCH_HOME and $HF_HOME) to this machine;\n"
        "  - air-gapped: set model.checkpoint and model.hf_config to a local Detoxify checkpoint "
        "and its Hugging Face config/tokenizer folder;\n"
        "  - rules only: set model.enabled: false."
    )
