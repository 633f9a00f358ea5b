import pytest

from nbexec.core.errors import ConfigError, ValidationError
from nbexec.engine.config import EngineConfig

GOOD = """
[engine]
prefix = "desk1"

[risk]
max_quantity = 500

[[accounts]]
id = "ZK01"
groups = ["alpha"]
sizing = { multiplier = 2 }
  [[accounts.routes]]
  broker = "kite"
  api_key = "kk01"
  access_token_env = "TEST_ZK01_TOKEN"
"""


def test_a_config_file_loads_with_secrets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_ZK01_TOKEN", "tok-secret-value")
    path = tmp_path / "nbexec.toml"
    path.write_text(GOOD)
    config = EngineConfig.load(path)
    (account,) = config.accounts
    (route,) = account.routes
    assert (config.prefix, config.risk.max_quantity, account.groups) == ("desk1", 500, ("alpha",))
    assert route.secrets["access_token"].reveal() == "tok-secret-value"
    assert "tok-secret-value" not in repr(config)


def test_a_missing_secret_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_ZK01_TOKEN", raising=False)
    path = tmp_path / "nbexec.toml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError, match="TEST_ZK01_TOKEN"):
        EngineConfig.load(path)


def test_a_secret_written_into_the_file_is_refused_without_echoing_it():
    raw = {"accounts": [{"id": "A", "routes": [{"broker": "kite", "access_token": "leak"}]}]}
    with pytest.raises(ValidationError) as info:
        EngineConfig.from_mapping(raw)
    assert info.value.field == "accounts[0].routes[0].access_token" and "leak" not in str(info.value)


@pytest.mark.parametrize(
    "raw,field",
    [
        ({"accounts": [{"id": "A", "routes": [{"broker": "ibkr"}]}]}, "accounts[0].routes[0].broker"),
        ({"accounts": [{"id": "", "routes": []}]}, "accounts[0].id"),
        ({"accounts": [{"id": "A", "routes": []}]}, "accounts[0].routes"),
        ({"accounts": [{"id": "A", "routes": [{"broker": "dhan"}], "sizing": {"lots": 1}}]}, "lots"),
        ({"paper": {}, "risk": {"max_quantity": -1}}, "max_quantity"),
        ({"paper": {}, "strategy": {}}, "config"),
    ],
)
def test_bad_config_names_the_field(raw, field):
    with pytest.raises(ValidationError) as info:
        EngineConfig.from_mapping(raw)
    assert info.value.field == field


def test_an_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        EngineConfig.load(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[[accounts]\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        EngineConfig.load(tmp_path / "bad.toml")


def test_no_accounts_and_no_paper_is_refused():
    with pytest.raises(ConfigError, match="nothing to trade with"):
        EngineConfig.from_mapping({})
