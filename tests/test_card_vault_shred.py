"""The card vault's shred epochs in the template (issue 19 finding 8, task w19b): one retained KMS key per
epoch, the current one the only key new data keys are generated under, every held one readable, only the
Keys job's role able to schedule an older one's deletion (with the configured waiting period), and the daily
reseal-and-shred run."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Capture, Match, Template

from config import parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from pci_constructs import card_vault
from pci_constructs.key_ring import card_vault_role_path
from tests.conftest import CDK_CONTEXT
from tests.iam_eval import Request, denied_by, render, roles_granted_a_key


@pytest.fixture(scope="module")
def shredding(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Any]:
    from stacks.landing_zone import build_landing_zone

    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
    data["card_vault"]["shred_epochs"] = {"epochs": [1, 2], "deletion_window_days": 14, "schedule_hour_utc": 5}
    app = App(outdir=str(tmp_path_factory.mktemp("shred")), context=CDK_CONTEXT)
    zone = build_landing_zone(app, parse_environment(data))
    workload = zone.regions[data["home_region"]].workload
    assert workload is not None
    return Template.from_stack(workload), workload.vault


def _statements(template: Template, name: str) -> list[dict[str, Any]]:
    (policy,) = [
        p
        for lid, p in template.find_resources("AWS::IAM::ManagedPolicy").items()
        if lid.startswith(f"CardVault{name}Policy")
    ]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _with_action(template: Template, name: str, action: str) -> list[dict[str, Any]]:
    return [
        s
        for s in _statements(template, name)
        if action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]


def _ref(key: Any, template: Template) -> dict[str, Any]:
    return {"Fn::GetAtt": [template_id(template, key), "Arn"]}


def template_id(template: Template, key: Any) -> str:
    return str(key.stack.resolve(key.node.default_child.logical_id))


def test_one_retained_rotating_tagged_key_per_epoch(shredding: tuple[Template, Any]) -> None:
    template, vault = shredding
    assert sorted(vault.shred_epoch_keys) == [1, 2]
    for epoch, key in vault.shred_epoch_keys.items():
        assert key.node.id == f"ShredEpochKey{epoch}"  # the epoch names the resource: epochs never replace each other
        resource = template.find_resources("AWS::KMS::Key")[template_id(template, key)]
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
        assert resource["Properties"]["EnableKeyRotation"] is True
        assert {"Key": card_vault.SHRED_EPOCH_TAG, "Value": str(epoch)} in resource["Properties"]["Tags"]
        template.has_resource_properties(
            "AWS::KMS::Alias",
            {"AliasName": f"alias/pci-lz/default/card-vault-shred-epoch-{epoch}", "TargetKeyId": Match.any_value()},
        )


def test_only_key_administrators_or_the_keys_job_may_schedule_an_epoch_keys_deletion(
    shredding: tuple[Template, Any],
) -> None:
    template, vault = shredding
    for key in vault.shred_epoch_keys.values():
        policy = template.find_resources("AWS::KMS::Key")[template_id(template, key)]["Properties"]["KeyPolicy"]
        (deny,) = [
            st for st in policy["Statement"] if st.get("Sid") == "OnlyAdministratorsOrTheKeysJobScheduleDeletion"
        ]
        exempt = Capture()
        Template.from_json({"Resources": {"S": {"Type": "T", "Properties": deny}}}).has_resource_properties(
            "T",
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:ScheduleKeyDeletion",
                "Resource": "*",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": exempt}},
            },
        )
        keys_role, *administrators = exempt.as_array()
        assert keys_role["Fn::GetAtt"][0].startswith("CardVaultKeysRole")
        assert administrators == ["arn:aws:iam::111111111111:role/pci-lz-key-administrator"]
    # No vault role is granted the deletion: the boundary denies it to every landing-zone role.
    for name in ("Api", "Detokenize", "Purge", "Keys"):
        assert not _with_action(template, name, "kms:ScheduleKeyDeletion")


def test_the_migration_function_writes_the_current_epoch_and_its_key(shredding: tuple[Template, Any]) -> None:
    """Red team r19c M1 (migration 0029): the database, not the API login, sets each data key's epoch, from
    the configuration the migration function carries: the current epoch and the KMS key that wraps new keys."""
    template, vault = shredding
    (migrate_function,) = [
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "card_vault.migrate.handler"
    ]
    variables = migrate_function["Properties"]["Environment"]["Variables"]
    assert variables["VAULT_DATA_KEY_EPOCH"] == "2"
    assert json.dumps(variables["VAULT_DATA_KEY_KMS_KEY_ARN"]) == json.dumps(
        {"Fn::GetAtt": [template_id(template, vault.shred_epoch_keys[2]), "Arn"]}
    )


def test_new_data_keys_only_under_the_current_epoch_and_every_epoch_readable(shredding: tuple[Template, Any]) -> None:
    template, vault = shredding
    current = _ref(vault.shred_epoch_keys[2], template)
    for name in ("Api", "Keys"):
        (generate,) = _with_action(template, name, "kms:GenerateDataKey")
        assert generate["Resource"] == current
        assert generate["Condition"] == {"StringEquals": card_vault.DATA_KEY_CONTEXT}
    for name in ("Detokenize", "Keys"):
        (decrypt,) = [s for s in _with_action(template, name, "kms:Decrypt") if "Condition" in s]
        readable = json.dumps(decrypt["Resource"])
        assert all(template_id(template, k) in readable for k in vault.shred_epoch_keys.values())
        assert "CardholderData" in readable  # epoch 0: data keys from before the epochs
        assert decrypt["Condition"] == {"StringEquals": card_vault.DATA_KEY_CONTEXT}
    (keys_function,) = [
        f
        for lid, f in template.find_resources("AWS::Lambda::Function").items()
        if lid.startswith("CardVaultKeys") and f["Properties"]["Handler"] == "card_vault.keys.handler"
    ]
    setting = json.dumps(keys_function["Properties"]["Environment"]["Variables"]["VAULT_SHRED"])
    for fragment in (
        '\\"epoch\\": 1',
        '\\"epoch\\": 2',
        '\\"deletion_window_days\\": 14',
        '\\"backup_retention_days\\": 7',
    ):
        assert fragment in setting


def test_the_daily_rotate_run_invokes_the_keys_function(shredding: tuple[Template, Any]) -> None:
    template, _ = shredding
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(41 5 * * ? *)",
            "Targets": [Match.object_like({"Input": json.dumps({"job": "rotate"}, separators=(",", ":"))})],
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [Match.string_like_regexp("^CardVaultKeys"), "Arn"]},
        },
    )


@pytest.mark.parametrize(
    ("shred", "message"),
    [
        (card_vault.ShredEpochs(epochs=(1, 1)), "distinct"),
        (card_vault.ShredEpochs(epochs=(0,)), "1-9999"),
        (card_vault.ShredEpochs(deletion_window_days=6), "7-30"),
        (card_vault.ShredEpochs(backup_retention_days=36), "1-35"),
    ],
)
def test_the_construct_refuses_what_kms_and_rds_refuse(shred: card_vault.ShredEpochs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        card_vault._check_shred_epochs(shred)


def test_no_vault_role_is_granted_what_the_boundary_denies_and_the_deletion_is_denied_to_it(
    shredding: tuple[Template, Any],
) -> None:
    """With shred epochs no role of the template is granted anything the permissions boundary denies, and the
    boundary denies the Keys role kms:ScheduleKeyDeletion on an epoch key: why the job answers `due` and a key
    administrator (no boundary) schedules the deletion (`schedule_deletion: false` in VAULT_SHRED)."""
    from aws_cdk import App as CdkApp
    from aws_cdk import Environment, Stack

    from pci_constructs.permissions_boundary import PermissionsBoundary
    from tests.iam_eval import Request, denied_by
    from tests.iam_eval import render as render_iam
    from tests.template_scan import boundary_conflicts

    template, _ = shredding
    stack = Stack(CdkApp(), "Keys", env=Environment(account="111111111111", region="us-east-1"))
    PermissionsBoundary(stack, "PermissionsBoundary", environment="default", regions=("us-east-1",))
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    boundary = render_iam(policy["Properties"]["PolicyDocument"]["Statement"])
    conflicts = boundary_conflicts(
        [("Workload-us-east-1", dict(template.to_json()))], boundary, account="111111111111", regions=("us-east-1",)
    )
    assert not conflicts, conflicts
    shred = Request(
        "kms:ScheduleKeyDeletion",
        "arn:aws:kms:us-east-1:111111111111:key/epoch-1",
        {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Workload-us-east-1-CardVaultKeysRole-GENERATED"},
    )
    assert denied_by(boundary, shred) == ["NoTampering"]
    (keys_function,) = [
        f
        for lid, f in template.find_resources("AWS::Lambda::Function").items()
        if lid.startswith("CardVaultKeys") and f["Properties"]["Handler"] == "card_vault.keys.handler"
    ]
    assert '\\"schedule_deletion\\": false' in json.dumps(
        keys_function["Properties"]["Environment"]["Variables"]["VAULT_SHRED"]
    )


@pytest.mark.parametrize("action", ["kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"])
def test_every_epoch_key_is_the_vaults_alone(shredding: tuple[Template, Any], action: str) -> None:
    """Each epoch key denies every use to all but the vault's roles (its IAM path) and AWS service principals:
    no IAM policy outside the templates decrypts an epoch's data keys, and no service exemption (RDS included)."""
    template, vault = shredding
    path = card_vault_role_path("pci-lz/default")
    resources = template.to_json()["Resources"]
    for epoch, key in vault.shred_epoch_keys.items():
        statements = [render(s) for s in resources[template_id(template, key)]["Properties"]["KeyPolicy"]["Statement"]]
        (deny,) = [s for s in statements if s.get("Sid") == "OnlyTheCardVaultUsesTheKey"]
        assert "StringNotEquals" not in deny["Condition"], epoch

        def denied(principal: str, via: str | None = None, policy: list[dict[str, Any]] = statements) -> list[str]:
            context = {"aws:PrincipalArn": principal, "aws:PrincipalIsAWSService": "false"}
            if via is not None:
                context["kms:ViaService"] = via
            return denied_by(policy, Request(action, context=context))

        account_role = "arn:aws:iam::111111111111:role"
        assert "OnlyTheCardVaultUsesTheKey" not in denied(f"{account_role}{path}PciLz-default-Workload-Keys")
        assert "OnlyTheCardVaultUsesTheKey" in denied(f"{account_role}/PowerUser")
        assert "OnlyTheCardVaultUsesTheKey" in denied(f"{account_role}/PowerUser", "rds.us-east-1.amazonaws.com")
        # Every role the template grants the key is a vault role, under the path the deny exempts.
        granted = roles_granted_a_key([dict(template.to_json())], template_id(template, key))
        assert len(granted) >= 2, epoch
        assert {properties.get("Path") for _, properties in granted} == {path}, epoch


def test_the_keys_paper_reads_each_epoch_keys_deny(shredding: tuple[Template, Any]) -> None:
    """Issue 20: on the keys paper each shred-epoch key's account-root grant is limited by OnlyTheCardVaultUsesTheKey
    to the vault's role path and AWS service principals, and the vault roles its template grants the key are
    listed unrefused (they are under that path)."""
    from evidence.workpapers import keys
    from pci_rules.model import StackTemplate, TemplateModel

    template, vault = shredding
    model = TemplateModel([StackTemplate("Workload", template.to_json(), "111111111111", "us-east-1")])
    rows = {r[0]: r for r in keys(model)}
    path = card_vault_role_path("pci-lz/default")
    for key in vault.shred_epoch_keys.values():
        row = rows[template_id(template, key)]  # this synth writes no construct paths: the name is the logical ID
        assert f"limited by OnlyTheCardVaultUsesTheKey leaves only: roles under the IAM path {path}" in row[4], row[4]
        assert "AWS service principals (aws:PrincipalIsAWSService)" in row[4]
        grants = row[6].split("; ")
        assert len(grants) >= 2, row[6]
        for grant in grants:
            assert grant.startswith("Role CardVault"), grant
            assert "refused" not in grant, grant
