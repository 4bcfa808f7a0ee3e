"""CodeBuild projects of a delivery pipeline (PCI DSS v4.0.1 6.5.1, 8.6.2, 10.2.1; Security Hub CodeBuild.1-5)."""

import re
from collections.abc import Iterator, Mapping

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_true

# Credentials in a source URL ("https://user:token@host/...", CodeBuild.1) and AWS keys in clear-text
# environment variables (CodeBuild.2).
URL_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+:[^/@\s]+@", re.IGNORECASE)
SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@rule(
    id="PCI4-CODEBUILD-HARDENED",
    requirements=("8.3.2", "8.6.2", "10.2.1", "10.3.2"),
    related=("6.5.1",),
    description=(
        "Every CodeBuild project has no credentials in its source URL or clear-text variables, logs, "
        "encrypts S3 logs and runs unprivileged."
    ),
    fix=(
        "Use a CodeConnections source, Secrets Manager variables, leave CloudWatch logging on (or S3 logs "
        "encrypted), PrivilegedMode false."
    ),
)
def codebuild_hardened(model: TemplateModel) -> Iterator[Check]:
    for project in model.resources("AWS::CodeBuild::Project"):
        problems = []
        sources = [project.prop("Source"), *as_list(project.prop("SecondarySources"))]
        if any(isinstance(s, Mapping) and URL_CREDENTIALS.match(str(s.get("Location", ""))) for s in sources):
            problems.append("credentials in a source URL")
        environment = project.prop("Environment") or {}
        clear = [
            str(v.get("Name"))
            for v in as_list(environment.get("EnvironmentVariables"))
            if isinstance(v, Mapping)
            and v.get("Name") in SECRET_VARIABLES
            and v.get("Type", "PLAINTEXT") == "PLAINTEXT"
        ]
        if clear:
            problems.append(f"clear-text credentials {clear}")
        logs = project.prop("LogsConfig") or {}
        cloudwatch = (logs.get("CloudWatchLogs") or {}).get("Status", "ENABLED")
        s3 = logs.get("S3Logs") or {}
        if cloudwatch != "ENABLED" and s3.get("Status") != "ENABLED":
            problems.append("no build logs")
        if s3.get("Status") == "ENABLED" and is_true(s3.get("EncryptionDisabled")):
            problems.append("S3 build logs unencrypted")
        if is_true(environment.get("PrivilegedMode")):
            problems.append("PrivilegedMode is true")
        yield Check(project, not problems, "; ".join(problems))
