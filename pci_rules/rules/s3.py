"""S3 buckets: encrypted, private, TLS-only, versioned, logged (PCI DSS v4.0.1 3.5.1, 4.2.1, 1.4.4, 10.2.1)."""

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_customer_key, is_true, statements

BUCKET = "AWS::S3::Bucket"
BLOCK_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def _policies(model: TemplateModel, bucket: Resource) -> list[Resource]:
    return model.attached(bucket, "AWS::S3::BucketPolicy", "Bucket")


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition") or {}
    secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
    tls = (condition.get("NumericLessThan") or {}).get("s3:TlsVersion")
    actions = as_list(statement.get("Action"))
    return ("s3:*" in actions or "*" in actions) and (str(secure).lower() == "false" or tls is not None)


_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "AES256")  # "ServerSideEncryptionByDefault", Amazon S3 API Reference
_KMS = ("aws:kms", "aws:kms:dsse")


def _default_encryption(bucket: Resource) -> list[Mapping[str, Any]]:
    rules = as_list(bucket.prop("BucketEncryption", "ServerSideEncryptionConfiguration"))
    return [r.get("ServerSideEncryptionByDefault") or {} for r in rules if isinstance(r, Mapping)]


@rule(
    id="PCI4-S3-ENCRYPTION",
    requirements=(),
    related=("3.5.1",),
    description="Every bucket encrypts new objects at rest: with the default encryption it declares (SSE-KMS,"
    " DSSE-KMS or SSE-S3), or with SSE-S3, which S3 applies to every new object when none is declared.",
    fix="Declare BucketEncryption with an SSEAlgorithm S3 has (aws:kms, aws:kms:dsse or AES256), or none at all.",
    acknowledgeable=False,
)
def s3_encryption(model: TemplateModel) -> Iterator[Check]:
    # "Amazon S3 now applies server-side encryption with Amazon S3 managed keys (SSE-S3) as the base level of
    # encryption for every bucket" since 2023-01-05 ("Setting default server-side encryption behavior for Amazon
    # S3 buckets", Amazon S3 User Guide): a bucket without BucketEncryption is encrypted at rest, and the pass
    # says so. It fails only on a declared algorithm S3 does not have ("ServerSideEncryptionByDefault", Amazon S3
    # API Reference: AES256 | aws:kms | aws:kms:dsse). Which key is PCI4-S3-CUSTOMER-KEY's (acknowledgeable).
    for bucket in model.resources(BUCKET):
        algorithms = [d.get("SSEAlgorithm") for d in _default_encryption(bucket)]
        if not algorithms:
            yield Check(bucket, True, "declares no default encryption: S3 applies SSE-S3 to every new object")
            continue
        unknown = [a for a in algorithms if a not in _ALGORITHMS]
        yield Check(bucket, not unknown, f"declares an SSEAlgorithm S3 does not have: {unknown}" if unknown else "")


@rule(
    id="PCI4-S3-CUSTOMER-KEY",
    requirements=(),
    related=("3.5.1", "3.6.1"),
    description="Every bucket's default encryption is SSE-KMS with a customer-managed KMS key, except a bucket a"
    " log service that supports only SSE-S3 writes to (S3 server access logs, load-balancer access logs).",
    fix="Set BucketEncryption with SSEAlgorithm aws:kms and KMSMasterKeyID a customer-managed key (CDK:"
    " encryption=BucketEncryption.KMS, encryption_key=...); acknowledge it for a bucket outside the CDE.",
)
def s3_customer_key(model: TemplateModel) -> Iterator[Check]:
    # A CDE store's key is one whose key policy and custodians the owner controls (3.6.1, related), as
    # PCI4-DYNAMODB-KMS and PCI4-REDSHIFT-KMS ask; a fork's bucket outside the CDE keeps SSE-S3 under an
    # acknowledgment naming what it is. Exempt, with the reason in the pass: the destination of S3 server access
    # logs ("Enabling Amazon S3 server access logging", Amazon S3 User Guide: default encryption of the
    # destination bucket with SSE-KMS is not supported, SSE-S3 only) and of a load balancer's access logs
    # ("Access logs for your Application Load Balancer", Elastic Load Balancing User Guide: SSE-S3 is the only
    # server-side encryption supported), as the template shows them (a bucket's LoggingConfiguration, a load
    # balancer's access_logs.s3.bucket attribute).
    log_targets = _log_service_targets(model)
    for bucket in model.resources(BUCKET):
        defaults = _default_encryption(bucket)
        kms_keys = [d.get("KMSMasterKeyID") for d in defaults if d.get("SSEAlgorithm") in _KMS]
        if defaults and len(kms_keys) == len(defaults) and all(is_customer_key(k) for k in kms_keys):
            yield Check(bucket, True)
            continue
        service = log_targets.get(bucket.key)
        if service is not None and all(d.get("SSEAlgorithm") == "AES256" for d in defaults):
            yield Check(bucket, True, f"SSE-S3: receives {service}, which support only SSE-S3")
            continue
        if not defaults or all(d.get("SSEAlgorithm") == "AES256" for d in defaults):
            held = "SSE-S3 (S3's default)" if not defaults else "SSE-S3 (declared)"
        else:
            held = "SSE-KMS with the AWS managed key aws/s3"
        yield Check(bucket, False, f"encrypted at rest with {held}, not a customer-managed KMS key")


def _log_service_targets(model: TemplateModel) -> dict[tuple[str, str], str]:
    """Buckets the templates make the destination of a log service that supports only SSE-S3."""
    found: dict[tuple[str, str], str] = {}
    for source in model.resources(BUCKET):
        target = model.target(source.stack, source.prop("LoggingConfiguration", "DestinationBucketName"))
        if target is not None and target.type == BUCKET:
            found[target.key] = "S3 server access logs"
    for balancer in model.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        for attribute in as_list(balancer.prop("LoadBalancerAttributes")):
            if isinstance(attribute, Mapping) and attribute.get("Key") == "access_logs.s3.bucket":
                target = model.target(balancer.stack, attribute.get("Value"))
                if target is not None and target.type == BUCKET:
                    found.setdefault(target.key, "load-balancer access logs")
    return found


@rule(
    id="PCI4-S3-PUBLIC-ACCESS-BLOCK",
    requirements=("1.4.4", "7.2.1"),
    description="Every bucket blocks public ACLs and policies (all four Block Public Access settings).",
    fix="Set PublicAccessBlockConfiguration with all four flags true (CDK: block_public_access=BLOCK_ALL).",
)
def s3_public_access_block(model: TemplateModel) -> Iterator[Check]:
    for bucket in model.resources(BUCKET):
        missing = [f for f in BLOCK_FLAGS if not is_true(bucket.prop("PublicAccessBlockConfiguration", f))]
        yield Check(bucket, not missing, f"not set: {missing}" if missing else "")


@rule(
    id="PCI4-S3-TLS-ONLY",
    requirements=(),
    related=("4.2.1",),  # internal transit, not open public networks (evidence.catalog INTERNAL_TRANSIT)
    description="Every bucket policy denies requests that do not use TLS.",
    fix="Add a Deny statement on s3:* with Bool aws:SecureTransport false (CDK: enforce_ssl=True).",
)
def s3_tls_only(model: TemplateModel) -> Iterator[Check]:
    for bucket in model.resources(BUCKET):
        enforced = any(
            _denies_insecure_transport(s)
            for p in _policies(model, bucket)
            for s in statements(p.prop("PolicyDocument"))
        )
        yield Check(bucket, enforced, "" if enforced else "no bucket policy denies aws:SecureTransport false")


@rule(
    id="PCI4-S3-VERSIONING",
    requirements=("10.5.1",),
    related=("10.3.4",),
    description="Every bucket keeps object versions, so an overwrite or delete is recoverable.",
    fix="Set VersioningConfiguration Status Enabled (CDK: versioned=True).",
)
def s3_versioning(model: TemplateModel) -> Iterator[Check]:
    for bucket in model.resources(BUCKET):
        versioned = bucket.prop("VersioningConfiguration", "Status") == "Enabled"
        yield Check(bucket, versioned, "" if versioned else "versioning is not enabled")


_SELF_LOGGING = (
    "logs to itself (LoggingConfiguration without another DestinationBucketName: S3 stores the bucket's access"
    " logs in the bucket they audit); name another bucket"
)


@rule(
    id="PCI4-S3-ACCESS-LOGGING",
    requirements=("10.2.1",),
    description="Every bucket logs access to another bucket; a bucket receiving access logs is exempt (loop).",
    fix="Set LoggingConfiguration DestinationBucketName to another bucket (CDK: server_access_logs_bucket=...).",
)
def s3_access_logging(model: TemplateModel) -> Iterator[Check]:
    # A LoggingConfiguration without DestinationBucketName logs to the bucket itself: "By default, logs are stored
    # in the bucket where the LoggingConfiguration property is defined" (CloudFormation Template Reference,
    # "AWS::S3::Bucket LoggingConfiguration"; CDK's server_access_logs_prefix alone renders that: "otherwise - log
    # to current bucket"). Logging is on, but the records sit beside what they audit, writable by whoever writes
    # the bucket (10.3.2 asks logs protected from modification), and each delivery is itself logged. A finding,
    # in words that say so, not "no server access logging" (QSA reader r21d, MEDIUM 5).
    # A destination is a bucket of the templates by reference (Ref, Fn::GetAtt) or by the literal name a bucket
    # here declares as its BucketName (QSA reader r21e LOW: `BucketName: logs-b` logging to "logs-b" passed).
    named = {
        name: b.key for b in model.resources(BUCKET) if isinstance(name := b.reference("BucketName"), str) and name
    }

    def destination_key(bucket: Resource, destination: object) -> tuple[str, str] | None:
        target = model.target(bucket.stack, destination)
        if target is not None:
            return target.key
        return named.get(destination) if isinstance(destination, str) else None

    targets = {
        key
        for b in model.resources(BUCKET)
        if (key := destination_key(b, b.prop("LoggingConfiguration", "DestinationBucketName"))) is not None
        and key != b.key
    }
    for bucket in model.resources(BUCKET):
        configured = isinstance(bucket.prop("LoggingConfiguration"), Mapping)
        destination = bucket.prop("LoggingConfiguration", "DestinationBucketName")
        key = destination_key(bucket, destination) if destination else None
        if configured and (not destination or key == bucket.key):
            yield Check(bucket, False, _SELF_LOGGING)
            continue
        logged = bool(destination) or bucket.key in targets
        yield Check(bucket, logged, "" if logged else "no server access logging")


@rule(
    id="PCI4-S3-ACLS-DISABLED",
    requirements=("7.2.1",),
    description="Every bucket disables ACLs (object ownership BucketOwnerEnforced); access is by policy only.",
    fix="Set OwnershipControls ObjectOwnership BucketOwnerEnforced (CDK: object_ownership=BUCKET_OWNER_ENFORCED).",
)
def s3_acls_disabled(model: TemplateModel) -> Iterator[Check]:
    # A bucket a CloudFront distribution writes standard (legacy) logs to must have ACLs enabled: CloudFront
    # grants itself FULL_CONTROL by ACL on it ("Configure standard logging (legacy)", Amazon CloudFront Developer
    # Guide), so PCI4-CLOUDFRONT-LOGGING and this rule would otherwise contradict each other. That bucket is
    # exempt, as log buckets are from PCI4-S3-ACCESS-LOGGING; every other rule still reads it.
    cloudfront_logs = _cloudfront_log_buckets(model)
    for bucket in model.resources(BUCKET):
        rules = as_list(bucket.prop("OwnershipControls", "Rules"))
        enforced = any(isinstance(r, Mapping) and r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules)
        if not enforced and bucket.key in cloudfront_logs:
            yield Check(bucket, True, "receives CloudFront standard (legacy) logs, which need ACLs")
            continue
        yield Check(bucket, enforced, "" if enforced else "ACLs are not disabled")


def _cloudfront_log_buckets(model: TemplateModel) -> set[tuple[str, str]]:
    """Buckets a distribution's DistributionConfig.Logging.Bucket names: by `Fn::GetAtt` (DomainName,
    RegionalDomainName) or `Ref`, or as the literal `<BucketName>.s3...amazonaws.com` of a bucket here."""
    named = {
        name: b.key for b in model.resources(BUCKET) if isinstance(name := b.reference("BucketName"), str) and name
    }
    found = set()
    for distribution in model.resources("AWS::CloudFront::Distribution"):
        value = distribution.reference("DistributionConfig", "Logging", "Bucket")
        target = model.target(distribution.stack, value)
        if target is not None and target.type == BUCKET:
            found.add(target.key)
        elif isinstance(value, str) and (key := named.get(value.split(".s3", 1)[0])) is not None:
            found.add(key)
    return found
