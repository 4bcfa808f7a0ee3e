"""Secure configurations the templates set on account-wide services (PCI DSS v4.0.1 2.2, 8.3, 10.2, 11.5).

GuardDuty protections, the Security Hub standard, Amazon Inspector coverage, and the account guards
that CDK sets by SDK call (`AwsCustomResource`): the values those calls send are in the template,
so they are checked here like any property.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, flatten, inspector_missing, is_true, sdk_action, sdk_calls

# GuardDuty protection plans ("AWS::GuardDuty::Detector CFNFeatureConfiguration"): S3 Protection,
# RDS Protection, Lambda Protection (GuardDuty.6) and Runtime Monitoring.
GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "RUNTIME_MONITORING")
RUNTIME = "RUNTIME_MONITORING"
EKS_ADDON = "EKS_ADDON_MANAGEMENT"
PCI_V401 = "standards/pci-dss/v/4.0.1"
PCI_V321 = "standards/pci-dss/v/3.2.1"


@rule(
    id="PCI4-GUARDDUTY-PROTECTIONS",
    # 11.5.1 only: the Security Hub controls this rule stands for (GuardDuty.1, 5-7, 9, 10) map 11.5.1 and
    # none maps 5.2.2 (anti-malware), which this rule used to claim without a control page behind it.
    requirements=("11.5.1",),
    description=(
        "Every GuardDuty detector enables S3, RDS and Lambda Protection and Runtime Monitoring with EKS add-on"
        " management."
    ),
    fix=(
        "Add Features S3_DATA_EVENTS, RDS_LOGIN_EVENTS, LAMBDA_NETWORK_LOGS and RUNTIME_MONITORING with Status ENABLED,"
        " RUNTIME_MONITORING with AdditionalConfiguration EKS_ADDON_MANAGEMENT ENABLED."
    ),
)
def guardduty_protections(model: TemplateModel) -> Iterator[Check]:
    for detector in model.resources("AWS::GuardDuty::Detector"):
        enabled = {
            str(f.get("Name"))
            for f in as_list(detector.prop("Features"))
            if isinstance(f, Mapping) and f.get("Status") == "ENABLED"
        }
        missing = [name for name in GUARDDUTY_FEATURES if name not in enabled]
        # GuardDuty.7 ("EKS Runtime Monitoring should be enabled") asks the EKS add-on to be managed automatically
        runtime = [f for f in as_list(detector.prop("Features")) if isinstance(f, Mapping) and f.get("Name") == RUNTIME]
        agents = {
            str(c.get("Name"))
            for f in runtime
            for c in as_list(f.get("AdditionalConfiguration"))
            if isinstance(c, Mapping) and c.get("Status") == "ENABLED"
        }
        if RUNTIME in enabled and EKS_ADDON not in agents:
            missing.append(f"{RUNTIME} {EKS_ADDON}")
        yield Check(detector, not missing, f"not enabled: {', '.join(missing)}" if missing else "")


@rule(
    id="PCI4-SECURITYHUB-PCI-V401",
    requirements=("10.4.1.1",),
    related=("12.4.2", "11.5.2"),
    description="Every Security Hub subscription enables the PCI DSS v4.0.1 standard with none of its controls"
    " disabled, and none the retired v3.2.1.",
    fix="Add an AWS::SecurityHub::Standard with StandardsArn ...::standards/pci-dss/v/4.0.1 and no"
    " DisabledStandardsControls (or acknowledge the finding with each disabled control's reviewed reason);"
    " remove v3.2.1.",
)
def securityhub_pci_v401(model: TemplateModel) -> Iterator[Check]:
    """A hub per stack subscribes v4.0.1; no standard is v3.2.1; the v4.0.1 standard disables no control.

    A control in DisabledStandardsControls (AWS::SecurityHub::Standard, CloudFormation Template Reference: each a
    StandardsControlArn with a Reason, "required" when disabling) runs no checks and yields no findings in that
    standard ("Disabling a control in a specific standard", AWS Security Hub User Guide), so the runtime watch the
    crosswalk names for it stops (pack 1.14.0, r21h). The finding names each control and its stated reason; it is
    acknowledgeable, so a reviewed decision can stand in the registry."""
    standards = [(s, flatten(s.reference("StandardsArn"))) for s in model.resources("AWS::SecurityHub::Standard")]
    for hub in model.resources("AWS::SecurityHub::Hub"):
        subscribed = any(s.stack == hub.stack and PCI_V401 in arn for s, arn in standards)
        yield Check(hub, subscribed, "" if subscribed else "no PCI DSS v4.0.1 standard in this stack")
    for standard, arn in standards:
        if PCI_V321 in arn:
            yield Check(standard, False, "PCI DSS v3.2.1 is retired: subscribe v4.0.1")
            continue
        disabled = [
            f"{flatten(c.get('StandardsControlArn')).rsplit('/', 1)[-1]} ({c.get('Reason') or 'no reason given'})"
            for c in as_list(standard.prop("DisabledStandardsControls"))
            if isinstance(c, Mapping)
        ]
        if PCI_V401 in arn and disabled:
            yield Check(standard, False, f"disables {len(disabled)} PCI DSS v4.0.1 control(s): {', '.join(disabled)}")
        else:
            yield Check(standard, True, "")


# Amazon Inspector resource types that scan Lambda functions ("Scanning AWS Lambda functions with
# Amazon Inspector"): standard scanning of packages and code scanning (Inspector.3, Inspector.4).
INSPECTOR_LAMBDA = ("LAMBDA", "LAMBDA_CODE")


@rule(
    id="PCI4-INSPECTOR-LAMBDA-SCANNING",
    requirements=("6.2.4", "6.3.1"),
    description="Where the templates enable Amazon Inspector, Lambda standard and code scanning are enabled too.",
    fix="Pass resourceTypes including LAMBDA and LAMBDA_CODE to the Inspector2 enable call.",
)
def inspector_lambda_scanning(model: TemplateModel) -> Iterator[Check]:
    for resource in model.resources("Custom::AWS"):
        missing = inspector_missing(resource, INSPECTOR_LAMBDA)
        if missing is not None:
            yield Check(resource, not missing, "; ".join(missing))


# Security Hub IAM.16 ("Ensure IAM password policy prevents password reuse", PCI DSS v4.0.1 8.3.7) "checks whether
# the number of passwords to remember is set to 24. The control fails if the value is not 24" (iam-controls.html
# #iam-16); PCI DSS 8.3.7 itself asks only 4, and 24 is the most IAM remembers.
PASSWORD_REUSE_PREVENTION = 24


def _password_policy(parameters: Mapping[str, Any]) -> list[str]:
    """PCI DSS 8.3.6 (>= 12 characters, letters and digits), 8.3.7 with IAM.16 (the last 24 remembered),
    8.3.9 (<= 90 days)."""
    problems = []
    if not (isinstance(parameters.get("MinimumPasswordLength"), int) and parameters["MinimumPasswordLength"] >= 12):
        problems.append("MinimumPasswordLength < 12")
    for flag in ("RequireNumbers", "RequireUppercaseCharacters", "RequireLowercaseCharacters"):
        if not is_true(parameters.get(flag)):
            problems.append(f"{flag} is not true")
    reuse = parameters.get("PasswordReusePrevention")
    if not (isinstance(reuse, int) and not isinstance(reuse, bool) and reuse == PASSWORD_REUSE_PREVENTION):
        problems.append(f"PasswordReusePrevention is {reuse!r}, not {PASSWORD_REUSE_PREVENTION} (Security Hub IAM.16)")
    age = parameters.get("MaxPasswordAge")
    if not (isinstance(age, int) and 0 < age <= 90):
        problems.append("MaxPasswordAge not within 90 days")
    return problems


def _all_true(parameters: Mapping[str, Any], *keys: str) -> list[str]:
    return [f"{k} is not true" for k in keys if not is_true(parameters.get(k))]


def _emr_block_public_access(config: Mapping[str, Any]) -> list[str]:
    """EMR.2 (emr-controls.html#emr-2) fails when block public access is off or a port other than 22 is permitted."""
    problems = (
        [] if is_true(config.get("BlockPublicSecurityGroupRules")) else ["BlockPublicSecurityGroupRules is not true"]
    )
    for permitted in as_list(config.get("PermittedPublicSecurityGroupRuleRanges")):
        low = permitted.get("MinRange") if isinstance(permitted, Mapping) else None
        high = permitted.get("MaxRange", low) if isinstance(permitted, Mapping) else None
        if not (low == 22 and high == 22):
            problems.append(f"public ports {low}-{high} permitted (only 22 may be)")
    return problems


def _guard_problems(action: str, parameters: Mapping[str, Any]) -> list[str] | None:
    """What is wrong with one account-guard call's parameters; None for a call that is no guard."""
    if action == "updateAccountPasswordPolicy":
        return _password_policy(parameters)
    if action == "putPublicAccessBlock":
        config = parameters.get("PublicAccessBlockConfiguration") or {}
        keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        return _all_true(config, *keys)
    if action == "modifyInstanceMetadataDefaults":
        return [] if parameters.get("HttpTokens") == "required" else ["HttpTokens is not required (IMDSv2)"]
    if action == "enableImageBlockPublicAccess":
        state = parameters.get("ImageBlockPublicAccessState")
        return [] if state == "block-new-sharing" else [f"ImageBlockPublicAccessState is {state!r}"]
    if action == "putBlockPublicAccessConfiguration":
        return _emr_block_public_access(parameters.get("BlockPublicAccessConfiguration") or {})
    if action == "enableSnapshotBlockPublicAccess":
        state = parameters.get("State")
        return [] if state == "block-all-sharing" else [f"State is {state!r}, not block-all-sharing"]
    return None


# The SSM service setting that lets documents be shared publicly ("Block public sharing for SSM documents").
SSM_PUBLIC_SHARING = "/ssm/documents/console/public-sharing-permission"


@rule(
    id="PCI4-ACCOUNT-GUARD-VALUES",
    requirements=("2.2.1", "8.3.6", "8.3.7", "8.3.9"),
    related=("1.4.4", "8.3.10.1", "8.6.3"),
    description=(
        "Account guards set by SDK call or resource hold safe values (password policy, public access blocks, "
        "IMDSv2, EMR block public access, SSM sharing)."
    ),
    fix=(
        "Password policy >= 12 characters with letters and digits, PasswordReusePrevention 24, age <= 90 days; every "
        "public-access block on; HttpTokens required; SSM public sharing Disable."
    ),
)
def account_guard_values(model: TemplateModel) -> Iterator[Check]:
    for resource in model.resources("Custom::AWS"):
        guards = [
            (phase, _guard_problems(sdk_action(call), p if isinstance(p := call.get("parameters"), Mapping) else {}))
            for phase, call in sdk_calls(resource)
        ]
        examined = [(phase, problems) for phase, problems in guards if problems is not None]
        if examined:
            problems = [f"on {phase.lower()}: {problem}" for phase, found in examined for problem in found]
            if len(examined) == 1:  # one call sets the guard: its problems need no phase
                problems = list(examined[0][1])
            yield Check(resource, not problems, "; ".join(problems))
    for snapshot in model.resources("AWS::EC2::SnapshotBlockPublicAccess"):
        state = snapshot.prop("State")
        ok = state == "block-all-sharing"
        yield Check(snapshot, ok, "" if ok else f"State is {state!r}, not block-all-sharing")
    for setting in model.resources("AWS::SSM::ServiceSetting"):
        if setting.prop("SettingId") == SSM_PUBLIC_SHARING:
            value = setting.prop("SettingValue")
            yield Check(setting, value == "Disable", "" if value == "Disable" else f"SettingValue is {value!r}")
