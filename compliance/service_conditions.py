"""Which condition keys each AWS service principal is documented to send, per kind of policy.

A statement that grants (or denies) a service principal under a condition key the service does
not send never matches: an Allow silently stops working (EventBridge cannot publish to an
encrypted topic), a StringNotEquals Deny blocks everything. Every service-principal statement in a
key, bucket, topic, log-group or endpoint policy and in every trust policy may use only the keys
listed here for that service and kind, each with the AWS page that documents them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# "function": a Lambda function's resource-based policy (AWS::Lambda::Permission; its SourceArn and
# SourceAccount properties are the aws:SourceArn and aws:SourceAccount conditions).
PolicyKind = Literal["key", "bucket", "topic", "log-group", "endpoint", "trust", "function"]

# Regional service principals (logs.us-east-1.amazonaws.com) are looked up as logs.<region>.amazonaws.com.
_REGIONAL_PRINCIPAL = re.compile(r"^(?P<service>[a-z0-9-]+)\.[a-z]{2}(?:-gov)?-[a-z]+-\d\.amazonaws\.com$")


@dataclass(frozen=True)
class DocumentedConditions:
    """Condition keys (lower case) the service sends for this kind of policy, and the AWS page saying so."""

    keys: frozenset[str]
    source: str


def _documented(source: str, *keys: str) -> DocumentedConditions:
    return DocumentedConditions(frozenset(key.lower() for key in keys), source)


SERVICE_CONDITION_KEYS: dict[tuple[str, PolicyKind], DocumentedConditions] = {
    # --- KMS key policies -------------------------------------------------------------------------
    ("logs.<region>.amazonaws.com", "key"): _documented(
        "Encrypt log data in CloudWatch Logs using AWS Key Management Service", "kms:EncryptionContext:aws:logs:arn"
    ),
    ("cloudtrail.amazonaws.com", "key"): _documented(
        "Configure AWS KMS key policies for CloudTrail",
        "kms:EncryptionContext:aws:cloudtrail:arn",
        "aws:SourceArn",
        "aws:SourceAccount",
    ),
    ("cloudwatch.amazonaws.com", "key"): _documented(
        "Amazon SNS key management: compatibility between event sources from AWS services and encrypted topics",
        "aws:SourceAccount",
    ),
    # The same page: EventBridge-to-encrypted-topic delivery supports none of aws:SourceAccount,
    # aws:SourceArn, aws:SourceOrgID in the key policy.
    ("events.amazonaws.com", "key"): _documented(
        "Amazon SNS key management: compatibility between event sources from AWS services and encrypted topics"
    ),
    # --- SNS topic policies -----------------------------------------------------------------------
    ("cloudwatch.amazonaws.com", "topic"): _documented(
        "Amazon CloudWatch: Confused deputy prevention", "aws:SourceArn", "aws:SourceAccount"
    ),
    ("events.amazonaws.com", "topic"): _documented(
        "Using resource-based policies for Amazon EventBridge (Amazon SNS permissions)",
        "aws:SourceArn",
        "aws:SourceAccount",
    ),
    # --- S3 bucket policies -----------------------------------------------------------------------
    ("cloudtrail.amazonaws.com", "bucket"): _documented(
        "Amazon S3 bucket policy for CloudTrail", "aws:SourceArn", "aws:SourceAccount", "s3:x-amz-acl"
    ),
    ("logging.s3.amazonaws.com", "bucket"): _documented(
        "Enabling Amazon S3 server access logging (permissions for log delivery)",
        "aws:SourceArn",
        "aws:SourceAccount",
    ),
    # CDK's log_access_logs writes the delivery.logs statements of the same page (s3:x-amz-acl only).
    ("delivery.logs.amazonaws.com", "bucket"): _documented(
        "Enable access logs for your Application Load Balancer", "s3:x-amz-acl"
    ),
    ("logdelivery.elasticloadbalancing.amazonaws.com", "bucket"): _documented(
        "Enable access logs for your Application Load Balancer"
    ),
    # --- CloudWatch Logs resource policies ----------------------------------------------------------
    ("delivery.logs.amazonaws.com", "log-group"): _documented(
        "Enable logging from AWS services (logs sent to CloudWatch Logs)", "aws:SourceArn", "aws:SourceAccount"
    ),
    # --- Trust policies ---------------------------------------------------------------------------
    ("config.amazonaws.com", "trust"): _documented(
        "Permissions for the IAM role assigned to AWS Config", "aws:SourceAccount"
    ),
    ("vpc-flow-logs.amazonaws.com", "trust"): _documented(
        "IAM role for publishing flow logs to CloudWatch Logs", "aws:SourceArn", "aws:SourceAccount"
    ),
    ("monitoring.rds.amazonaws.com", "trust"): _documented(
        "Setting up and enabling Enhanced Monitoring (protecting against the confused deputy problem)",
        "aws:SourceArn",
        "aws:SourceAccount",
    ),
    ("cloudtrail.amazonaws.com", "trust"): _documented("Sending events to CloudWatch Logs (CloudTrail)"),
    ("s3.amazonaws.com", "trust"): _documented("Setting up permissions for live replication"),
    ("lambda.amazonaws.com", "trust"): _documented("Defining Lambda function permissions with an execution role"),
    ("rds.amazonaws.com", "trust"): _documented("Setting up AWS Identity and Access Management (IAM) for RDS Proxy"),
    # --- Lambda resource-based policies (issue #10: the card vault) --------------------------------
    # SourceAccount for any service principal: "Viewing resource-based IAM policies in Lambda" (Lambda
    # Developer Guide: granting function access to AWS services, source-account).
    ("elasticloadbalancing.amazonaws.com", "function"): _documented(
        "Lambda functions as targets (Application Load Balancers: prepare the Lambda function)",
        "aws:SourceArn",
        "aws:SourceAccount",
    ),
    ("events.amazonaws.com", "function"): _documented(
        "Using resource-based policies for Amazon EventBridge (AWS Lambda permissions)",
        "aws:SourceArn",
        "aws:SourceAccount",
    ),
}


def principal_key(service_principal: str) -> str:
    """`logs.eu-west-1.amazonaws.com` -> `logs.<region>.amazonaws.com`; global principals unchanged."""
    match = _REGIONAL_PRINCIPAL.match(service_principal)
    return f"{match['service']}.<region>.amazonaws.com" if match else service_principal


def undocumented_condition_keys(service_principal: str, kind: PolicyKind, condition_keys: set[str]) -> set[str]:
    """The keys in `condition_keys` that no AWS page says `service_principal` sends for `kind`.

    A principal/kind pair missing from the table makes every key undocumented (and an unconditioned
    statement acceptable): the table must be extended, with its source, before a condition is used.
    """
    documented = SERVICE_CONDITION_KEYS.get((principal_key(service_principal), kind))
    allowed = documented.keys if documented else frozenset()
    return {key for key in condition_keys if key.lower() not in allowed}
