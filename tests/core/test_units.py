"""Small pure pieces: entities, terms, ids, dates, fusion, configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from memvault import Config, ConfigError, InvalidInput
from memvault.core.ids import new_id
from memvault.core.search.fusion import fuse, min_max
from memvault.core.search.timeline import FOLLOWS_WEIGHT, PRECEDES_WEIGHT, spread
from memvault.core.text.entities import extract_entities
from memvault.core.text.terms import terms
from memvault.core.timeutil import parse_datetime
from memvault.models import Candidate
from memvault.stores.registry import open_episodic


def test_entities_are_found_and_normalised() -> None:
    text = (
        "Yesterday Caroline met Melanie at the New York City Pride. "
        'She wrote to bob.smith@example.com and @mel_codes about "Becoming Nicole" '
        "(https://example.com/book?id=3). #pride Thanks!"
    )
    found = extract_entities(text)
    for expected in ("caroline", "melanie", "new york city pride", "bob.smith@example.com",
                     "@mel_codes", "becoming nicole", "https://example.com/book?id=3", "#pride"):
        assert expected in found
    for word in ("yesterday", "thanks", "she"):
        assert word not in found


def test_entities_strip_possessives_and_are_deterministic() -> None:
    assert extract_entities("I love Caroline's garden") == ["caroline"]
    text = "Anna and Ben went to Rome."
    assert extract_entities(text) == extract_entities(text) == ["anna", "ben", "rome"]
    assert len(extract_entities(" ".join(f"Name{i}" for i in range(100)))) == 32


def test_terms_drop_stop_words_and_repeats() -> None:
    assert terms("What is Caroline's favourite book? The BOOK!") == [
        "caroline", "favourite", "book"]
    assert terms("the and of") == []


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)


def test_dates() -> None:
    assert parse_datetime("2024-05-08", "d") == datetime(2024, 5, 8, tzinfo=UTC)
    assert parse_datetime("2024-05-08T10:00:00Z", "d") == datetime(2024, 5, 8, 10, tzinfo=UTC)
    assert parse_datetime("2024-05-08T12:00:00+02:00", "d") == datetime(2024, 5, 8, 10,
                                                                         tzinfo=UTC)
    with pytest.raises(InvalidInput, match="since is not an ISO 8601 date"):
        parse_datetime("last tuesday", "since")
    with pytest.raises(InvalidInput, match="must be an ISO 8601 date string"):
        parse_datetime(12, "since")


def test_fusion_rescales_each_ranking_and_rewards_agreement() -> None:
    lexical = [Candidate(memory_id=i, score=s) for i, s in (("a", 12.0), ("b", 7.0), ("c", 2.0))]
    vector = [Candidate(memory_id=i, score=s) for i, s in (("c", 0.9), ("b", 0.8), ("d", 0.4))]
    assert min_max(lexical) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert min_max([Candidate(memory_id="x", score=3.0)]) == {"x": 1.0}
    assert min_max([]) == {}
    fused = fuse([lexical, vector])
    assert fused == pytest.approx({"a": 1.0, "b": 0.5 + 0.8, "c": 1.0, "d": 0.0})
    assert fuse([lexical, vector], [1.0, 0.0]) == pytest.approx(
        {"a": 1.0, "b": 0.5, "c": 0.0, "d": 0.0})


def test_spread_shares_scores_along_the_timeline() -> None:
    scores = {"q": 1.0, "x": 0.2}
    adjacent = {"q": ("p", "a"), "a": ("q", None), "p": (None, "q"), "x": (None, None)}
    spread_scores = spread(scores, adjacent)
    assert spread_scores == pytest.approx({
        "q": 1.0,
        "a": FOLLOWS_WEIGHT * 1.0,       # the answer after a matching question
        "p": PRECEDES_WEIGHT * 1.0,      # the turn that led to it
        "x": 0.2,
    })


def test_config_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "memvault.toml"
    toml.write_text('database = "from-file.db"\nuser_id = "file-user"\n'
                    '[embedder]\nkind = "none"\n')
    env = {"MEMVAULT_USER_ID": "env-user", "MEMVAULT_CONFIG": str(toml)}
    config = Config.load({"agent_id": "flag-agent"}, env=env)
    assert config.user_id == "env-user"
    assert config.agent_id == "flag-agent"
    assert config.embedder.kind == "none"
    assert config.episodic_url.endswith("from-file.db")
    assert Config.load({"user_id": "flag-user"}, env=env).user_id == "flag-user"
    explicit = Config.load({"database": "sqlite:///x.db",
                            "working_url": "sqlite:///w.db"}, env={})
    assert (explicit.episodic_url, explicit.working_url) == ("sqlite:///x.db", "sqlite:///w.db")


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"embedder\.kind"):
        Config.load({"embedder.kind": "magic"}, env={})
    with pytest.raises(ConfigError, match="max_content_bytes"):
        Config.load({"max_content_bytes": "lots"}, env={})
    with pytest.raises(ConfigError, match="not found"):
        Config.load(env={"MEMVAULT_CONFIG": str(tmp_path / "missing.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("database = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.load(config_file=bad)
    with pytest.raises(ConfigError, match=r"no episodic store for mongodb://"):
        open_episodic("mongodb://localhost/x")


def test_a_settings_table_given_a_plain_value_is_refused() -> None:
    with pytest.raises(ConfigError, match="search must be a table of settings"):
        Config.from_flat({"search": "rank"})
    assert Config.from_flat({"search": {"fusion": "rank"}}).search.fusion == "rank"
    assert Config.from_flat({"embedder": "none"}).embedder.kind == "none"
