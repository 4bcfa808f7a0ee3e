"""CloudTrail: what is recorded, and how the record is protected (PCI DSS v4.0.1 10.2, 10.3)."""

import re
from collections.abc import Iterator, Mapping

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_false, is_true

TRAIL = "AWS::CloudTrail::Trail"


@rule(
    id="PCI4-TRAIL-LOGGING",
    requirements=("10.2.1",),
    description="Every CloudTrail trail is logging.",
    fix="Set IsLogging: true on the AWS::CloudTrail::Trail; a stopped trail records nothing.",
    acknowledgeable=False,
)
def trail_logging(model: TemplateModel) -> Iterator[Check]:
    for trail in model.resources(TRAIL):
        logging = is_true(trail.prop("IsLogging"))
        yield Check(trail, logging, "" if logging else "IsLogging is not true")


@rule(
    id="PCI4-TRAIL-MULTI-REGION",
    requirements=("10.2.1",),
    related=("10.2.2",),
    description="Every trail records all regions and global service events (IAM, STS, CloudFront).",
    fix="Set IsMultiRegionTrail: true and leave IncludeGlobalServiceEvents on.",
)
def trail_multi_region(model: TemplateModel) -> Iterator[Check]:
    for trail in model.resources(TRAIL):
        problems = []
        if not is_true(trail.prop("IsMultiRegionTrail")):
            problems.append("IsMultiRegionTrail is not true")
        if is_false(trail.prop("IncludeGlobalServiceEvents")):
            problems.append("IncludeGlobalServiceEvents is false")
        yield Check(trail, not problems, "; ".join(problems))


@rule(
    id="PCI4-TRAIL-VALIDATION",
    requirements=("10.3.2", "10.3.4"),
    description="Every trail writes signed digest files so log tampering is detectable.",
    fix="Set EnableLogFileValidation: true (CDK: enable_file_validation=True).",
)
def trail_validation(model: TemplateModel) -> Iterator[Check]:
    for trail in model.resources(TRAIL):
        validated = is_true(trail.prop("EnableLogFileValidation"))
        yield Check(trail, validated, "" if validated else "EnableLogFileValidation is not true")


@rule(
    id="PCI4-TRAIL-KMS",
    requirements=("10.3.2",),
    related=("3.5.1",),
    description="Every trail encrypts its log files with a customer-managed KMS key.",
    fix="Set KMSKeyId on the AWS::CloudTrail::Trail (CDK: encryption_key=...).",
)
def trail_kms(model: TemplateModel) -> Iterator[Check]:
    for trail in model.resources(TRAIL):
        encrypted = bool(trail.prop("KMSKeyId"))
        yield Check(trail, encrypted, "" if encrypted else "no KMSKeyId")


@rule(
    id="PCI4-TRAIL-CLOUDWATCH",
    requirements=("10.3.3", "10.4.1.1"),
    description="Every trail also delivers to a CloudWatch Logs group, where metric filters and alarms read it.",
    fix="Set CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn (CDK: send_to_cloud_watch_logs=True).",
)
def trail_cloudwatch(model: TemplateModel) -> Iterator[Check]:
    for trail in model.resources(TRAIL):
        delivered = bool(trail.prop("CloudWatchLogsLogGroupArn")) and bool(trail.prop("CloudWatchLogsRoleArn"))
        yield Check(trail, delivered, "" if delivered else "no CloudWatch Logs delivery")


@rule(
    id="PCI4-TRAIL-ARCHIVE-OBJECT-LOCK",
    requirements=("10.3.3", "10.5.1"),
    description="The bucket a trail writes to is object-locked with a default retention (write once, read many).",
    fix="Create the trail's bucket with ObjectLockEnabled: true and an ObjectLockConfiguration default retention.",
)
def trail_archive_object_lock(model: TemplateModel) -> Iterator[Check]:
    for trail in model.resources(TRAIL):
        bucket = model.target(trail.stack, trail.prop("S3BucketName"))
        if bucket is None:
            yield Check(trail, False, "S3BucketName is not a bucket of these templates: its object lock is unknown")
            continue
        locked = is_true(bucket.prop("ObjectLockEnabled")) and bool(
            bucket.prop("ObjectLockConfiguration", "Rule", "DefaultRetention")
        )
        yield Check(bucket, locked, "" if locked else "no object lock with a default retention")


def _selector_fields(selector: object) -> dict[str, Mapping[str, object]]:
    fields = selector.get("FieldSelectors") if isinstance(selector, Mapping) else None
    return {str(f.get("Field")): f for f in as_list(fields) if isinstance(f, Mapping)}


def _data_selectors(trail: Resource, resource_type: str) -> list[dict[str, Mapping[str, object]]]:
    """The advanced event selectors of a trail that record data events on `resource_type`, read and write."""
    found = []
    for selector in as_list(trail.prop("AdvancedEventSelectors")):
        fields = _selector_fields(selector)
        category = fields.get("eventCategory", {}).get("Equals")
        types = fields.get("resources.type", {}).get("Equals")
        if "Data" in as_list(category) and resource_type in as_list(types) and "readOnly" not in fields:
            found.append(fields)
    for selector in as_list(trail.prop("EventSelectors")):  # basic selectors
        if isinstance(selector, Mapping) and selector.get("ReadWriteType", "All") == "All":
            data = [d for d in as_list(selector.get("DataResources")) if isinstance(d, Mapping)]
            values = [v for d in data if d.get("Type") == resource_type for v in as_list(d.get("Values"))]
            if any(d.get("Type") == resource_type for d in data):
                found.append({BASIC: {"Values": values}})
    return found


BASIC = "(basic selector)"
# The prefixes that select every bucket's objects: "arn:aws:s3" (basic selectors, "Logging data events",
# AWS CloudTrail User Guide) and "arn:aws:s3:::" (AWS::CloudTrail::Trail DataResource, CloudFormation
# User Guide); any other value, an Equals or StartsWith on resources.ARN, or a filter on another field
# (eventName, eventSource, userIdentity.arn...) records only some buckets or some events.
# (in any partition: arn:aws-us-gov:s3, arn:aws-cn:s3:::).
ALL_BUCKETS = re.compile(r"arn:aws(-[a-z]+)*:s3(:::)?")
_S3_FIELDS = {"eventCategory", "resources.type", "resources.ARN"}


def _every_bucket(fields: Mapping[str, Mapping[str, object]]) -> bool:
    """Whether one S3 data-event selector records every event on every bucket's objects (bucket
    exclusions by resources.ARN NotStartsWith are judged apart)."""
    if BASIC in fields:
        return any(_all_buckets(v) for v in as_list(fields[BASIC].get("Values")))
    if set(fields) - _S3_FIELDS:
        return False
    arn = fields.get("resources.ARN", {})
    if set(arn) - {"Field", "NotStartsWith", "StartsWith"}:
        return False
    starts = as_list(arn.get("StartsWith"))
    return all(_all_buckets(v) for v in starts)


def _all_buckets(value: object) -> bool:
    return isinstance(value, str) and ALL_BUCKETS.fullmatch(value) is not None


@rule(
    id="PCI4-TRAIL-DATA-EVENTS",
    requirements=("10.2.1", "10.2.1.1"),
    related=("10.2.1.7",),
    description=(
        "Every trail records S3 object and Lambda invoke data events, read and write, excluding no bucket but its own."
    ),
    fix=(
        "Add advanced event selectors for AWS::S3::Object and AWS::Lambda::Function data events with no "
        "readOnly filter."
    ),
)
def trail_data_events(model: TemplateModel) -> Iterator[Check]:
    for trail in model.resources(TRAIL):
        problems = []
        s3 = _data_selectors(trail, "AWS::S3::Object")
        if not s3:
            problems.append("no S3 object data events (read and write)")
        elif not any(_every_bucket(fields) for fields in s3):
            problems.append("S3 data events limited to some buckets or events (an ARN, eventName or other filter)")
        if not _data_selectors(trail, "AWS::Lambda::Function"):
            problems.append("no Lambda data events (read and write)")
        own = model.target(trail.stack, trail.prop("S3BucketName"))
        for fields in s3:
            if BASIC in fields:
                continue
            excluded = model.references(trail.stack, fields.get("resources.ARN", {}).get("NotStartsWith"))
            others = [b.logical_id for b in excluded if b.type == "AWS::S3::Bucket" and b != own]
            if others:
                problems.append(f"S3 data events exclude buckets {others}")
        yield Check(trail, not problems, "; ".join(problems))


# Management events (pack 1.15.0, issue 21). The defaults the rule relies on, as the pages state them:
# "By default, trails created without specific event selectors will be configured to log all read and write
# management events" (AWS::CloudTrail::Trail EventSelector, CloudFormation Template Reference); in a basic
# selector IncludeManagementEvents defaults to true and ReadWriteType to All (EventSelector, AWS CloudTrail API
# Reference); ExcludeManagementEventSources "by default ... is empty, and KMS and Amazon RDS Data API events are
# logged", and may hold kms.amazonaws.com or rdsdata.amazonaws.com (same page). In an advanced selector,
# eventCategory Equals Management selects management events, readOnly left out logs both read and write events,
# and eventSource may be NotEquals kms.amazonaws.com or rdsdata.amazonaws.com (AdvancedFieldSelector, AWS
# CloudTrail API Reference; AWS::CloudTrail::Trail AdvancedEventSelector). A trail takes either kind, not both.
# AWS Config cloudtrail-security-trail-enabled asks at least one trail to record "events for reads and writes",
# "management events" and to "not exclude any management events"; multi-region-cloudtrail-enabled fails where
# ExcludeManagementEventSources is not empty (AWS Config Developer Guide, each rule's page).
READ, WRITE = "read", "write"
_READ_WRITE = {"All": {READ, WRITE}, "ReadOnly": {READ}, "WriteOnly": {WRITE}}


def _advanced_management(selectors: list[object]) -> tuple[set[str], list[str]]:
    """(the read/write kinds of management events recorded from every source, the exclusions found)."""
    kinds: set[str] = set()
    excluded: list[str] = []
    for selector in selectors:
        fields = _selector_fields(selector)
        if "Management" not in as_list(fields.get("eventCategory", {}).get("Equals")):
            continue
        source = fields.get("eventSource")
        if source is not None:
            excluded += [str(v) for k, v in source.items() if k != "Field" for v in as_list(v)]
            continue
        read_only = fields.get("readOnly")
        if read_only is None:
            kinds |= {READ, WRITE}
        elif set(read_only) == {"Field", "Equals"}:
            values = {str(v).lower() for v in as_list(read_only["Equals"])}
            kinds |= {READ} if values == {"true"} else {WRITE} if values == {"false"} else set()
    return kinds, excluded


def _basic_management(selectors: list[object]) -> tuple[set[str], list[str]]:
    kinds: set[str] = set()
    excluded: list[str] = []
    for selector in selectors:
        if not isinstance(selector, Mapping) or is_false(selector.get("IncludeManagementEvents", True)):
            continue
        sources = [str(s) for s in as_list(selector.get("ExcludeManagementEventSources"))]
        if sources:
            excluded += sources
            continue
        kinds |= _READ_WRITE.get(str(selector.get("ReadWriteType", "All")), set())
    return kinds, excluded


def management_gaps(trail: Resource) -> list[str]:
    """Why `trail` does not record every management event, read and write, from every event source; [] when it
    does (a trail with no event selector does, by CloudTrail's default). Any exclusion of a source in a selector
    that records management events is a gap, even where another selector records that source's events, as AWS
    Config reads it (multi-region-cloudtrail-enabled: NON_COMPLIANT "if the ExcludeManagementEventSources field
    is not empty")."""
    advanced = as_list(trail.prop("AdvancedEventSelectors"))
    basic = as_list(trail.prop("EventSelectors"))
    if not advanced and not basic:
        return []
    kinds, excluded = _advanced_management(advanced) if advanced else _basic_management(basic)
    problems = []
    if excluded:
        problems.append(f"management events exclude event sources {sorted(set(excluded))}")
    if kinds != {READ, WRITE}:
        recorded = " and ".join(sorted(kinds)) + " only" if kinds else "none"
        problems.append(f"management events of every source recorded: {recorded} (read and write needed)")
    return problems


@rule(
    id="PCI4-TRAIL-MANAGEMENT-EVENTS",
    requirements=("10.2.1", "10.2.1.7"),
    related=("10.2.1.1",),
    description=(
        "At least one multi-region trail of the account records every management event, read and write, "
        "excluding neither KMS nor RDS Data API events."
    ),
    fix=(
        "Leave the trail's event selectors out (CloudTrail then records every management event), or add an "
        "advanced event selector with eventCategory Equals Management and no readOnly or eventSource field "
        "(basic: IncludeManagementEvents true, ReadWriteType All, no ExcludeManagementEventSources)."
    ),
)
def trail_management_events(model: TemplateModel) -> Iterator[Check]:
    trails = list(model.resources(TRAIL))
    gaps = {t.key: management_gaps(t) for t in trails}
    account = {t.key: model.stack_of(t).account for t in trails}
    for trail in trails:
        recording = [
            t.logical_id
            for t in trails
            if account[t.key] == account[trail.key] and is_true(t.prop("IsMultiRegionTrail")) and not gaps[t.key]
        ]
        if recording:
            by = "" if trail.logical_id in recording else f"recorded by multi-region trail {recording[0]}"
            yield Check(trail, True, by)
            continue
        problems = gaps[trail.key] or ["IsMultiRegionTrail is not true"]
        yield Check(trail, False, "no multi-region trail of the account records them: " + "; ".join(problems))
