"""Bad configuration fails early, naming the field and the rule it broke."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import ConfigError, load_environment, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS


def default_data() -> dict[str, Any]:
    return copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])


def test_embedded_default_is_valid_and_needs_no_account() -> None:
    config = load_environment(None)
    assert config.account == "111111111111"
    assert config.home_region == "us-east-1"
    assert config.additional_regions == ("us-west-2",)
    assert config.availability_zones("us-west-2") == ["us-west-2a", "us-west-2b"]


def test_config_is_frozen() -> None:
    config = load_environment("default")
    with pytest.raises(ValueError, match="frozen"):
        config.account = "222222222222"


def _break(path: str, value: Any) -> dict[str, Any]:
    data = default_data()
    *parents, leaf = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    target[leaf] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "rule"),
    [
        ("account", "12345", "account", "exactly 12 digits"),
        ("account", "12345678901a", "account", "exactly 12 digits"),
        ("home_region", "mars-east-1", "home_region", "unknown AWS region"),
        ("regions.us-east-1.vpc_cidr", "10.10.0.0/33", "regions.us-east-1.vpc_cidr", "malformed IPv4 CIDR"),
        ("regions.us-east-1.vpc_cidr", "10.10.0.1/16", "regions.us-east-1.vpc_cidr", "host bits set"),
        ("regions.us-east-1.vpc_cidr", "8.8.0.0/16", "regions.us-east-1.vpc_cidr", "private"),
        ("regions.us-east-1.vpc_cidr", "10.10.0.0/26", "regions.us-east-1.vpc_cidr", "between /16 and /22"),
        ("regions.us-west-2.vpc_cidr", "10.10.128.0/17", "  - regions.us-east-1.vpc_cidr ", "overlaps"),
        ("allowed_ingress_cidrs", ["300.0.0.0/8"], "allowed_ingress_cidrs.0", "malformed IPv4 CIDR"),
        ("allowed_ingress_cidrs", [], "allowed_ingress_cidrs", "at least 1"),
        ("allowed_ingress_cidrs", [f"198.51.100.{i}/32" for i in range(9)], "allowed_ingress_cidrs", "at most 8"),
        ("log_retention_days", 90, "log_retention_days", "under the 365 days"),
        ("log_retention_days", 366, "log_retention_days", "does not offer"),
        ("az_count", 1, "az_count", "greater than or equal to 2"),
        ("az_count", 4, "az_count", "less than or equal to 3"),
        ("alarm_email", "not-an-email", "alarm_email", "not an e-mail"),
        ("regions.us-east-1.certificate_arn", "arn:aws:acm:us-east-1:1:x", "certificate_arn", "ACM certificate ARN"),
        ("db_port", 8443, "  - app_port and db_port", "must differ"),
        ("surprise", True, "surprise", "unknown field 'surprise'"),
    ],
)
def test_bad_configuration_names_the_field(path: str, value: Any, field: str, rule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_environment(_break(path, value))
    message = str(caught.value)
    assert field in message
    assert rule in message


def test_unknown_region_key_is_rejected() -> None:
    data = default_data()
    data["regions"]["atlantis-1"] = data["regions"].pop("us-west-2")
    with pytest.raises(ConfigError, match=r"regions\.atlantis-1.*unknown AWS region"):
        parse_environment(data)


def test_certificate_must_be_in_its_region() -> None:
    data = default_data()
    data["regions"]["us-west-2"]["certificate_arn"] = data["regions"]["us-east-1"]["certificate_arn"]
    with pytest.raises(ConfigError, match=r"regions\.us-west-2\.certificate_arn is in us-east-1"):
        parse_environment(data)


def test_home_region_must_be_deployed() -> None:
    data = default_data()
    data["home_region"] = "eu-west-1"
    with pytest.raises(ConfigError, match="home_region 'eu-west-1' must be one of regions"):
        parse_environment(data)


def test_unknown_environment_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'nope' \(field: env\)"):
        load_environment("nope")


def test_environment_from_file(tmp_path: Path) -> None:
    data = default_data()
    data["name"] = "prod"
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(data))
    assert load_environment(str(path)).name == "prod"


def test_environment_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read environment file"):
        load_environment(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_environment(str(broken))


# --- card_vault.shred_epochs (issue 19 finding 8, task w19b) ---------------------------------------

_SHRED_BOUNDS = {"epoch_days": (7, 3650), "deletion_window_days": (7, 30), "schedule_hour_utc": (0, 23)}


def _with_shred(shred: dict[str, Any]) -> dict[str, Any]:
    data = default_data()
    data["card_vault"] = {**data["card_vault"], "shred_epochs": shred}
    return data


def test_shred_epochs_default_off_and_defaults_when_on() -> None:
    assert load_environment("default").card_vault.shred_epochs is None  # type: ignore[union-attr]
    shred = parse_environment(_with_shred({}), source="test").card_vault.shred_epochs  # type: ignore[union-attr]
    assert shred is not None
    assert (shred.epochs, shred.current, shred.epoch_days, shred.deletion_window_days) == ((1,), 1, 90, 30)


@settings(max_examples=60, deadline=None)
@given(
    epochs=st.lists(st.integers(min_value=-5, max_value=10_010), min_size=0, max_size=6),
    field=st.sampled_from(sorted(_SHRED_BOUNDS)),
    value=st.integers(min_value=-10, max_value=4000),
)
def test_shred_epochs_accepts_exactly_the_documented_ranges(epochs: list[int], field: str, value: int) -> None:
    """Epochs: 1-4 distinct numbers 1-9999, the highest current; each day/hour field inside its range, else a
    ConfigError naming `card_vault.shred_epochs.<field>`."""
    low, high = _SHRED_BOUNDS[field]
    valid_epochs = 1 <= len(epochs) <= 4 and len(set(epochs)) == len(epochs) and all(1 <= e <= 9999 for e in epochs)
    data = _with_shred({"epochs": epochs, field: value})
    if valid_epochs and low <= value <= high:
        shred = parse_environment(data, source="test").card_vault.shred_epochs  # type: ignore[union-attr]
        assert shred is not None
        assert shred.current == max(epochs)
        assert getattr(shred, field) == value
        return
    with pytest.raises(ConfigError) as refused:
        parse_environment(data, source="test")
    named = "epochs" if not valid_epochs else field
    assert f"card_vault.shred_epochs.{named}" in str(refused.value)


@settings(max_examples=40, deadline=None)
@given(
    project=st.booleans(),
    aws_managed=st.sampled_from([None, "PCI-DSS_V4"]),
    aws_sample=st.sampled_from(
        [None, "s3://config-templates-{region}/Operational-Best-Practices-for-PCI-DSS-4.0.yaml"]
    ),
)
def test_project_false_is_refused_unless_an_aws_pack_watches_instead(
    project: bool, aws_managed: str | None, aws_sample: str | None
) -> None:
    """Issue 21 MEDIUM 4: conformance_packs.project false with no AWS pack deployed no conformance pack, while the
    crosswalk names a Config rule watching each synth rule. It is refused, naming the field; every other
    combination but both AWS packs at once loads."""
    data = default_data()
    packs: dict[str, Any] = {"project": project}
    if aws_managed is not None:
        packs["aws_managed"] = aws_managed
    if aws_sample is not None:
        packs["aws_sample_s3_uri"] = aws_sample
    data.setdefault("audit", {})["conformance_packs"] = packs
    if aws_managed is not None and aws_sample is not None:
        with pytest.raises(ConfigError, match="not both"):
            parse_environment(data)
    elif not project and aws_managed is None and aws_sample is None:
        with pytest.raises(ConfigError, match=r"conformance_packs\.project: false needs an AWS pack"):
            parse_environment(data)
    else:
        loaded = parse_environment(data).audit.conformance_packs
        assert loaded.project is project


@pytest.mark.parametrize("selector", ["", "   "])
def test_an_empty_env_is_refused_not_the_default(selector: str) -> None:
    """Fork trial r23f: `-c env=$UNSET` must not build the demo environment quietly."""
    with pytest.raises(ConfigError, match=r"env is empty \(field: env\)"):
        load_environment(selector)


@pytest.mark.parametrize("selector", [5, True, ["default"]])
def test_a_non_string_env_is_a_configuration_error(selector: Any) -> None:
    """A number, boolean or list in cdk.json's or ~/.cdk.json's `env` is refused by name, not a traceback."""
    with pytest.raises(ConfigError, match=r"env must be a string"):
        load_environment(selector)


# --- Fork trial r23f finding 2: each message names its field --------------------------------------


def test_a_missing_environment_file_names_the_env_field(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as err:
        load_environment(str(missing))
    assert str(err.value) == f"cannot read environment file {missing} (field: env): No such file or directory"


def test_a_bare_name_of_a_file_in_envs_suggests_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`-c env=acme` where envs/acme.yaml exists: the likely meaning, not only the embedded names."""
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "acme.yaml").write_text("name: acme\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_environment("acme")
    assert str(err.value) == (
        "unknown environment 'acme' (field: env); embedded environments: default;"
        " did you mean the file envs/acme.yaml (-c env=envs/acme.yaml)?"
    )
    with pytest.raises(ConfigError, match=r"\(field: env\).*for example envs/example\.yaml\)$"):
        load_environment("nope")  # no envs/nope.*: the generic hint


def _acknowledging(review_by: date) -> dict[str, Any]:
    data = default_data()
    data["acknowledgments"] = [
        {
            "path": "PciLz-default-Data-*/StaticKey",
            "rule": "PCI4-KMS-ROTATION",
            "reason": "A test key whose material is replaced by re-encryption under a new key every quarter",
            "requirement": "PCI DSS v4.0.1 3.7.4",
            "owner": "payments-platform",
            "review_by": review_by.isoformat(),
        }
    ]
    return data


def test_an_expired_acknowledgment_in_the_file_is_refused_at_load(tmp_path: Path) -> None:
    """The gate refuses it only after the whole build; its review_by is in the file, so the load says it."""
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(_acknowledging(date(2026, 6, 30))), encoding="utf-8")
    assert load_environment(str(path), today=date(2026, 6, 30)).acknowledgments  # the last day still holds
    with pytest.raises(ConfigError) as err:
        load_environment(str(path), today=date(2026, 7, 1))
    assert str(err.value).splitlines() == [
        f"invalid environment configuration ({path}):",
        "  - acknowledgments.0.review_by: expired: 2026-06-30 has passed; the owner reviews the risk"
        " (PCI DSS v4.0.1 12.3.1) and sets a new date, or the finding is fixed and this entry deleted",
    ]
    # evidence/live.py reads what an earlier synth deployed: the next synth refuses the entry, not the evidence.
    assert load_environment(str(path), today=date(2026, 7, 1), check_reviews=False).acknowledgments
    path.write_text(json.dumps(_acknowledging(date.today() - timedelta(days=1))), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"acknowledgments\.0\.review_by: expired"):
        load_environment(str(path))  # default: the real date, as the gate's
