"""The card-vault workload as synthesized (issue 10) and the proxy's logins (issue 9, case 6)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any
from unittest import mock

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk.assertions import Capture, Match, Template
from hypothesis import given
from hypothesis import strategies as st

from config import ConfigError, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from pci_constructs import card_vault
from stacks.landing_zone import stack_name
from tests.conftest import CDK_CONTEXT, Synthesized
from tests.template_scan import as_list

REGIONS = ("us-east-1", "us-west-2")


def _workload(synthesized: Synthesized, region: str) -> Template:
    return synthesized.template(stack_name(synthesized.config, "Workload", region))


def _functions(template: Template) -> Mapping[str, Mapping[str, Any]]:
    return template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Runtime": Match.string_like_regexp("python")}}
    )


@pytest.mark.parametrize("region", REGIONS)
def test_a_workload_stack_per_region_after_edge(synthesized: Synthesized, region: str) -> None:
    workload = synthesized.zone.regions[region].workload
    assert workload is not None
    assert workload.stack_name == f"PciLz-default-Workload-{region}"
    assert synthesized.zone.regions[region].edge in workload.dependencies


@pytest.mark.parametrize("region", REGIONS)
def test_functions_in_application_subnets_encrypted_traced(synthesized: Synthesized, region: str) -> None:
    functions = _functions(_workload(synthesized, region))
    assert len(functions) == 5  # api, detokenize, purge, migrate, keys
    for resource in functions.values():
        props = resource["Properties"]
        assert props["Runtime"] == card_vault.RUNTIME.name
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert "KmsKeyArn" in props
        assert props["Environment"]["Variables"]
        subnets = json.dumps(props["VpcConfig"]["SubnetIds"])
        assert "ApplicationSubnet" in subnets
        assert "Public" not in subnets
        assert "LoggingConfig" in props
        assert "LogGroup" in props["LoggingConfig"]


@pytest.mark.parametrize("region", REGIONS)
def test_each_vault_functions_log_group_masks_card_numbers(synthesized: Synthesized, region: str) -> None:
    """Defence in depth behind the functions' masker: CloudWatch Logs audits and masks CreditCardNumber."""
    template = _workload(synthesized, region)
    groups = template.find_resources("AWS::Logs::LogGroup")
    for resource in _functions(template).values():
        (group_id,) = resource["Properties"]["LoggingConfig"]["LogGroup"].values()
        policy = groups[group_id]["Properties"]["DataProtectionPolicy"]
        assert "data-identifier/CreditCardNumber" in json.dumps(policy)
        operations = [statement["Operation"] for statement in policy["Statement"]]
        assert any("Audit" in o for o in operations)
        assert any(o.get("Deidentify", {}).get("MaskConfig") == {} for o in operations)


@pytest.mark.parametrize("region", REGIONS)
def test_log_groups_kms_encrypted_and_retained(synthesized: Synthesized, region: str) -> None:
    groups = _workload(synthesized, region).find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 6  # the five functions' and the trigger's CDK provider's
    for group in groups.values():
        assert "KmsKeyId" in group["Properties"]
        assert group["Properties"]["RetentionInDays"] >= synthesized.config.log_retention_days
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.parametrize("region", REGIONS)
def test_trigger_provider_logs_to_its_own_group_without_a_managed_policy(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region).to_json()
    resources = template["Resources"]
    (handler,) = (
        r
        for lid, r in resources.items()
        if lid.startswith("AWSCDKTriggerCustomResourceProvider") and r["Type"] == "AWS::Lambda::Function"
    )
    (group_id,) = handler["Properties"]["LoggingConfig"]["LogGroup"].values()
    assert resources[group_id]["Type"] == "AWS::Logs::LogGroup"
    (role,) = (
        r
        for lid, r in resources.items()
        if lid.startswith("AWSCDKTriggerCustomResourceProvider") and r["Type"] == "AWS::IAM::Role"
    )
    # Not AWSLambdaBasicExecutionRole: the project's own managed policy (log group and tracing, issue 18).
    (arn,) = role["Properties"]["ManagedPolicyArns"]
    assert resources[arn["Ref"]]["Type"] == "AWS::IAM::ManagedPolicy"
    assert handler["Properties"]["TracingConfig"] == {"Mode": "Active"}


def _statements(template: Template) -> Iterator[dict[str, Any]]:
    for resource_type in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for policy in template.find_resources(resource_type).values():
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("region", REGIONS)
def test_roles_have_no_wildcard_actions_and_no_managed_aws_policies(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region)
    for statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), actions
    for logical_id, role in template.find_resources("AWS::IAM::Role").items():
        if logical_id.startswith("CardVault"):  # CDK's trigger provider brings its own role
            assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize("region", REGIONS)
def test_each_function_connects_as_its_own_database_user(synthesized: Synthesized, region: str) -> None:
    connects = [s for s in _statements(_workload(synthesized, region)) if s["Action"] == "rds-db:connect"]
    users = sorted(json.dumps(s["Resource"]).split("/")[-1].split('"')[0] for s in connects)
    assert users == sorted(card_vault.DATABASE_USERS)


def test_database_users_match_the_migration() -> None:
    from card_vault.migrate import APP_ROLES

    assert set(APP_ROLES) == set(card_vault.DATABASE_USERS)


@pytest.mark.parametrize("region", REGIONS)
def test_data_keys_only_with_the_vault_encryption_context(synthesized: Synthesized, region: str) -> None:
    kms = [s for s in _statements(_workload(synthesized, region)) if s["Action"] in ("kms:GenerateDataKey",)]
    assert kms
    assert all(s["Condition"] == {"StringEquals": card_vault.DATA_KEY_CONTEXT} for s in kms)


@pytest.mark.parametrize("region", REGIONS)
def test_alb_forwards_v1_to_the_api(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region)
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        {"Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v1/*"]}}]},
    )
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {"TargetType": "lambda"})


@pytest.mark.parametrize("region", REGIONS)
def test_https_listener_verifies_client_certificates(synthesized: Synthesized, region: str) -> None:
    edge = synthesized.template(stack_name(synthesized.config, "Edge", region))
    edge.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Protocol": "HTTPS", "MutualAuthentication": {"Mode": "verify", "TrustStoreArn": Match.any_value()}},
    )
    edge.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TrustStore",
        {"CaCertificatesBundleS3Bucket": Match.any_value(), "CaCertificatesBundleS3Key": Match.any_value()},
    )


@pytest.mark.parametrize("region", REGIONS)
def test_detokenize_invokable_only_by_configured_role(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region)
    permissions = template.find_resources("AWS::Lambda::Permission")
    principals = {p["Properties"]["Principal"] for p in permissions.values()}
    assert principals == {
        "elasticloadbalancing.amazonaws.com",
        "events.amazonaws.com",
        *synthesized.config.card_vault.detokenize_caller_role_arns,  # type: ignore[union-attr]
    }


@pytest.mark.parametrize("region", REGIONS)
def test_detokenize_answers_exactly_its_caller_aliases(synthesized: Synthesized, region: str) -> None:
    """The function refuses any qualifier but its callers' aliases (card_vault.detokenize): the list it carries is
    the aliases whose resource policies name the configured roles, no more, no fewer."""
    template = _workload(synthesized, region)
    aliases = {a["Properties"]["Name"] for a in template.find_resources("AWS::Lambda::Alias").values()}
    carried = [
        json.loads(f["Properties"]["Environment"]["Variables"]["VAULT_DETOKENIZE_CALLERS"])
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "VAULT_DETOKENIZE_CALLERS" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(carried) == 1
    roles = synthesized.config.card_vault.detokenize_caller_role_arns  # type: ignore[union-attr]
    assert sorted(carried[0]) == sorted(a for a in aliases if a.startswith("caller-"))
    assert len(carried[0]) == len(roles)


@pytest.mark.parametrize("region", REGIONS)
def test_purge_is_scheduled_and_migration_is_a_trigger(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region)
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "cron(17 3 * * ? *)"})
    triggers = template.find_resources("Custom::Trigger")
    assert len(triggers) == 2  # pre- and post-deploy migrations
    pre = _pre_trigger(template)
    rules = template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule")
    assert rules
    assert all(pre in r.get("DependsOn", []) for r in rules.values())
    assert all(t["Properties"]["ExecuteOnHandlerChange"] is True for t in triggers.values())


def _pre_trigger(template: Template) -> str:
    """The pre-deploy migration trigger: the one invoking the migration function's version, not its alias."""
    (pre,) = (
        lid
        for lid, t in template.find_resources("Custom::Trigger").items()
        if "Version" in json.dumps(t["Properties"]["HandlerArn"])
    )
    return pre


@pytest.mark.parametrize("region", REGIONS)
def test_the_post_deploy_migration_invokes_the_post_alias_of_the_current_version(
    synthesized: Synthesized, region: str
) -> None:
    template = _workload(synthesized, region)
    (alias_id, alias) = next(
        iter(template.find_resources("AWS::Lambda::Alias", {"Properties": {"Name": "post"}}).items())
    )
    (post,) = (t for lid, t in template.find_resources("Custom::Trigger").items() if lid != _pre_trigger(template))
    props = post["Properties"]
    assert props["HandlerArn"] == {"Ref": alias_id}
    # A new version (new code, new migrations) changes the trigger's properties, so CloudFormation updates it.
    assert props["HandlerVersionArn"] == {"Ref": alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]}
    (migrate,) = (
        lid for lid, f in _functions(template).items() if f["Properties"]["Handler"] == "card_vault.migrate.handler"
    )
    assert alias["Properties"]["FunctionName"] == {"Ref": migrate}
    env = _functions(template)[migrate]["Properties"]["Environment"]["Variables"]
    assert env["VAULT_MIGRATION_DRAIN_SECONDS"] == str(int(card_vault.REQUEST_TIMEOUT.to_seconds()))
    assert card_vault.POST_ALIAS == "post"


def test_x_ray_endpoint_serves_the_functions(synthesized: Synthesized) -> None:
    network = synthesized.template(stack_name(synthesized.config, "Network", "us-east-1"))
    network.has_resource_properties(
        "AWS::EC2::VPCEndpoint", {"ServiceName": "com.amazonaws.us-east-1.xray", "VpcEndpointType": "Interface"}
    )


# --- Issue 9, case 6: the proxy never logs in with a master secret ----------------------------------


def _refs(value: Any) -> set[str]:
    """Logical IDs a property value refers to (Ref / Fn::GetAtt), at any depth."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs(item)
    return found


def master_secret_ids(template: Mapping[str, Any]) -> set[str]:
    """Secrets (and their attachments) that hold a database's master credentials in this template."""
    resources = template.get("Resources", {})
    master: set[str] = set()
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
            master |= {r for r in _refs(props.get("MasterUserPassword")) if r in resources}
            master |= {r for r in _refs(props.get("MasterUsername")) if r in resources}
            if props.get("ManageMasterUserPassword"):
                master.add(f"{logical_id}.MasterUserSecret")
    for logical_id, resource in resources.items():
        attachment = resource["Type"] == "AWS::SecretsManager::SecretTargetAttachment"
        if attachment and _refs(resource["Properties"].get("SecretId")) & master:
            master.add(logical_id)
    return master


def proxies_using_master_secret(template: Mapping[str, Any]) -> list[str]:
    """Proxies whose auth entries name a master secret (or any imported secret: unprovable)."""
    master = master_secret_ids(template)
    bad = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::RDS::DBProxy":
            continue
        for auth in resource["Properties"].get("Auth", []):
            secret = auth.get("SecretArn")
            referenced = _refs(secret)
            if (
                referenced & master
                or any(m.split(".")[0] in referenced for m in master if "." in m)
                or "Fn::ImportValue" in json.dumps(secret)
            ):
                bad.append(logical_id)
    return bad


def test_no_proxy_in_any_template_uses_a_master_secret(synthesized: Synthesized) -> None:
    proxies = 0
    for name, template in synthesized.templates():
        proxies += sum(r["Type"] == "AWS::RDS::DBProxy" for r in template["Resources"].values())
        assert proxies_using_master_secret(template) == [], name
    assert proxies == 2


def test_proxy_logs_in_end_to_end_by_iam_as_application_users_only(synthesized: Synthesized) -> None:
    data = synthesized.template(stack_name(synthesized.config, "Data", "us-east-1"))
    data.has_resource_properties("AWS::RDS::DBProxy", {"DefaultAuthScheme": "IAM_AUTH", "Auth": Match.absent()})
    connects = [
        s
        for policy in data.find_resources("AWS::IAM::ManagedPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "rds-db:connect"
    ]
    assert len(connects) == 1
    rendered = json.dumps(connects[0]["Resource"])
    assert all(user in rendered for user in card_vault.DATABASE_USERS)
    assert "cde_admin" not in rendered


def test_the_check_catches_a_proxy_on_the_master_secret() -> None:
    app = App(context=CDK_CONTEXT)
    stack = Stack(app, "Bad", env=Environment(account="111111111111", region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    instance = rds.DatabaseInstance(
        stack,
        "Db",
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17),
        vpc=vpc,
        vpc_subnets=isolated,
        credentials=rds.Credentials.from_generated_secret("admin_user"),
    )
    assert instance.secret is not None
    instance.add_proxy("Proxy", secrets=[instance.secret], vpc=vpc, vpc_subnets=isolated, iam_auth=True)
    template = Template.from_stack(stack).to_json()
    assert proxies_using_master_secret(template) != []


def test_without_the_proxy_functions_connect_to_the_instance_by_iam(tmp_path: Any) -> None:
    from stacks.landing_zone import build_landing_zone

    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    data["database"] = {"enable_proxy": False}
    app = App(outdir=str(tmp_path), context=CDK_CONTEXT)
    zone = build_landing_zone(app, parse_environment(data))
    workload = zone.regions["us-east-1"].workload
    assert workload is not None
    template = Template.from_stack(workload).to_json()
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    api = next(f for f in functions if "card_vault.api" in f["Properties"]["Handler"])
    assert api["Properties"]["Environment"]["Variables"]["VAULT_DB_TLS_CA"] == "rds"
    assert "DbiResourceId" in json.dumps(template)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client_ca_bundle": "config/certs/missing.pem"}, "client_ca_bundle"),
        ({"clients": [{"id": "p", "subject": "not a dn", "issuer": "CN=ca", "rights": ["lookup"]}]}, "clients"),
        ({"clients": [{"id": "pay", "subject": "CN=a", "issuer": "CN=ca", "rights": []}]}, "clients"),
        ({"detokenize_caller_role_arns": []}, "detokenize_caller_role_arns"),
        ({"detokenize_caller_role_arns": ["arn:aws:iam::222222222222:role/x"]}, "detokenize_caller_role_arns"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_vault_configuration_fails_naming_the_field(change: dict[str, Any], field: str) -> None:
    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    data["card_vault"] = {**data["card_vault"], **change}
    with pytest.raises(ConfigError, match=field):
        parse_environment(data)


def test_vault_off_builds_no_workload_and_proxy_has_no_users(tmp_path: Any) -> None:
    from stacks.landing_zone import build_landing_zone

    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    data["card_vault"] = {**data["card_vault"], "enabled": False}
    config = parse_environment(data)
    app = App(outdir=str(tmp_path), context=CDK_CONTEXT)
    zone = build_landing_zone(app, config)
    assert all(r.workload is None for r in zone.regions.values())
    data_template = Template.from_stack(zone.regions["us-east-1"].data).to_json()
    assert proxies_using_master_secret(data_template) == []


# --- Issue 19, findings 3 and 6: the keyed hash in KMS, versioned ----------------------------------


def _policy_of(template: Template, name: str) -> list[dict[str, Any]]:
    (policy,) = [
        p
        for lid, p in template.find_resources("AWS::IAM::ManagedPolicy").items()
        if lid.startswith(f"CardVault{name}Policy")
    ]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


@pytest.mark.parametrize("region", REGIONS)
def test_keyed_hash_key_is_a_retained_kms_hmac_key_and_no_secret_remains(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region)
    hmac_keys = template.find_resources("AWS::KMS::Key", {"Properties": {"KeySpec": "HMAC_256"}})
    assert len(hmac_keys) == 1
    (key,) = hmac_keys.values()
    assert key["Properties"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert key["Properties"].get("EnableKeyRotation") in (None, False)  # KMS cannot rotate HMAC keys
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    assert key["Properties"]["PendingWindowInDays"] == 30
    template.resource_count_is("AWS::SecretsManager::Secret", 0)
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/pci-lz/default/card-vault-hmac-v1"})


@pytest.mark.parametrize("region", REGIONS)
def test_api_role_may_only_generate_macs_never_read_key_material(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region)
    statements = _policy_of(template, "Api")
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert not {a for a in actions if a.startswith("secretsmanager:") or a.startswith("ssm:")}
    assert "kms:VerifyMac" not in actions
    (mac,) = [s for s in statements if s["Action"] == "kms:GenerateMac"]
    assert mac["Condition"] == {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}
    decrypts = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert len(decrypts) == 1  # its environment key only: no data key, no secret, ever decrypted
    (function,) = [f for lid, f in _functions(template).items() if lid.startswith("CardVaultApi")]
    variables = function["Properties"]["Environment"]["Variables"]
    assert "VAULT_HMAC_SECRET_ID" not in variables
    assert "VAULT_HMAC_KEYS" in variables
    assert variables["VAULT_DECRYPT_CACHE_MAX_AGE_SECONDS"] == "300"


@pytest.mark.parametrize("region", REGIONS)
def test_keys_function_is_operator_run_with_its_own_login(synthesized: Synthesized, region: str) -> None:
    template = _workload(synthesized, region)
    statements = _policy_of(template, "Keys")
    by_action = {a: s for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"kms:Decrypt", "kms:GenerateMac", "kms:ReEncryptFrom", "kms:ReEncryptTo", "rds-db:connect"} <= set(
        by_action
    )
    for action in ("kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"):
        assert by_action[action]["Condition"] == {"StringEquals": card_vault.DATA_KEY_CONTEXT}
    assert not [a for a in by_action if a.startswith("secretsmanager:")]
    permissions = template.find_resources("AWS::Lambda::Permission")
    keys_function = [lid for lid in _functions(template) if lid.startswith("CardVaultKeys")]
    assert keys_function
    assert not [p for p in permissions.values() if keys_function[0] in json.dumps(p["Properties"]["FunctionName"])]
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": "card_vault.keys.handler", "Timeout": 900})


def test_a_rotation_holds_two_hmac_key_versions_each_its_own_resource(tmp_path: Any) -> None:
    from stacks.landing_zone import build_landing_zone

    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
    data["card_vault"]["hmac_key_versions"] = [1, 2]
    app = App(outdir=str(tmp_path), context=CDK_CONTEXT)
    zone = build_landing_zone(app, parse_environment(data))
    workload = zone.regions[data["home_region"]].workload
    assert workload is not None
    vault = workload.vault
    assert sorted(vault.hmac_keys) == [1, 2]
    assert vault.current_hmac_key is vault.hmac_keys[2]
    # Version 1 keeps the construct ID (so its logical ID) it had before the rotation: never replaced.
    assert vault.hmac_keys[1].node.id == "HmacKeyV1"
    template = Template.from_stack(workload)
    (mac,) = [s for s in _policy_of(template, "Api") if s["Action"] == "kms:GenerateMac"]
    assert len(mac["Resource"]) == 2  # tokenize finds cards under either version
    (keys_mac,) = [s for s in _policy_of(template, "Keys") if s["Action"] == "kms:GenerateMac"]
    assert "HmacKeyV2" in json.dumps(keys_mac["Resource"])  # the re-hash job writes the current version only
    assert "HmacKeyV1" not in json.dumps(keys_mac["Resource"])
    (api,) = [f for lid, f in _functions(template).items() if lid.startswith("CardVaultApi")]
    setting = json.dumps(api["Properties"]["Environment"]["Variables"]["VAULT_HMAC_KEYS"])
    assert setting.index("HmacKeyV2") < setting.index("HmacKeyV1")  # current first


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"hmac_key_versions": ()}, "hmac_key_versions"),
        ({"hmac_key_versions": (1, 2, 3)}, "hmac_key_versions"),
        ({"hmac_key_versions": (2, 2)}, "hmac_key_versions"),
        ({"hmac_key_versions": (0,)}, "hmac_key_versions"),
        ({"decrypt_cache_max_age_seconds": 0}, "decrypt_cache_max_age_seconds"),
    ],
    ids=["none", "three", "repeated", "zero", "cache-age-zero"],
)
def test_bad_key_options_are_refused_naming_the_field(options: dict[str, Any], field: str) -> None:
    stack = Stack(App(context=CDK_CONTEXT), "Bad", env=Environment(account="111111111111", region="us-east-1"))
    unused = mock.MagicMock()  # the options are checked before any of these is used
    arguments: dict[str, Any] = dict.fromkeys(
        (
            "vpc",
            "subnets",
            "endpoint_security_group",
            "database",
            "cardholder_data_key",
            "secrets_key",
            "log_key",
            "listener",
            "alarm_topic",
        ),
        unused,
    )
    with pytest.raises(ValueError, match=field):
        card_vault.CardVault(
            stack,
            "CardVault",
            alias_prefix="bad",
            key_administrator_role_arns=(),
            log_retention_days=365,
            listener_rule_priority=100,
            target_group_name="card-vault-bad",
            clients=(),
            detokenize_caller_role_arns=("arn:aws:iam::111111111111:role/d",),
            purge_grace_days=30,
            purge_schedule_hour_utc=3,
            **arguments,
            **options,
        )


def test_configuration_refuses_a_repeated_hmac_version() -> None:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["card_vault"]["hmac_key_versions"] = [1, 1]
    with pytest.raises(ConfigError, match="hmac_key_versions"):
        parse_environment(data)


@pytest.mark.parametrize("region", REGIONS)
def test_every_vault_function_updates_only_after_the_migration(synthesized: Synthesized, region: str) -> None:
    """A function's new code never runs against the previous schema: each waits for the migration trigger."""
    template = _workload(synthesized, region)
    trigger = _pre_trigger(template)
    functions = {
        lid: f for lid, f in _functions(template).items() if "card_vault.migrate" not in f["Properties"]["Handler"]
    }
    assert len(functions) == 4
    for logical_id, function in functions.items():
        assert trigger in function.get("DependsOn", []), logical_id


# --- Issue 19: known-card alarms, the health check, the certificate revocation list ---------------------------


@pytest.mark.parametrize("region", REGIONS)
def test_a_known_card_alarm_per_client_with_metric_math(synthesized: Synthesized, region: str) -> None:
    vault = synthesized.config.card_vault
    assert vault is not None
    template = _workload(synthesized, region)
    alarms = template.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"Metrics": Match.any_value()}})
    assert len(alarms) == len(vault.clients)
    for client in vault.clients:
        dimensions = [{"Name": "client_id", "Value": client.id}, {"Name": "service", "Value": card_vault.SERVICE_NAME}]
        period = vault.known_card_alarm.period_minutes * 60

        def stat(metric_id: str, name: str, dims: list[dict[str, str]] = dimensions, seconds: int = period) -> Any:
            return {
                "Id": metric_id,
                "MetricStat": {
                    "Metric": {"Namespace": card_vault.METRIC_NAMESPACE, "MetricName": name, "Dimensions": dims},
                    "Period": seconds,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            }

        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": client.known_card_alarm_percent or vault.known_card_alarm.percent,
                "EvaluationPeriods": 1,
                "TreatMissingData": "notBreaching",
                "Metrics": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Expression": (
                                    f"IF((FILL(known, 0) + FILL(new, 0)) >= {vault.known_card_alarm.min_answers},"
                                    " 100 * FILL(known, 0) / (FILL(known, 0) + FILL(new, 0)), 0)"
                                ),
                                "ReturnData": True,
                            }
                        ),
                        stat("known", card_vault.KNOWN_CARD_METRIC),
                        stat("new", card_vault.NEW_CARD_METRIC),
                    ]
                ),
                "AlarmActions": [Match.any_value()],
            },
        )


def test_alarm_names_and_metrics_match_the_api() -> None:
    from card_vault import api

    assert card_vault.METRIC_NAMESPACE == api.METRIC_NAMESPACE
    assert card_vault.KNOWN_CARD_METRIC == api.KNOWN_CARD_METRIC
    assert card_vault.NEW_CARD_METRIC == api.NEW_CARD_METRIC
    assert card_vault.HEALTH_CHECK_PATH == api.HEALTH_PATH


def test_home_alarms_notify_the_security_topic_and_other_regions_their_own(synthesized: Synthesized) -> None:
    home = synthesized.config.home_region
    (other,) = (r for r in REGIONS if r != home)
    home_template = _workload(synthesized, home).to_json()
    (action,) = next(r for r in home_template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm")[
        "Properties"
    ]["AlarmActions"]
    (parameter,) = action.values()
    assert home_template["Parameters"][parameter]["Default"] == f"/pci-lz/{synthesized.config.name}/alerts/topic-arn"
    audit = synthesized.template(stack_name(synthesized.config, "Audit", home))
    audit.has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": f"/pci-lz/{synthesized.config.name}/alerts/topic-arn",
            "Value": {"Ref": Match.string_like_regexp("SecurityAlarmsTopic")},
        },
    )
    workload = synthesized.zone.regions[home].workload
    assert workload is not None
    assert synthesized.zone.audit is not None
    assert synthesized.zone.audit.trail in workload.dependencies
    elsewhere = _workload(synthesized, other)
    elsewhere.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value(), "DisplayName": Match.string_like_regexp(other)}
    )
    elsewhere.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": synthesized.config.alarm_email}
    )


@pytest.mark.parametrize("region", REGIONS)
def test_target_group_checks_the_health_route(synthesized: Synthesized, region: str) -> None:
    _workload(synthesized, region).has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "TargetType": "lambda",
            "HealthCheckEnabled": True,
            "HealthCheckPath": card_vault.HEALTH_CHECK_PATH,
            "HealthCheckIntervalSeconds": 60,
            "HealthCheckTimeoutSeconds": 30,
            "Matcher": {"HttpCode": "200"},
        },
    )


@pytest.mark.parametrize("region", REGIONS)
def test_new_card_and_sibling_volume_alarms_per_client(synthesized: Synthesized, region: str) -> None:
    """Red-team r19 F1: the middle-digit search answers 201 almost always; a new-card volume alarm and a
    sibling-card alarm per client, and the API told its sibling limit."""
    vault = synthesized.config.card_vault
    assert vault is not None
    template = _workload(synthesized, region)
    period = vault.known_card_alarm.period_minutes * 60
    for client in vault.clients:
        dimensions = [{"Name": "client_id", "Value": client.id}, {"Name": "service", "Value": card_vault.SERVICE_NAME}]
        for metric, threshold in (
            (card_vault.NEW_CARD_METRIC, client.new_card_alarm_count or vault.card_search.new_card_alarm_count),
            (card_vault.SIBLING_METRIC, vault.card_search.sibling_alarm_count),
        ):
            template.has_resource_properties(
                "AWS::CloudWatch::Alarm",
                {
                    "Namespace": card_vault.METRIC_NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": dimensions,
                    "Statistic": "Sum",
                    "Period": period,
                    "Threshold": threshold,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": Match.any_value(),
                },
            )
    # The bound is the migration function's to write into the database (migration 0021), never the API's.
    variables = {
        f["Properties"]["Handler"]: f["Properties"]["Environment"]["Variables"] for f in _functions(template).values()
    }
    assert [
        (handler, v["VAULT_SIBLING_LIMIT"], v["VAULT_SIBLING_WINDOW_SECONDS"])
        for handler, v in variables.items()
        if "VAULT_SIBLING_LIMIT" in v or "VAULT_SIBLING_WINDOW_SECONDS" in v
    ] == [
        (
            "card_vault.migrate.handler",
            str(vault.card_search.max_siblings),
            str(vault.card_search.window_minutes * 60),
        )
    ]


def test_the_api_requires_the_leaf_certificate(synthesized: Synthesized) -> None:
    """Verify mode (card_vault/mtls.py): certificate headers must describe the forwarded leaf, which must be there."""
    for region in REGIONS:
        variables = [
            f["Properties"]["Environment"]["Variables"] for f in _functions(_workload(synthesized, region)).values()
        ]
        assert [v.get("VAULT_MTLS_MODE") for v in variables if "VAULT_CLIENTS" in v] == ["verify"]
        assert all("VAULT_MTLS_MODE" not in v for v in variables if "VAULT_CLIENTS" not in v)


def test_api_clients_carry_their_tokenize_budget(synthesized: Synthesized) -> None:
    vault = synthesized.config.card_vault
    assert vault is not None
    functions = _functions(_workload(synthesized, REGIONS[0]))
    (api_function,) = (f for f in functions.values() if "VAULT_CLIENTS" in f["Properties"]["Environment"]["Variables"])
    clients = json.loads(api_function["Properties"]["Environment"]["Variables"]["VAULT_CLIENTS"])
    assert [c["tokenize_per_minute"] for c in clients] == [
        c.tokenize_per_minute or vault.tokenize_per_minute for c in vault.clients
    ]


def test_the_migration_function_carries_every_clients_tokenize_budget(synthesized: Synthesized) -> None:
    """Red team r19d finding 4: the database applies the budgets (migration 0034), written by the migration function
    from its environment; the API's login neither passes nor writes them."""
    vault = synthesized.config.card_vault
    assert vault is not None
    functions = _functions(_workload(synthesized, REGIONS[0]))
    (migrate_function,) = (f for f in functions.values() if f["Properties"]["Handler"] == "card_vault.migrate.handler")
    raw = migrate_function["Properties"]["Environment"]["Variables"]["VAULT_TOKENIZE_LIMITS"]
    from card_vault import migrate

    default, clients = migrate.tokenize_limits_from({"VAULT_TOKENIZE_LIMITS": raw})
    expected = {c.id: c.tokenize_per_minute or vault.tokenize_per_minute for c in vault.clients}
    assert clients == expected
    assert default == min(expected.values(), default=600)


def test_a_refusal_after_a_reset_of_the_sibling_counts_alarms(synthesized: Synthesized) -> None:
    """The fail-closed window after a reset of the unlogged counts (migration 0033): the API counts every refusal it
    causes (`SiblingGuardClosed`, lambda/card_vault/api.py) and one in 5 minutes alarms to the alerts topic."""
    from card_vault import api

    assert api.GUARD_CLOSED_METRIC == card_vault.GUARD_CLOSED_METRIC
    template = _workload(synthesized, synthesized.config.home_region)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": card_vault.GUARD_CLOSED_METRIC,
            "Namespace": card_vault.METRIC_NAMESPACE,
            "Dimensions": [{"Name": "service", "Value": card_vault.SERVICE_NAME}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [Match.any_value()],
        },
    )


def test_a_configured_crl_is_added_to_the_trust_store(tmp_path: Any) -> None:
    from pci_constructs.client_trust_store import ClientTrustStore, RevocationList
    from tests.conftest import ROOT

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Crl", env=Environment(account="111111111111", region="us-east-1"))
    store = ClientTrustStore(
        stack,
        "Clients",
        ca_bundle=ROOT / "config/certs/demo-client-ca.pem",
        name="crl-test",
        revocation=RevocationList(bucket="example-pki-crls", key="clients/ca.crl.pem", version="v7"),
    )
    assert store.revocation is not None
    Template.from_stack(stack).has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TrustStoreRevocation",
        {
            "TrustStoreArn": {"Fn::GetAtt": [Match.string_like_regexp("ClientsTrustStore"), "TrustStoreArn"]},
            "RevocationContents": [
                {
                    "S3Bucket": "example-pki-crls",
                    "S3Key": "clients/ca.crl.pem",
                    "S3ObjectVersion": "v7",
                    "RevocationType": "CRL",
                }
            ],
        },
    )


def _trust_store(tmp_path: Any, **revocation: Any) -> tuple[Any, Template]:
    from pci_constructs.client_trust_store import ClientTrustStore
    from tests.conftest import ROOT

    stack = Stack(App(outdir=str(tmp_path)), "Crl", env=Environment(account="111111111111", region="us-east-1"))
    store = ClientTrustStore(
        stack, "Clients", ca_bundle=ROOT / "config/certs/demo-client-ca.pem", name="crl-test", **revocation
    )
    return store, Template.from_stack(stack)


WAIVER_REASON = "No client PKI yet: the demonstration CA publishes no CRL, so revoked certificates live until expiry."


def test_the_trust_store_requires_a_crl_or_a_waiver_never_both(tmp_path: Any) -> None:
    """A fork using ClientTrustStore directly gets no silent default: revocation is decided, once."""
    from pci_constructs.client_trust_store import RevocationList, RevocationWaiver

    crl = RevocationList(bucket="example-pki-crls", key="clients/ca.crl.pem", version="v7")
    waiver = RevocationWaiver(reason=WAIVER_REASON, owner="platform-security", review_by=date(2027, 6, 1))
    with pytest.raises(ValueError, match=r"pass revocation .* or revocation_waiver"):
        _trust_store(tmp_path / "neither")
    with pytest.raises(ValueError, match="not both"):
        _trust_store(tmp_path / "both", revocation=crl, revocation_waiver=waiver, today=date(2026, 12, 4))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"approver": "PLATFORM-security"}, "approver must differ from the owner"),
        ({"review_by": date(2026, 12, 3)}, "expired: review_by 2026-12-03 has passed"),
        ({"review_by": date(2027, 12, 5)}, "more than 12 months ahead"),
        ({"reason": "no CRL"}, "reason must be specific"),
        ({"approval_date": date(2026, 12, 5)}, "approval_date 2026-12-05 is in the future"),
    ],
    ids=["owner-approves", "expired", "too-far", "short-reason", "future-approval"],
)
def test_the_trust_store_refuses_a_waiver_whose_governance_fails(
    tmp_path: Any, fields: dict[str, Any], problem: str
) -> None:
    from pci_constructs.client_trust_store import RevocationWaiver

    waiver = RevocationWaiver(
        **{"reason": WAIVER_REASON, "owner": "platform-security", "review_by": date(2027, 6, 1), **fields}
    )
    with pytest.raises(ValueError, match=f"revocation_waiver: .*{re.escape(problem)}"):
        _trust_store(tmp_path, revocation_waiver=waiver, today=date(2026, 12, 4))


def test_a_waiver_adds_no_revocation_and_is_recorded_on_the_trust_store(tmp_path: Any) -> None:
    from pci_constructs.client_trust_store import REVOCATION_WAIVER_METADATA, RevocationWaiver

    waiver = RevocationWaiver(
        reason=WAIVER_REASON,
        owner="platform-security",
        approver="payments-risk-committee",
        approval_date=date(2026, 11, 30),
        ticket="RISK-19",
        review_by=date(2027, 11, 1),
    )
    store, template = _trust_store(tmp_path, revocation_waiver=waiver, today=date(2026, 12, 4))
    assert store.revocation is None
    assert store.revocation_waiver == waiver
    template.resource_count_is("AWS::ElasticLoadBalancingV2::TrustStoreRevocation", 0)
    template.has_resource(
        "AWS::ElasticLoadBalancingV2::TrustStore",
        {
            "Metadata": Match.object_like(
                {
                    REVOCATION_WAIVER_METADATA: {
                        "owner": "platform-security",
                        "approver": "payments-risk-committee",
                        "approval_date": "2026-11-30",
                        "ticket": "RISK-19",
                        "review_by": "2027-11-01",
                        "reason": WAIVER_REASON,
                    }
                }
            )
        },
    )


def test_the_default_edge_trust_store_carries_the_configured_waiver(synthesized: Synthesized) -> None:
    """The embedded default has no client PKI: each region's trust store records card_vault.client_crl_waiver."""
    from pci_constructs.client_trust_store import REVOCATION_WAIVER_METADATA

    vault = synthesized.config.card_vault
    assert vault is not None
    waiver = vault.client_crl_waiver
    assert waiver is not None
    for region in REGIONS:
        template = synthesized.template(stack_name(synthesized.config, "Edge", region))
        template.resource_count_is("AWS::ElasticLoadBalancingV2::TrustStoreRevocation", 0)
        recorded = Capture()
        template.has_resource(
            "AWS::ElasticLoadBalancingV2::TrustStore",
            {"Metadata": Match.object_like({REVOCATION_WAIVER_METADATA: recorded})},
        )
        assert recorded.as_object() == {
            "owner": waiver.owner,
            "approver": waiver.approver,
            "approval_date": str(waiver.approval_date),
            "ticket": waiver.ticket,
            "review_by": waiver.review_by.isoformat(),
            "reason": waiver.reason,
        }


def test_crl_configuration_reaches_the_edge_and_is_validated() -> None:
    base = EMBEDDED_ENVIRONMENTS["default"]
    vault = {**base["card_vault"], "client_crl": {"bucket": "Bad_Bucket", "key": "k", "version": "1"}}
    with pytest.raises(ConfigError, match=r"card_vault\.client_crl\.bucket"):
        parse_environment({**base, "card_vault": vault}, source="test")
    vault["client_crl"] = {"bucket": "example-pki-crls", "key": "k"}
    with pytest.raises(ConfigError, match=r"card_vault\.client_crl\.version"):
        parse_environment({**base, "card_vault": vault}, source="test")


@pytest.mark.parametrize("region", REGIONS)
def test_each_detokenize_caller_has_its_own_alias_rate_limit_and_alarm(synthesized: Synthesized, region: str) -> None:
    """The permission is on the caller's alias, never on the function itself, so the function knows the
    caller (its invoked ARN's alias) and counts its own budget; an alarm per alias on Lambda Invocations."""
    vault = synthesized.config.card_vault
    assert vault is not None
    template = _workload(synthesized, region)
    aliases = {  # the migration function's post-deploy alias aside
        lid: a
        for lid, a in template.find_resources("AWS::Lambda::Alias").items()
        if a["Properties"]["Name"] != card_vault.POST_ALIAS
    }
    names = {a["Properties"]["Name"] for a in aliases.values()}
    assert names == {card_vault.detokenize_alias_name(arn) for arn in vault.detokenize_caller_role_arns}
    permissions = template.find_resources("AWS::Lambda::Permission")
    by_role = {
        p["Properties"]["Principal"]: p["Properties"]["FunctionName"]
        for p in permissions.values()
        if p["Properties"]["Principal"] in vault.detokenize_caller_role_arns
    }
    assert set(by_role) == set(vault.detokenize_caller_role_arns)
    assert all(target == {"Ref": Match.any_value()} or "Ref" in target for target in by_role.values())
    assert {target["Ref"] for target in by_role.values()} <= set(aliases)
    alarms = template.find_resources(
        "AWS::CloudWatch::Alarm",
        {
            "Properties": {
                "Namespace": "AWS/Lambda",
                "MetricName": "Invocations",
                "Dimensions": Match.array_with([Match.object_like({"Name": "Resource"})]),
                "Period": vault.known_card_alarm.period_minutes * 60,
                "Threshold": vault.detokenize_alarm_count,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            }
        },
    )
    assert len(alarms) == len(aliases)
    detokenize = [
        f for f in _functions(template).values() if f["Properties"]["Handler"] == "card_vault.detokenize.handler"
    ]
    assert [f["Properties"]["Environment"]["Variables"]["VAULT_DETOKENIZE_PER_MINUTE"] for f in detokenize] == [
        str(vault.detokenize_per_minute)
    ]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111111111111:role/card-vault-detokenizer",
        "arn:aws:iam::111111111111:role/team/a.b@c+d=e,f",
        "arn:aws:iam::111111111111:role/x_y",
    ],
    ids=["plain", "path-and-punctuation", "underscore"],
)
def test_the_configuration_and_the_construct_name_detokenize_aliases_alike(arn: str) -> None:
    from config.models import detokenize_alias_name

    assert detokenize_alias_name(arn) == card_vault.detokenize_alias_name(arn)


def test_two_caller_roles_giving_one_alias_are_refused_early() -> None:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["card_vault"]["detokenize_caller_role_arns"] = [
        "arn:aws:iam::111111111111:role/a/refunds",
        "arn:aws:iam::111111111111:role/b/refunds",
    ]
    with pytest.raises(ConfigError, match=r"detokenize_caller_role_arns[\s\S]*caller-refunds"):
        parse_environment(data)


@pytest.mark.parametrize("region", REGIONS)
def test_target_group_sends_multi_value_headers(synthesized: Synthesized, region: str) -> None:
    """A repeated X-Amzn-Mtls-Clientcert-* header is only visible to the API with multi-value headers on."""
    _workload(synthesized, region).has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "TargetType": "lambda",
            "TargetGroupAttributes": Match.array_with([{"Key": "lambda.multi_value_headers.enabled", "Value": "true"}]),
        },
    )


def lambda_target_groups_without_multi_value_headers(template: Mapping[str, Any]) -> list[str]:
    """Lambda target groups of one template whose multi-value headers are not on (the load balancer would
    pass only the last value of a repeated header, and a client-sent mTLS header could win)."""
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::ElasticLoadBalancingV2::TargetGroup":
            continue
        props = resource.get("Properties") or {}
        if props.get("TargetType") != "lambda":
            continue
        attributes = {a.get("Key"): a.get("Value") for a in props.get("TargetGroupAttributes") or []}
        if attributes.get("lambda.multi_value_headers.enabled") != "true":
            found.append(logical_id)
    return found


def test_every_lambda_target_group_sends_multi_value_headers(synthesized: Synthesized) -> None:
    findings = [
        f"{name}: {f}"
        for name, t in synthesized.templates()
        for f in lambda_target_groups_without_multi_value_headers(t)
    ]
    assert findings == []
    assert any(
        r.get("Properties", {}).get("TargetType") == "lambda"
        for _, t in synthesized.templates()
        for r in (t.get("Resources") or {}).values()
    )


def test_a_lambda_target_group_with_single_value_headers_is_caught() -> None:
    bad: dict[str, Any] = {
        "Resources": {
            "Tg": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"TargetType": "lambda"}}
        }
    }
    good = copy.deepcopy(bad)
    good["Resources"]["Tg"]["Properties"]["TargetGroupAttributes"] = [
        {"Key": "lambda.multi_value_headers.enabled", "Value": "true"}
    ]
    assert lambda_target_groups_without_multi_value_headers(bad) == ["Tg"]
    assert lambda_target_groups_without_multi_value_headers(good) == []


# --- Issue 19 finding 9: the client-CRL check deployed between deploys ----------------------------------------

CRL = {"bucket": "example-pki-crls", "key": "clients/ca.crl.pem", "version": "v7", "warn_days_before_next_update": 21}


@pytest.fixture(scope="module")
def with_crl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The default environment with `card_vault.client_crl`, built and gated as `make synth` does."""
    from compliance.gate import gate_zones, synthesize
    from stacks.landing_zone import build_landing_zone
    from tests.conftest import new_app

    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["card_vault"]["client_crl"] = dict(CRL)
    del data["card_vault"]["client_crl_waiver"]  # exactly one of the two
    config = parse_environment(data, source="test")
    app = new_app(tmp_path_factory.mktemp("cdk.out.crl"))
    zone = build_landing_zone(app, config)
    gate = gate_zones(app, [zone])
    assembly, report = synthesize(app, gate)
    assert assembly is not None, "\n".join(map(str, report.findings))
    return config, report, {a.stack_name: a.template for a in assembly.stacks}


def test_the_crl_check_app_passes_the_gate_and_the_deploy_correctness_scans(with_crl: Any) -> None:
    from compliance.service_conditions import SERVICE_CONDITION_KEYS, principal_key, undocumented_condition_keys
    from tests.template_scan import (
        foreign_alarm_actions,
        functions_with_open_egress,
        functions_without_active_tracing,
        missing_log_groups,
        role_users_without_policies,
        service_statements,
        unclassified_names,
    )

    config, report, templates = with_crl
    assert report.passed, "\n".join(map(str, report.findings))
    assert not report.findings
    pairs = list(templates.items())
    assert functions_with_open_egress(pairs) == []
    assert functions_without_active_tracing(pairs) == []
    assert unclassified_names(pairs) == []
    for name, template in pairs:
        assert missing_log_groups(template) == []
        assert role_users_without_policies(template) == []
        region = next(r for r in config.regions if name.endswith(r))
        assert foreign_alarm_actions(name, template, region) == []
    for statement in service_statements(pairs):
        assert (principal_key(statement.service), statement.kind) in SERVICE_CONDITION_KEYS, statement
        assert not undocumented_condition_keys(statement.service, statement.kind, set(statement.condition_keys))


def test_the_crl_check_runs_daily_in_the_home_region_only(with_crl: Any) -> None:
    config, _, templates = with_crl
    for region in REGIONS:
        template = Template.from_json(templates[stack_name(config, "Workload", region)])
        checks = template.find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": "card_vault.crl_check.handler"}}
        )
        assert len(checks) == (1 if region == config.home_region else 0)
    home = Template.from_json(templates[stack_name(config, "Workload", config.home_region)])
    (check_id,) = home.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "card_vault.crl_check.handler"}}
    )
    home.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "card_vault.crl_check.handler",
            "TracingConfig": {"Mode": "Active"},
            "KmsKeyArn": Match.any_value(),
            "LoggingConfig": {"LogGroup": Match.any_value(), "LogFormat": "JSON"},
            "VpcConfig": {"SubnetIds": Match.any_value(), "SecurityGroupIds": Match.any_value()},
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "VAULT_CRL_BUCKET": CRL["bucket"],
                        "VAULT_CRL_KEY": CRL["key"],
                        "VAULT_CRL_VERSION": CRL["version"],
                        "VAULT_CRL_WARN_DAYS": "21",
                    }
                )
            },
        },
    )
    home.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": Match.string_like_regexp(r"^cron\(47 \d+ \* \* \? \*\)$"),
            "Targets": [
                Match.object_like({"Arn": {"Fn::GetAtt": [check_id, "Arn"]}, "RetryPolicy": Match.any_value()})
            ],
        },
    )


def test_the_crl_check_reaches_s3_by_the_prefix_list_looked_up_at_deploy(with_crl: Any) -> None:
    """Egress: the endpoints' group (X-Ray) and S3's managed prefix list, whose ID is the deploy-time
    DescribeManagedPrefixLists answer (never a literal, never 0.0.0.0/0)."""
    config, _, templates = with_crl
    home = Template.from_json(templates[stack_name(config, "Workload", config.home_region)])
    group, lookup = Capture(), Capture()
    home.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": {"Fn::GetAtt": [group, "GroupId"]},
            "DestinationPrefixListId": {"Fn::GetAtt": [lookup, "PrefixLists.0.PrefixListId"]},
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
        },
    )
    (check,) = home.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "card_vault.crl_check.handler"}}
    ).values()
    assert {"Fn::GetAtt": [group.as_string(), "GroupId"]} in check["Properties"]["VpcConfig"]["SecurityGroupIds"]
    egress = [
        r["Properties"]
        for r in home.find_resources("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group.as_string(), "GroupId"]}
    ]
    # Exactly two ways out: S3's prefix list and the interface endpoints' group (X-Ray), both on 443.
    assert len(egress) == 2
    assert {(e["FromPort"], e["ToPort"]) for e in egress} == {(443, 443)}
    assert sum("DestinationSecurityGroupId" in e for e in egress) == 1
    assert not any("CidrIp" in e or "CidrIpv6" in e for e in egress)
    resource = home.to_json()["Resources"][lookup.as_string()]
    create = json.loads(json.dumps(resource["Properties"]["Create"]))
    text = json.dumps(create)
    assert "describeManagedPrefixLists" in text
    assert "prefix-list-name" in text
    assert f"com.amazonaws.{config.home_region}.s3" in text
    assert "PrefixLists.0.PrefixListId" in text


def test_the_crl_check_role_reads_only_the_one_object_version(with_crl: Any) -> None:
    config, _, templates = with_crl
    home = Template.from_json(templates[stack_name(config, "Workload", config.home_region)])
    s3_statements = [
        statement
        for policy in home.find_resources("AWS::IAM::ManagedPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("s3:") for a in as_list(statement["Action"]))
    ]
    assert len(s3_statements) == 1
    (statement,) = s3_statements
    assert statement["Action"] == "s3:GetObjectVersion"
    assert json.dumps(statement["Resource"]).endswith(f':s3:::{CRL["bucket"]}/{CRL["key"]}"]}}') or (
        f":s3:::{CRL['bucket']}/{CRL['key']}" in json.dumps(statement["Resource"])
    )
    assert "*" not in json.dumps(statement["Resource"])


def test_the_crl_alarms_fire_at_warn_days_at_expiry_on_errors_and_when_the_check_stops(with_crl: Any) -> None:
    config, _, templates = with_crl
    home = Template.from_json(templates[stack_name(config, "Workload", config.home_region)])
    for threshold in (21, 0):
        home.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": card_vault.CRL_DAYS_METRIC,
                "Namespace": card_vault.METRIC_NAMESPACE,
                "Dimensions": [{"Name": "service", "Value": card_vault.SERVICE_NAME}],
                "Statistic": "Minimum",
                "Period": 3600,
                "Threshold": threshold,
                "ComparisonOperator": "LessThanOrEqualToThreshold",
                "EvaluationPeriods": card_vault.CRL_ALARM_HOURS,
                "DatapointsToAlarm": card_vault.CRL_ALARM_HOURS,
                "TreatMissingData": "breaching",
                "AlarmActions": Match.any_value(),
                "AlarmName": Match.string_like_regexp(r"vault-ClientCrl(Due|Expired)$"),
            },
        )
    home.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmName": Match.string_like_regexp(r"vault-ClientCrlCheckErrors$"),
        },
    )
    # The daily run leaves a data point in any window of CRL_ALARM_HOURS hours; CloudWatch allows an hourly
    # period that many times (at most 7 days, "PutMetricAlarm").
    assert card_vault.CRL_ALARM_HOURS > 24
    assert card_vault.CRL_ALARM_HOURS * 3600 <= 604_800


def test_the_keys_job_alarms_on_any_error_and_on_any_card_its_reseal_cannot_open(synthesized: Synthesized) -> None:
    """Red team r19d finding 1: a failing Keys job stops crypto-shredding silently; a planted card its re-seal
    skips keeps its epoch in use. Both alarm to the alerts topic."""
    template = _workload(synthesized, synthesized.config.home_region)
    (keys_id,) = [
        logical_id
        for logical_id, resource in _functions(template).items()
        if resource["Properties"]["Handler"] == "card_vault.keys.handler"
    ]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": keys_id}}],
            "Statistic": "Sum",
            "Period": 3600,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [Match.any_value()],
        },
    )
    for metric in (
        card_vault.RESEAL_UNREADABLE_METRIC,
        card_vault.UNREADABLE_DISPOSED_METRIC,
        card_vault.DATA_KEY_QUARANTINED_METRIC,
    ):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": metric,
                "Namespace": card_vault.METRIC_NAMESPACE,
                "Dimensions": [{"Name": "service", "Value": card_vault.SERVICE_NAME}],
                "Statistic": "Sum",
                "Period": 86_400,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "AlarmActions": [Match.any_value()],
            },
        )
    from card_vault import keys

    assert keys.UNREADABLE_METRIC == card_vault.RESEAL_UNREADABLE_METRIC
    assert keys.QUARANTINED_METRIC == card_vault.DATA_KEY_QUARANTINED_METRIC
    assert keys.DISPOSED_METRIC == card_vault.UNREADABLE_DISPOSED_METRIC
    assert keys.METRIC_NAMESPACE == card_vault.METRIC_NAMESPACE


def test_the_migration_sizes_the_api_logins_connection_limit_from_its_reserved_concurrency(
    synthesized: Synthesized,
) -> None:
    """Red team r19d finding 3 (migration 0033): CONNECTION LIMIT = the API's reserved concurrency x its pool of one,
    doubled for the proxy's churn."""
    template = _workload(synthesized, synthesized.config.home_region)
    (migrate_fn,) = [
        resource
        for resource in _functions(template).values()
        if resource["Properties"]["Handler"] == "card_vault.migrate.handler"
    ]
    api = card_vault.ReservedConcurrency().api
    assert api is not None
    assert migrate_fn["Properties"]["Environment"]["Variables"]["VAULT_API_CONNECTION_LIMIT"] == str(2 * api)


def test_the_prefix_list_lookup_refuses_a_stack_whose_sdk_function_runs_as_another_role(tmp_path: Any) -> None:
    """CDK's AwsCustomResource function is one per stack and takes the first resource's role: a second lookup
    (or any earlier AwsCustomResource) would run with permissions this construct did not write."""
    from aws_cdk import aws_kms as kms

    from pci_constructs.managed_prefix_list import ManagedPrefixListLookup, s3_prefix_list_name

    stack = Stack(App(outdir=str(tmp_path)), "Lookup", env=Environment(account="111111111111", region="eu-west-1"))
    key = kms.Key(stack, "Logs")
    first = ManagedPrefixListLookup(
        stack, "S3", prefix_list_name=s3_prefix_list_name("eu-west-1"), log_key=key, log_retention_days=365
    )
    assert s3_prefix_list_name("eu-west-1") == "com.amazonaws.eu-west-1.s3"
    resolved = stack.resolve(first.prefix_list_id)
    assert resolved["Fn::GetAtt"][1] == "PrefixLists.0.PrefixListId"
    with pytest.raises(TypeError, match="another construct's role"):
        ManagedPrefixListLookup(
            stack, "Again", prefix_list_name=s3_prefix_list_name("eu-west-1"), log_key=key, log_retention_days=365
        )


def test_an_sse_kms_crl_bucket_grants_decrypt_on_its_key_through_s3_only(tmp_path: Any) -> None:
    """With `kms_key_arn`, the check's policy allows kms:Decrypt on that key only when S3 asks (kms:ViaService);
    a key of another region is refused (an SSE-KMS key is in its bucket's region)."""
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    key_arn = f"arn:aws:kms:{data['home_region']}:111111111111:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    data["card_vault"]["client_crl"] = {**CRL, "kms_key_arn": key_arn}
    del data["card_vault"]["client_crl_waiver"]  # exactly one of the two
    config = parse_environment(data, source="test")
    from stacks.landing_zone import build_landing_zone
    from tests.conftest import new_app

    app = new_app(tmp_path)
    zone = build_landing_zone(app, config)
    workload = zone.regions[config.home_region].workload
    assert workload is not None
    template = Template.from_stack(workload)
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "Description": Match.string_like_regexp("CrlCheck"),
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "kms:Decrypt",
                            "Effect": "Allow",
                            "Resource": key_arn,
                            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{config.home_region}.amazonaws.com"}},
                        }
                    ]
                )
            },
        },
    )
    with pytest.raises(ConfigError, match="kms_key_arn"):
        parse_environment(
            {**data, "card_vault": {**data["card_vault"], "client_crl": {**CRL, "kms_key_arn": "alias/crl"}}},
            source="test",
        )
    data["card_vault"]["client_crl"]["kms_key_arn"] = key_arn.replace(config.home_region, "ap-south-1")
    with pytest.raises(ValueError, match="check's region"):
        build_landing_zone(new_app(tmp_path / "other"), parse_environment(data, source="test"))


@pytest.mark.parametrize(
    ("field", "crl"),
    [
        ("warn_days", card_vault.ClientCrlCheck(bucket="b", key="k", version="v", warn_days=-1)),
        ("warn_days", card_vault.ClientCrlCheck(bucket="b", key="k", version="v", warn_days=366)),
        ("schedule_hour_utc", card_vault.ClientCrlCheck(bucket="b", key="k", version="v", schedule_hour_utc=24)),
    ],
)
def test_a_crl_check_outside_its_ranges_is_refused(field: str, crl: card_vault.ClientCrlCheck) -> None:
    with pytest.raises(ValueError, match=field):
        card_vault.CardVault._crl_check(mock.Mock(), crl, mock.Mock(), mock.Mock())


def test_no_crl_configured_deploys_no_check(synthesized: Synthesized) -> None:
    for region in REGIONS:
        template = _workload(synthesized, region)
        assert not template.find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": "card_vault.crl_check.handler"}}
        )
        assert not template.find_resources("Custom::AWS")


def _crl_alarm_fires(runs: dict[int, float], now: int, threshold: float) -> bool:
    """CloudWatch's evaluation of the CRL days alarm, as configured: the CRL_ALARM_HOURS most recent complete
    hourly periods before `now` (hours), each the minimum of its points or missing; missing is breaching, and
    the alarm fires when every period breaches (DatapointsToAlarm = EvaluationPeriods)."""
    periods = range(now - card_vault.CRL_ALARM_HOURS, now)
    return all(hour not in runs or runs[hour] <= threshold for hour in periods)


@given(
    run_hour=st.integers(0, 23),
    days=st.integers(2, 30),
    offset=st.integers(0, 23),
    healthy=st.floats(22, 365, allow_nan=False),
)
def test_a_daily_healthy_check_never_alarms_and_a_stopped_one_always_does(
    run_hour: int, days: int, offset: int, healthy: float
) -> None:
    """Whatever the hour of the daily run and the moment CloudWatch evaluates, a check that reports a healthy
    list every day keeps the alarm OK, and one that has not reported for CRL_ALARM_HOURS hours alarms."""
    threshold = 21
    runs = {day * 24 + run_hour: healthy for day in range(days)}
    last = max(runs)
    for now in range(card_vault.CRL_ALARM_HOURS + run_hour, last + 1):
        assert not _crl_alarm_fires(runs, now, threshold)
    stopped = last + card_vault.CRL_ALARM_HOURS + 1 + offset
    assert _crl_alarm_fires(runs, stopped, threshold)
    # A run at or below the threshold alarms once the day before's healthy point leaves the window: two hours
    # later (CRL_ALARM_HOURS - 24 + 1), and stays in alarm while no healthy run follows.
    due = {**runs, last: float(threshold)}
    delay = card_vault.CRL_ALARM_HOURS - 24 + 1
    assert not _crl_alarm_fires(due, last + delay - 1, threshold)
    for now in range(last + delay, last + delay + 48):
        assert _crl_alarm_fires(due, now, threshold)
