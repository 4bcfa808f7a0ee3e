"""The reviewed requirements each acknowledged rule's finding may cite (QSA reader r20e, issue 20 item 1).

The exception register cited requirements unrelated to the finding (Lambda concurrency under 6.4.3, payment-page
scripts; a backup plan under a requirement read as only the incident-response plan; cfn-lint's hard-coded zones
under 12.5.2). This table is the review: per rule (the id before any `[...]` finding sub-ID), each PCI DSS v4.0.1
requirement an acknowledgment of it may cite, with why the finding concerns it; `NO_REQUIREMENT` where the
finding concerns none. `tests/test_acknowledgment_model.py` fails when a registry entry cites a requirement its
rule has no reviewed line for, so a new pairing reaches the register only with a reason. Reviewed 2026-12-03
against the PCI DSS v4.0.1 requirement text.
"""

from __future__ import annotations

from compliance.registry import NO_REQUIREMENT

_IAM_SCOPE = "the finding is a policy's breadth: access limited to least privilege by role (7.2.1)"
_IAM_FUNCTION = "the finding is a policy's breadth: privileges limited to what the job function needs (7.2.2)"

REVIEWED_REQUIREMENTS: dict[str, dict[str, str]] = {
    "AwsSolutions-EC23": {
        "1.4.1": "an open security group ingress is an NSC between the trusted network and the internet",
        "1.4.2": "inbound traffic from untrusted networks is restricted to what the group admits",
    },
    "AwsSolutions-IAM4": {
        "7.2.1": _IAM_SCOPE,
        "7.2.2": _IAM_FUNCTION,
        "11.5.2": "the AWS Config role's managed policy is what the change-detection mechanism reads with",
    },
    "AwsSolutions-IAM5": {
        "7.2.1": _IAM_SCOPE,
        "7.2.2": _IAM_FUNCTION,
        "10.2.1": "the wildcard lets enhanced monitoring write the audit log streams it creates",
        "10.3.1": "the wildcard is read access to audit logs, which 10.3.1 limits to those with a job-related need",
        "10.5.1": "the wildcard lets replication write the retained audit-log copies",
    },
    "AwsSolutions-RDS11": {
        "1.3.1": "the database port is reached only through the proxy's security group, the NSC restricting it",
        "2.2.5": "the default port is a service of the system component whose need is stated",
    },
    "AwsSolutions-S1": {"10.2.1": "server access logging is an audit log of the bucket"},
    "CloudFormation-Validate::W3010": {
        NO_REQUIREMENT: "hard-coded availability zones are template portability, no PCI DSS control",
    },
    "NIST.800.53.R5-LambdaConcurrency": {
        NO_REQUIREMENT: "reserved concurrency is capacity planning (NIST SC-5); PCI DSS v4.0.1 sets no availability"
        " requirement",
    },
    "NIST.800.53.R5-LambdaDLQ": {
        "10.7.2": "a dead-letter queue is how a failed invocation is detected; the failure surfaces as a failed"
        " deployment instead",
    },
    "NIST.800.53.R5-RDSInBackupPlan": {
        "12.10.1": "the incident response plan includes data backup processes; AWS Backup is one such process",
    },
    "PCI.DSS.321-CodeBuildProjectSourceRepoUrl": {
        "8.3.1": "the finding is how the build authenticates to its source repository",
    },
    "PCI4-IAM-NO-ADMIN-POLICY": {"7.2.1": _IAM_SCOPE, "7.2.2": _IAM_FUNCTION},
    "PCI4-IAM-NO-AWS-MANAGED-POLICY": {
        "7.2.1": _IAM_SCOPE,
        "7.2.2": _IAM_FUNCTION,
        "11.5.2": "the AWS Config role's managed policy is what the change-detection mechanism reads with",
    },
    "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": {
        "3.6.1": "decrypt on every key bears on restricting key access to the fewest custodians",
        "7.2.1": _IAM_SCOPE,
    },
    "PCI4-LAMBDA-IN-VPC": {"1.3.1": "a function outside the VPC is outside the NSCs that restrict CDE traffic"},
    "PCI.DSS.321-IAMNoInlinePolicy": {"7.2.1": _IAM_SCOPE, "7.2.2": _IAM_FUNCTION},
    "NIST.800.53.R5-IAMNoInlinePolicy": {"7.2.1": _IAM_SCOPE, "7.2.2": _IAM_FUNCTION},
    "PCI.DSS.321-LambdaInsideVPC": {
        "1.3.1": "a function outside the VPC is outside the NSCs that restrict CDE traffic",
        "1.4.1": "a function outside the VPC reaches the internet without the NSCs between the networks",
    },
    "PCI.DSS.321-S3BucketLoggingEnabled": {"10.2.1": "server access logging is an audit log of the bucket"},
    "NIST.800.53.R5-S3BucketLoggingEnabled": {"10.2.1": "server access logging is an audit log of the bucket"},
    "PCI.DSS.321-S3BucketReplicationEnabled": {
        "6.5.1": "the pipeline artefact bucket holds the changes that 6.5.1's change procedures deploy",
        "10.2.1": "the bucket holds audit logs (its access logs) that replication would copy",
        "10.3.3": "replication is a backup of audit logs to a central store",
        "10.5.1": "replication keeps a second copy of retained audit logs",
        "11.5.2": "the bucket holds the change-detection mechanism's configuration history",
    },
    "PCI.DSS.321-S3DefaultEncryptionKMS": {
        "3.5.1": "the bucket may hold PAN from request URLs, which its encryption does not render unreadable",
        "10.2.1": "the bucket holds audit logs",
        "10.3.2": "the bucket holds audit logs whose protection the key choice bears on",
        "10.5.1": "the bucket holds retained audit logs",
    },
    "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW": {
        "1.3.2": "a route to the internet gateway is outbound traffic from the network, which 1.3.2 restricts",
        "1.4.1": "the internet gateway route is where NSCs between the networks apply",
    },
}
for _twin in ("S3BucketReplicationEnabled", "S3DefaultEncryptionKMS", "VPCNoUnrestrictedRouteToIGW", "LambdaInsideVPC"):
    REVIEWED_REQUIREMENTS[f"NIST.800.53.R5-{_twin}"] = REVIEWED_REQUIREMENTS[f"PCI.DSS.321-{_twin}"]


def rule_family(rule: str) -> str:
    """The rule id an acknowledgment names, without its `[...]` finding sub-ID."""
    return rule.split("[", 1)[0]
