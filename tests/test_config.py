"""Config loading: validation errors name file, line and key path; secrets never show."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT

from bot.cli import main
from bot.config import ConfigError, Secret, Secrets, Settings, load_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.yaml"

SITE = """\
sites:
  - name: forum
    platform:
      type: generic
      base_url: https://forum.example/api
"""

WriteConfig = Callable[[str], Path]


@pytest.fixture(name="write_config")
def _write_config(tmp_path: Path) -> WriteConfig:
    """Write YAML text to a config file in a fresh folder and return its path."""

    def write(text: str, name: str = "modbot.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def error_of(path: Path) -> str:
    """The ConfigError message that loading `path` raises."""
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    return str(excinfo.value)


# --- the example config ----------------------------------------------------------------


def test_example_config_loads_when_its_env_vars_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.example.yaml validates, and its env secrets resolve to the variables' values."""
    monkeypatch.setenv("MYFORUM_MODBOT_TOKEN", "tok-123")
    monkeypatch.setenv("MYFORUM_WEBHOOK_SECRET", "hook-456")
    settings, secrets = load_config(EXAMPLE)
    assert [s.name for s in settings.sites] == ["myforum"]
    assert secrets.api_tokens["myforum"].reveal() == "tok-123"
    assert secrets.webhook_secrets["myforum"].reveal() == "hook-456"
    assert settings.store.path == REPO / "modbot.db"


def test_check_config_on_the_example_exits_0_without_printing_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config config.example.yaml` succeeds and shows where secrets come from, not them."""
    monkeypatch.setenv("MYFORUM_MODBOT_TOKEN", "tok-123")
    monkeypatch.setenv("MYFORUM_WEBHOOK_SECRET", "hook-456")
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "myforum" in out
    assert "tok-123" not in out
    assert "hook-456" not in out


def test_example_config_without_its_env_vars_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With MYFORUM_MODBOT_TOKEN unset the example fails, naming the variable and key path."""
    monkeypatch.delenv("MYFORUM_MODBOT_TOKEN", raising=False)
    monkeypatch.setenv("MYFORUM_WEBHOOK_SECRET", "hook-456")
    message = error_of(EXAMPLE)
    assert "MYFORUM_MODBOT_TOKEN" in message
    assert "sites[0].platform" in message


def test_empty_file_gives_defaults(write_config: WriteConfig) -> None:
    """An empty config is valid and yields the documented defaults."""
    settings, secrets = load_config(write_config(""))
    assert settings.sites == ()
    assert settings.policy.thresholds["toxicity"].flag == 0.80
    assert settings.workers.max_attempts == 20
    assert secrets.api_tokens == {}


# --- validation errors: file, line, key path ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        pytest.param(
            "policy:\n  thresholds:\n    toxicity: {flag: 1.5}\n",
            3,
            "policy.thresholds.toxicity.flag",
            "less than or equal to 1",
            id="threshold-out-of-range",
        ),
        pytest.param(
            "policy:\n  thresholds:\n    insult: {flag: -0.1}\n",
            3,
            "policy.thresholds.insult.flag",
            "greater than or equal to 0",
            id="threshold-negative",
        ),
        pytest.param(
            "store:\n  path: x.db\nworkers:\n  concurrency: many\n",
            4,
            "workers.concurrency",
            "valid integer",
            id="wrong-type",
        ),
        pytest.param(
            SITE + "    poll:\n      intervl_s: 3\n",
            7,
            "sites[0].poll.intervl_s",
            "unknown key",
            id="unknown-key-in-site",
        ),
        pytest.param(
            "store:\n  path: x.db\n  bad: 1\n",
            3,
            "store.bad",
            "unknown key",
            id="unknown-key-in-section",
        ),
        pytest.param(
            "sites:\n  - name: forum\n    platform:\n      type: generic\n",
            3,
            "sites[0].platform.base_url",
            "required key is missing",
            id="missing-base-url",
        ),
        pytest.param(
            "policy:\n  thresholds:\n    insult: {flag: 0.9, hide: 0.5}\n",
            3,
            "policy.thresholds.insult",
            "hide (0.5) is below flag (0.9)",
            id="hide-below-flag",
        ),
        pytest.param(
            "model:\n  enabled: true\n  checkpoint: weights/c.ckpt\n",
            1,
            "model",
            "checkpoint and hf_config go together",
            id="checkpoint-without-hf-config",
        ),
    ],
)
def test_validation_errors_name_file_line_and_key_path(
    write_config: WriteConfig, text: str, line: int, key: str, words: str
) -> None:
    """Each invalid value is reported as `file:line: dotted.key: why`."""
    path = write_config(text)
    message = error_of(path)
    assert f"{path}:{line}: {key}: " in message
    assert words in message


def test_every_error_in_a_file_is_reported(write_config: WriteConfig) -> None:
    """Several mistakes are all listed, one per line, not just the first."""
    path = write_config("workers:\n  concurrency: 0\n  lease_s: nope\n")
    lines = error_of(path).splitlines()
    assert any(f"{path}:2: workers.concurrency: " in x for x in lines)
    assert any(f"{path}:3: workers.lease_s: " in x for x in lines)


def test_duplicate_site_names_name_the_sites_key(write_config: WriteConfig) -> None:
    """Two sites with one name: the error points at `sites` (its line), not the top level."""
    path = write_config(
        "store:\n  path: x.db\n"  # lines 1-2: so line 1 is not `sites:`
        + SITE  # sites: on line 3, first name on line 4
        + "  - name: forum\n    platform: {type: generic, base_url: https://b.example}\n"
    )
    message = error_of(path)
    assert "'forum' is already used" in message
    match = re.search(rf"{re.escape(str(path))}:(\d+): (sites\S*): ", message)
    assert match is not None, message
    assert int(match.group(1)) in {3, 8}  # the `sites:` key or the repeated name


def test_invalid_yaml_names_the_line_of_the_error(write_config: WriteConfig) -> None:
    """Broken YAML is reported with the line where the parser failed."""
    path = write_config("store:\n  path: x.db\nlogging:\n\tlevel: info\n")
    message = error_of(path)
    assert message.startswith(f"{path}:4: not valid YAML")


def test_a_top_level_list_is_rejected(write_config: WriteConfig) -> None:
    """A config that is not a mapping of sections fails with a clear message."""
    message = error_of(write_config("- store\n- rules\n"))
    assert "must be a mapping" in message


def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing config file is a ConfigError naming the path, not a traceback."""
    missing = tmp_path / "nope.yaml"
    assert str(missing) in error_of(missing)


def test_check_config_on_a_bad_file_returns_2_and_prints_the_key_path(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config bad.yaml` exits 2 and prints the dotted key path on stderr."""
    path = write_config("policy:\n  thresholds:\n    toxicity: {flag: 1.5}\n")
    assert main(["check-config", str(path)]) == 2
    captured = capsys.readouterr()
    assert "policy.thresholds.toxicity.flag" in captured.err
    assert "OK" not in captured.out


# --- secrets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "line", "where"),
    [
        pytest.param(
            SITE + "      api_token: s3cr3t-abc\n", "api_token", 3, "sites[0].platform", id="token"
        ),
        pytest.param(
            SITE + "    webhook:\n      enabled: true\n      secret: s3cr3t-abc\n",
            "secret",
            6,
            "sites[0].webhook",
            id="webhook-secret",
        ),
    ],
)
def test_literal_secrets_are_rejected(
    write_config: WriteConfig, text: str, key: str, line: int, where: str
) -> None:
    """A secret written into the config is refused with a pointer to *_env / *_file."""
    path = write_config(text)
    message = error_of(path)
    assert f"{path}:{line}: {where}: " in message
    assert f"'{key}' may not be written" in message
    assert f"{key}_env" in message
    assert f"{key}_file" in message
    assert "s3cr3t-abc" not in message


def test_missing_env_var_names_the_variable_and_key_path(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api_token_env naming an unset variable is an error at its own key."""
    monkeypatch.delenv("MODBOT_TEST_NO_SUCH_VAR", raising=False)
    path = write_config(SITE + "      api_token_env: MODBOT_TEST_NO_SUCH_VAR\n")
    message = error_of(path)
    assert f"{path}:6: sites[0].platform.api_token_env: " in message
    assert "MODBOT_TEST_NO_SUCH_VAR" in message


def test_enabled_webhook_with_unset_secret_env_is_an_error(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """webhook.secret_env naming an unset variable is an error at its own key."""
    monkeypatch.delenv("MODBOT_TEST_NO_SUCH_VAR", raising=False)
    path = write_config(
        SITE + "    webhook:\n      enabled: true\n      secret_env: MODBOT_TEST_NO_SUCH_VAR\n"
    )
    message = error_of(path)
    assert f"{path}:8: sites[0].webhook.secret_env: " in message
    assert "MODBOT_TEST_NO_SUCH_VAR" in message


def test_enabled_webhook_without_any_secret_is_an_error(write_config: WriteConfig) -> None:
    """An enabled webhook must say where its secret comes from."""
    path = write_config(SITE + "    webhook:\n      enabled: true\n")
    message = error_of(path)
    assert "sites[0].webhook" in message
    assert "secret_env or secret_file" in message


def test_unreadable_secret_file_names_the_key_path(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    """api_token_file pointing at nothing is an error naming its key and the file."""
    missing = tmp_path / "no-such-token"
    path = write_config(SITE + f"      api_token_file: {missing}\n")
    message = error_of(path)
    assert f"{path}:6: sites[0].platform.api_token_file: " in message
    assert str(missing) in message


def test_secrets_resolve_from_env_and_from_file(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token comes from the environment and the webhook secret from a file, stripped."""
    monkeypatch.setenv("MODBOT_TEST_TOKEN", "  tok-from-env\n")
    secret_file = tmp_path / "hook-secret"
    secret_file.write_text("hook-from-file\n", encoding="utf-8")
    path = write_config(
        SITE
        + "      api_token_env: MODBOT_TEST_TOKEN\n"
        + f"    webhook:\n      enabled: true\n      secret_file: {secret_file}\n"
    )
    _, secrets = load_config(path)
    assert secrets.api_tokens["forum"].reveal() == "tok-from-env"
    assert secrets.webhook_secrets["forum"].reveal() == "hook-from-file"


def test_token_file_resolves_too(write_config: WriteConfig, tmp_path: Path) -> None:
    """api_token_file is read and stripped."""
    token_file = tmp_path / "token"
    token_file.write_text("tok-from-file\n", encoding="utf-8")
    path = write_config(SITE + f"      api_token_file: {token_file}\n")
    _, secrets = load_config(path)
    assert secrets.api_tokens["forum"].reveal() == "tok-from-file"


def test_relative_secret_file_is_relative_to_the_config_file(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative api_token_file is found beside the config, whatever the working directory."""
    path = write_config(SITE + "      api_token_file: secrets/token\n", name="conf/modbot.yaml")
    (path.parent / "secrets").mkdir()
    (path.parent / "secrets" / "token").write_text("tok-rel\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _, secrets = load_config(path)
    assert secrets.api_tokens["forum"].reveal() == "tok-rel"


def test_secret_repr_and_str_hide_the_value() -> None:
    """repr, str and format of a Secret show where it came from, never the value."""
    secret = Secret("hunter2", "$MODBOT_TOKEN")
    for shown in (repr(secret), str(secret), f"{secret}", repr({"forum": secret})):
        assert "hunter2" not in shown
        assert "$MODBOT_TOKEN" in shown
    assert secret.reveal() == "hunter2"


def test_settings_and_secrets_never_show_secret_values(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither repr/str of the loaded Settings nor of the Secrets holder contain a secret."""
    monkeypatch.setenv("MODBOT_TEST_TOKEN", "tok-hunter2")
    monkeypatch.setenv("MODBOT_TEST_HOOK", "hook-hunter2")
    path = write_config(
        SITE
        + "      api_token_env: MODBOT_TEST_TOKEN\n"
        + "    webhook:\n      enabled: true\n      secret_env: MODBOT_TEST_HOOK\n"
    )
    settings, secrets = load_config(path)
    assert isinstance(settings, Settings)
    assert isinstance(secrets, Secrets)
    shown = " ".join(
        [
            repr(settings),
            str(settings),
            settings.model_dump_json(),
            repr(secrets),
            repr(vars(secrets)),
            repr(secrets.api_tokens),
            repr(secrets.webhook_secrets),
        ]
    )
    assert "hunter2" not in shown


# --- paths -----------------------------------------------------------------------------


def test_relative_paths_are_relative_to_the_config_folder(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """store.path, rules.paths and model files resolve beside the config, not the cwd."""
    path = write_config(
        "store:\n  path: data/modbot.db\n"
        "rules:\n  paths: [myrules, /abs/rules]\n"
        "model:\n  checkpoint: weights/c.ckpt\n  hf_config: weights/hf\n",
        name="conf/modbot.yaml",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings, _ = load_config(path)
    folder = path.parent
    assert settings.store.path == folder / "data" / "modbot.db"
    assert settings.rules.paths == (folder / "myrules", Path("/abs/rules"))
    assert settings.model.checkpoint == folder / "weights" / "c.ckpt"
    assert settings.model.hf_config == folder / "weights" / "hf"


def test_absolute_paths_are_kept(write_config: WriteConfig) -> None:
    """An absolute store path is used as written."""
    settings, _ = load_config(write_config("store:\n  path: /var/lib/modbot/modbot.db\n"))
    assert settings.store.path == Path("/var/lib/modbot/modbot.db")


def test_settings_are_frozen(write_config: WriteConfig) -> None:
    """Loaded settings cannot be changed after loading."""
    settings, _ = load_config(write_config(SITE))
    with pytest.raises(ValueError, match="frozen"):
        settings.workers = settings.workers  # type: ignore[misc]


def _fields(model: type, prefix: str = "") -> set[str]:
    """Every key path a config may hold (sites' platform as the generic adapter's)."""
    from pydantic import BaseModel

    from bot.config import GenericPlatform

    out = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        out.add(path)
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        for arg in inner:
            if name == "platform":
                arg = GenericPlatform
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out |= _fields(arg, path + ".")
    return out


def test_example_config_documents_every_key() -> None:
    """config.example.yaml names every key the loader accepts (comments count)."""
    from bot.config import Settings

    text = (ROOT / "config.example.yaml").read_text()
    missing = [p for p in sorted(_fields(Settings)) if p.split(".")[-1] + ":" not in text]
    assert not missing, missing


def test_every_platform_type_resolves_its_own_credential(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WordPress, Discourse and Coral sites load; each credential comes from its own key."""
    (tmp_path / "wp-pass").write_text("abcd efgh\n")
    monkeypatch.setenv("MODBOT_TEST_DKEY", "discourse-key")
    path = write_config(
        "sites:\n"
        "  - name: blog\n"
        "    platform: {type: wordpress, base_url: 'http://127.0.0.1:1', username: admin,\n"
        "               app_password_file: wp-pass}\n"
        "  - name: forum\n"
        "    platform: {type: discourse, base_url: 'http://127.0.0.1:2',\n"
        "               api_key_env: MODBOT_TEST_DKEY}\n"
        "  - name: comments\n"
        "    platform: {type: coral}\n"
    )
    settings, secrets = load_config(path)
    assert [s.platform.type for s in settings.sites] == ["wordpress", "discourse", "coral"]
    assert secrets.api_tokens["blog"].reveal() == "abcd efgh"
    assert secrets.api_tokens["forum"].reveal() == "discourse-key"
    assert "comments" not in secrets.api_tokens
    monkeypatch.setenv("MODBOT_TEST_DKEY", "")
    assert "sites[1].platform.api_key_env: api_key from $MODBOT_TEST_DKEY is empty" in error_of(
        path
    )
