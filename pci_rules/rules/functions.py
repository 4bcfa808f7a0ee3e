"""Lambda functions, CDK-generated providers included (PCI DSS v4.0.1 1.3.1, 3.5.1, 10.5.1)."""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule

FUNCTION = "AWS::Lambda::Function"


@rule(
    id="PCI4-LAMBDA-IN-VPC",
    requirements=("1.3.1",),
    related=("1.4.4",),
    description="Every Lambda function runs in a VPC, behind its security groups and NACLs.",
    fix="Set VpcConfig with subnets and security groups (CDK: vpc=..., vpc_subnets=...), or acknowledge why not.",
)
def lambda_in_vpc(model: TemplateModel) -> Iterator[Check]:
    for function in model.resources(FUNCTION):
        inside = bool(function.prop("VpcConfig", "SubnetIds"))
        yield Check(function, inside, "" if inside else "not in a VPC")


@rule(
    id="PCI4-LAMBDA-ENV-ENCRYPTED",
    requirements=(),
    related=("3.5.1",),
    description="A Lambda function with environment variables encrypts them with a customer-managed KMS key.",
    fix="Set KmsKeyArn on the function (CDK: environment_encryption=...), or keep secrets out of the environment.",
)
def lambda_env_encrypted(model: TemplateModel) -> Iterator[Check]:
    for function in model.resources(FUNCTION):
        has_variables = bool(function.prop("Environment", "Variables"))
        ok = not has_variables or bool(function.prop("KmsKeyArn"))
        yield Check(function, ok, "" if ok else "environment variables without KmsKeyArn")


@rule(
    id="PCI4-LAMBDA-LOG-GROUP",
    requirements=("10.5.1", "10.3.2"),
    description="Every Lambda function logs to its own log group created in the templates (encrypted, retained).",
    fix="Create a log group and set LoggingConfig.LogGroup (CDK: log_group=...); never leave Lambda to create it.",
)
def lambda_log_group(model: TemplateModel) -> Iterator[Check]:
    for function in model.resources(FUNCTION):
        target = model.target(function.stack, function.prop("LoggingConfig", "LogGroup"))
        own = target is not None and target.type == "AWS::Logs::LogGroup"
        named = any(
            "/aws/lambda/" in str(g.prop("LogGroupName")) for g in model.referrers(function, "AWS::Logs::LogGroup")
        )
        ok = own or named
        yield Check(function, ok, "" if ok else "no log group of its own in the templates")


@rule(
    id="PCI4-LAMBDA-SUPPORTED-RUNTIME",
    requirements=("6.3.3", "12.3.4"),
    description="No Lambda function uses a runtime AWS has deprecated (no more security patches).",
    fix="Move the function to a supported runtime (python3.11+, nodejs20.x+, java17+, ...).",
)
def lambda_supported_runtime(model: TemplateModel) -> Iterator[Check]:
    deprecated = (
        "python2.7", "python3.6", "python3.7", "python3.8", "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10",
        "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "java8", "dotnetcore2.1", "dotnetcore3.1",
        "dotnet6", "ruby2.5", "ruby2.7", "go1.x", "provided",
    )  # fmt: skip
    for function in model.resources(FUNCTION):
        runtime = function.prop("Runtime")
        ok = runtime not in deprecated
        yield Check(function, ok, "" if ok else f"runtime {runtime} is deprecated")


PERMISSION = "AWS::Lambda::Permission"


def _service_principal(principal: object) -> bool:
    return isinstance(principal, str) and (
        principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn")
    )


@rule(
    id="PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE",
    requirements=("7.2.1",),
    related=("1.4.4",),
    description=(
        "A Lambda permission for an AWS service principal names the resource or the account that may invoke"
        " (SourceArn or SourceAccount): without either, that service acting for any account can invoke the"
        " function (Security Hub Lambda.1 relates)."
    ),
    fix=(
        "Set SourceArn (a pattern such as arn:...:targetgroup/<fixed name>/* is accepted) and SourceAccount"
        " on the permission (CDK: add_permission(source_arn=..., source_account=...))."
    ),
)
def lambda_service_permission_source(model: TemplateModel) -> Iterator[Check]:
    for permission in model.resources(PERMISSION):
        if not _service_principal(permission.prop("Principal")):
            continue
        # presence is the decision: an ARN built with Fn::Sub or Fn::Join names a source all the same
        ok = permission.reference("SourceArn") is not None or permission.reference("SourceAccount") is not None
        yield Check(permission, ok, "" if ok else f"{permission.prop('Principal')} may invoke from any source")
