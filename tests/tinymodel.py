"""A tiny Detoxify-format checkpoint built locally, with no download: real loading and batching
code runs against it in well under a second. Its scores mean nothing."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_WORD_LINES = (
    "the a an is are was you we they i he she it this that good bad great article thanks",
    "vermin idiot hate love kill people cat dog run fast slow red blue green and or not very",
    "nice awful stupid kind friend enemy house tree river sky sun moon rain snow happy sad",
    "angry calm loud quiet",
)
WORDS = tuple(word for line in _WORD_LINES for word in line.split())  # one token each
DETOXIFY_CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
MAX_LENGTH = 64  # tokenizer model_max_length: 62 text tokens per window after [CLS] and [SEP]
HUB_LIKE_MODEL_TYPE = "bert-base-uncased"  # stock detoxify would ask the hub for this


def build_tiny_checkpoint(directory: Path, seed: int = 1234) -> tuple[Path, Path]:
    """Write `tiny.ckpt` (Detoxify's dict format) and `hf/` (config.json + tokenizer) into
    `directory`; return (checkpoint path, hf folder). Same seed, same weights."""
    hf_dir = directory / "hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate((*SPECIAL_TOKENS, *WORDS))}
    # transformers 5 ignores BertTokenizer(vocab_file=...): give the vocab as a dict
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=MAX_LENGTH)
    tokenizer.save_pretrained(hf_dir)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=len(DETOXIFY_CLASSES),
        initializer_range=0.5,  # wide weights, so different texts get clearly different scores
    )
    config.save_pretrained(hf_dir)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    checkpoint = directory / "tiny.ckpt"
    torch.save({"config": _detoxify_config(), "state_dict": model.state_dict()}, checkpoint)
    return checkpoint, hf_dir


def _detoxify_config() -> dict[str, object]:
    return {
        "arch": {
            "args": {
                "model_type": HUB_LIKE_MODEL_TYPE,
                "model_name": "BertForSequenceClassification",
                "tokenizer_name": "BertTokenizer",
                "num_classes": len(DETOXIFY_CLASSES),
            }
        },
        "dataset": {"args": {"classes": list(DETOXIFY_CLASSES)}},
    }
