"""params.yaml loads into a typed config; bad keys and values fail before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fitting_room.config import ConfigError, dump_resolved, load_config

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"


def test_project_params_load_in_every_profile():
    base = load_config(PARAMS)
    smoke = load_config(PARAMS, profile="smoke")
    assert base.profile == "default" and smoke.profile == "smoke"
    assert smoke.data.images.fashion_mnist.max_train < 60000


def test_profile_and_overrides_come_from_environment(monkeypatch):
    monkeypatch.setenv("FITTING_ROOM_PROFILE", "smoke")
    monkeypatch.setenv("FITTING_ROOM_SET", "seed=7; data.shoppers.max_rows=10")
    cfg = load_config(PARAMS)
    assert (cfg.profile, cfg.seed, cfg.data.shoppers.max_rows) == ("smoke", 7, 10)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"data\.images\.fashion_mnist\.max_trian: unknown key"):
        load_config(PARAMS, overrides=["data.images.fashion_mnist.max_trian=3"])


def test_out_of_range_value_is_named():
    with pytest.raises(ConfigError, match=r"data\.shoppers\.max_rows: .*greater than 0"):
        load_config(PARAMS, overrides=["data.shoppers.max_rows=0"])


def test_unknown_profile_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown profile 'huge'.*smoke"):
        load_config(PARAMS, profile="huge")


def test_malformed_override_is_rejected():
    with pytest.raises(ConfigError, match="dotted.key=value"):
        load_config(PARAMS, overrides=["seed"])


def test_fashion_mnist_requires_its_native_shape():
    with pytest.raises(ConfigError, match="must be 28/1"):
        load_config(PARAMS, overrides=["data.images.resolution=64"])


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(PARAMS, profile="smoke", overrides=["seed=3"])
    path = dump_resolved(cfg, tmp_path / "resolved.yaml")
    assert yaml.safe_load(path.read_text())["resolved_from"]["profile"] == "smoke"
    assert load_config(path) == cfg


def test_resolved_config_refuses_another_profile(tmp_path):
    path = dump_resolved(load_config(PARAMS, profile="smoke"), tmp_path / "r.yaml")
    with pytest.raises(ConfigError, match="cannot be re-resolved"):
        load_config(path, profile="default")


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="params file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_list_items_are_overridden_by_position():
    cfg = load_config(PARAMS, overrides=["data.shoppers.sources.0.path=/tmp/rtr.json"])
    assert str(cfg.data.shoppers.sources[0].path) == "/tmp/rtr.json"
    with pytest.raises(ConfigError, match="'5' is not an index of a 1-item list"):
        load_config(PARAMS, overrides=["data.shoppers.sources.5.path=x"])


def test_overriding_inside_a_value_is_rejected():
    with pytest.raises(ConfigError, match="'seed' is a value, not a section"):
        load_config(PARAMS, overrides=["seed.x=1"])
