"""The regional AWS WAF web ACL in front of public web applications, with its request log.

Rules, in evaluation order: (when configured) a block on card numbers in the request line and named
headers, the Amazon IP reputation list, a rate limit per client IP,
a request-body size limit, then the AWS managed rule groups for common web
exploits (OWASP-style), known bad inputs, SQL injection and Linux exploits.
Anything no rule blocks is allowed on to the load balancer's listener.

The managed groups run at their default version, so the signatures AWS publishes
reach the ACL without a deploy; pinning a version would need its own process to
move it forward. Client IP is the connection's source address: put a CDN in front
and the rate rule must switch to the forwarded-IP header, or it limits the CDN.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup

# AWS WAF accepts these rate-limit bounds and evaluation windows (seconds).
RATE_LIMIT_RANGE = (10, 2_000_000_000)
RATE_WINDOWS_SECONDS = (60, 120, 300, 600)
# Behind an ALB, AWS WAF sees only the first 8 KB of a body; a larger limit could not be enforced.
ALB_BODY_INSPECTION_LIMIT = 8192
# AWS WAF delivers to CloudWatch Logs only into groups whose name starts with this.
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"
# Credentials and session tokens never reach the WAF log (PCI DSS 3.3, 8.3.2, 10.3); nor does the Referer,
# which carries the URL of the page a request came from, query string included.
REDACTED_HEADERS = ("authorization", "cookie", "referer")
# The request-line parts a client may put a card number in (a PAN in a URL): redacted from the WAF log so
# the log store holds no PAN from them (PCI DSS 3.2.1, 3.4, 10.3). AWS WAF logs the URI and the query string
# ("args") of every request and can redact only UriPath, QueryString, SingleHeader and Method
# (AWS WAF API Reference, "LoggingConfiguration": RedactedFields; CloudFormation
# "AWS::WAFv2::LoggingConfiguration FieldToMatch"). Log redaction does not reach sampled requests, which
# AWS WAF keeps for three hours (AWS WAF API Reference, "VisibilityConfig": SampledRequestsEnabled,
# and "GetSampledRequests": any time range in the previous three hours).
REDACTED_REQUEST_LINE = ("UriPath", "QueryString")
# Web ACL data protection (AWS WAF Developer Guide, "Data protection"; API Reference "DataProtectionConfig"):
# configured on the web ACL it "alters the data that's available for any other data collection activity,
# including your AWS WAF logging destinations, web ACL request sampling, and Amazon Security Lake", so it
# reaches the sampled requests the log redaction above does not. Every field type it offers is substituted
# ("REDACTED"), never hashed: the hash is SHA-256 over the account number and the content (same page), no
# secret key, so a PAN's hash falls to a search of the card-number space (not a 3.5.1 keyed hash). A field type with
# no FieldKeys protects all of its keys (API Reference "FieldToProtect"), so SINGLE_HEADER covers every header,
# a custom one a client puts a card number in included (QSA reader r20b). Rule-match and rate-based details
# stay protected (the Exclude flags false). UriPath is not among the field types
# (SINGLE_HEADER | SINGLE_COOKIE | SINGLE_QUERY_ARGUMENT | QUERY_STRING | BODY): the log redacts it
# (REDACTED_REQUEST_LINE); sampled requests still show it.
DATA_PROTECTED_FIELDS = ("SINGLE_HEADER", "SINGLE_COOKIE", "QUERY_STRING", "BODY")
_SNAKE = {"UriPath": "uri_path", "QueryString": "query_string"}

# (rule name, AWS managed rule group), evaluated after the IP reputation, rate and size rules.
MANAGED_RULE_GROUPS = (
    ("AwsCommonRuleSet", "AWSManagedRulesCommonRuleSet"),
    ("AwsKnownBadInputs", "AWSManagedRulesKnownBadInputsRuleSet"),
    ("AwsSqlInjection", "AWSManagedRulesSQLiRuleSet"),
    ("AwsLinuxExploits", "AWSManagedRulesLinuxRuleSet"),
)
IP_REPUTATION_GROUP = ("AwsIpReputation", "AWSManagedRulesAmazonIpReputationList")

# A card number as people type it: 13 digits or more (a longer run holds a 13-digit one), each pair
# of digits separated by at most two of space, '-', '.', '_', '/', '+'. Only constructs AWS WAF
# accepts ("Supported regular expression syntax in AWS WAF": no capturing groups, small quantifiers).
# lambda/card_vault/vault.py CARD_NUMBER_RUN is the same pattern: no token the vault issues matches it.
CARD_NUMBER_REGEX = r"[0-9](?:[ ._/+-]{0,2}[0-9]){12}"
# Decoded before matching, so `%20`-, `%2D`- or `&#45;`-separated digits are seen as the card number they spell.
CARD_NUMBER_TRANSFORMS = ("URL_DECODE", "HTML_ENTITY_DECODE")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_HEADER = re.compile(r"^[a-z0-9-]{1,64}$")
_PATH = re.compile(r"^/[A-Za-z0-9/_.~-]{0,200}$")

# The Core rule set's own body-size rule and the label it adds to what it matches
# (AWS WAF Developer Guide, "Baseline rule groups" > "Core rule set (CRS) managed rule group").
CORE_RULE_SET = "AWSManagedRulesCommonRuleSet"
CRS_BODY_SIZE_RULE = "SizeRestrictions_BODY"
CRS_BODY_SIZE_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
# The most a Content-Length header may be for a large-body path: the ALB's own limit for Lambda targets is 1 MB.
MAX_LARGE_BODY_BYTES = 1_048_576


@dataclass(frozen=True)
class LargeBodyPath:
    """One URI path (exactly) whose bodies may exceed what AWS WAF inspects behind an ALB, up to `max_bytes`.

    AWS WAF sees only the first 8 KB of a body at an ALB ("Body inspection size limits"), so no body
    rule can measure a larger one: with oversize handling MATCH a size rule blocks every body over
    8 KB, with CONTINUE it compares only the inspected 8 KB and never fires. The limit for such a
    path is therefore enforced on the `Content-Length` header, which the load balancer frames the
    body by: a request to the path without one, or with a larger one, is blocked. The Core rule
    set's SizeRestrictions_BODY is counted, and its label blocks every other path, as the AWS WAF
    Developer Guide's "Label match rule statement" examples do. The bytes past the first 8 KB are
    not inspected by any rule; the application behind the path must validate them itself.
    """

    path: str
    max_bytes: int


@dataclass(frozen=True)
class CardNumberBlock:
    """Block, before any other rule, a request to a path under `path_prefix` carrying a card number
    (`CARD_NUMBER_REGEX`, after URL and HTML-entity decoding) in its URI path, its query string or
    one of `headers` (lower-case names).

    The WAF log records a request's URI, query string and headers, and the ALB's access log its
    request line ("Log fields for protection pack (web ACL) traffic"; "Access logs for your
    Application Load Balancer"); the application's masker never sees either. A blocked request
    still reaches both logs (as a 403): the block stops clients from building on the mistake, and
    the WAF log group's data protection policy masks what it records. Body fields are not inspected
    here: a card number belongs in the body, which neither log records.
    """

    path_prefix: str
    headers: tuple[str, ...]


def at_most_regex(limit: int) -> str:
    """An anchored regular expression matching the decimal numbers 0..`limit` (no sign, no leading `+`)."""
    digits = str(limit)
    choices = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for index, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - index - 1
            lower = "0" if digit == "1" else f"0-{int(digit) - 1}"
            choices.append(digits[:index] + f"[{lower}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    choices.append(digits)
    return "^(?:" + "|".join(choices) + ")$"


def _exact_path(path: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="EXACTLY",
            search_string=path,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
        )
    )


def _any_of(statements: list[wafv2.CfnWebACL.StatementProperty]) -> wafv2.CfnWebACL.StatementProperty:
    if len(statements) == 1:
        return statements[0]
    return wafv2.CfnWebACL.StatementProperty(or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=statements))


def _not(statement: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=statement))


def _all_of(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=list(statements))
    )


def _visibility(metric_name: str, *, sampled: bool = True) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    """Every rule publishes CloudWatch metrics (PCI DSS 10.2, 10.4) and, unless `sampled` is false, keeps
    sampled requests."""
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=sampled,
    )


# The rule that matches a card number in the URI path, the query string or a configured header keeps no sampled
# requests: every request it samples carries a PAN, and sampling "doesn't provide a field redaction option"
# (AWS WAF API Reference, "VisibilityConfig": SampledRequestsEnabled), while data protection has no URI path
# field type (DATA_PROTECTED_FIELDS), so the sample would hold the URI path's PAN in clear for three hours
# (QSA reader r20d). Its CloudWatch metric still counts what it blocks; the WAF log records each request with the
# URI path and query string redacted (REDACTED_REQUEST_LINE). The other rules still sample: a request they match
# with a card number in its path outside the blocked prefix would show it there.
CARD_NUMBER_RULE_SAMPLED = False


def _managed_rule(
    priority: int, rule_name: str, group_name: str, *, count: Sequence[str] = ()
) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=rule_name,
        priority=priority,
        # The group's own actions (mostly Block) apply; only the rules in `count` are downgraded to
        # Count, each re-blocked by a label match rule after the group.
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=group_name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in count
                ]
                or None,
            )
        ),
        visibility_config=_visibility(rule_name),
    )


def _card_number_rule(block: CardNumberBlock, pattern_set_arn: str) -> wafv2.CfnWebACL.RuleProperty:
    transforms = [
        wafv2.CfnWebACL.TextTransformationProperty(priority=index, type=kind)
        for index, kind in enumerate(CARD_NUMBER_TRANSFORMS)
    ]

    def carries(field: wafv2.CfnWebACL.FieldToMatchProperty) -> wafv2.CfnWebACL.StatementProperty:
        return wafv2.CfnWebACL.StatementProperty(
            regex_pattern_set_reference_statement=wafv2.CfnWebACL.RegexPatternSetReferenceStatementProperty(
                arn=pattern_set_arn, field_to_match=field, text_transformations=transforms
            )
        )

    fields = [
        wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
        wafv2.CfnWebACL.FieldToMatchProperty(query_string={}),
        *(wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": header}) for header in block.headers),
    ]
    under_prefix = wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="STARTS_WITH",
            search_string=block.path_prefix,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
        )
    )
    return wafv2.CfnWebACL.RuleProperty(
        name="CardNumberInRequestLine",
        priority=0,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=_all_of(under_prefix, _any_of([carries(field) for field in fields])),
        visibility_config=_visibility("CardNumberInRequestLine", sampled=CARD_NUMBER_RULE_SAMPLED),
    )


class RegionalWebAcl(Construct):
    """AWS WAF web ACL for a regional resource such as an ALB (PCI DSS v4.0.1 6.4.2, 1.4.1, 10.2.1).

    6.4.2 asks for an automated technical solution that detects and prevents web-based
    attacks in front of public-facing web applications; this ACL is that solution for
    the landing zone's load balancers. Every request it evaluates is logged to a
    KMS-encrypted CloudWatch Logs group kept at least a year (10.2.1, 10.3.2, 10.5.1),
    with the `authorization`, `cookie` and `referer` headers and the URI path and query
    string redacted (`REDACTED_HEADERS`, `REDACTED_REQUEST_LINE`), so the log holds no
    credentials, session tokens or a card number a client put in a URL. Other request
    headers are logged as sent; the log group's CreditCardNumber data-protection policy
    masks a card number in them when the log is read (a reader with `logs:Unmask` sees it).

    Associate it with a resource through `ProtectedAlb`, which requires one.
    """

    web_acl: wafv2.CfnWebACL
    log_group: EncryptedLogGroup
    log_delivery_policy: logs.ResourcePolicy
    logging_configuration: wafv2.CfnLoggingConfiguration

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        rate_limit: int,
        rate_window_seconds: int,
        max_body_bytes: int,
        log_key: kms.IKey,
        log_retention_days: int,
        large_body_paths: Sequence[LargeBodyPath] = (),
        card_number_block: CardNumberBlock | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _NAME.match(name):
            raise ValueError(f"name={name!r}: use 1-100 letters, digits, '-' or '_' (it names the ACL and its log)")
        low, high = RATE_LIMIT_RANGE
        if not low <= rate_limit <= high:
            raise ValueError(f"rate_limit={rate_limit}: AWS WAF accepts {low}..{high} requests per window")
        if rate_window_seconds not in RATE_WINDOWS_SECONDS:
            raise ValueError(f"rate_window_seconds={rate_window_seconds}: must be one of {RATE_WINDOWS_SECONDS}")
        if not 1 <= max_body_bytes <= ALB_BODY_INSPECTION_LIMIT:
            raise ValueError(
                f"max_body_bytes={max_body_bytes}: must be 1..{ALB_BODY_INSPECTION_LIMIT}, the most of a body"
                " AWS WAF inspects behind an ALB"
            )
        for index, large in enumerate(large_body_paths):
            if not _PATH.match(large.path):
                raise ValueError(f"large_body_paths[{index}].path={large.path!r}: an absolute URI path, no query")
            if not max_body_bytes < large.max_bytes <= MAX_LARGE_BODY_BYTES:
                raise ValueError(
                    f"large_body_paths[{index}].max_bytes={large.max_bytes}: must be above max_body_bytes"
                    f" ({max_body_bytes}) and at most {MAX_LARGE_BODY_BYTES} (an ALB's limit for Lambda targets)"
                )
        if len({large.path for large in large_body_paths}) != len(large_body_paths):
            raise ValueError("large_body_paths: each path once")
        self.large_body_paths = tuple(large_body_paths)
        self.card_number_patterns: wafv2.CfnRegexPatternSet | None = None
        card_rule: wafv2.CfnWebACL.RuleProperty | None = None
        if card_number_block is not None:
            if not _PATH.match(card_number_block.path_prefix):
                raise ValueError(
                    f"card_number_block.path_prefix={card_number_block.path_prefix!r}: an absolute URI path, no query"
                )
            for index, header in enumerate(card_number_block.headers):
                if not _HEADER.match(header):
                    raise ValueError(f"card_number_block.headers[{index}]={header!r}: a lower-case header name")
            self.card_number_patterns = wafv2.CfnRegexPatternSet(
                self,
                "CardNumberPatterns",
                # No fixed name ("AWS::WAFv2::RegexPatternSet": Name not required): CloudFormation generates one,
                # so preflight has no name to look up.
                description="A 13+ digit run with common separators: a card number where none belongs",
                scope="REGIONAL",
                regular_expression_list=[CARD_NUMBER_REGEX],
            )
            card_rule = _card_number_rule(card_number_block, self.card_number_patterns.attr_arn)

        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            description="Blocks known-bad sources, floods, oversized bodies and common web exploits",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(name),
            rules=self._rules(rate_limit, rate_window_seconds, max_body_bytes, self.large_body_paths, card_rule),
            data_protection_config=wafv2.CfnWebACL.DataProtectionConfigProperty(
                data_protections=[
                    wafv2.CfnWebACL.DataProtectProperty(
                        action="SUBSTITUTION",
                        field=wafv2.CfnWebACL.FieldToProtectProperty(field_type=field_type),
                        exclude_rule_match_details=False,
                        exclude_rate_based_details=False,
                    )
                    for field_type in DATA_PROTECTED_FIELDS
                ]
            ),
        )
        self.log_group = EncryptedLogGroup(
            self,
            "Logs",
            encryption_key=log_key,
            retention_days=log_retention_days,
            log_group_name=f"{WAF_LOG_GROUP_PREFIX}{name}",
            # The WAF log records URIs, query strings and headers verbatim: CloudWatch Logs masks card numbers.
            mask_card_numbers=True,
        )
        self._log_requests(f"{WAF_LOG_GROUP_PREFIX}{name}")

    @property
    def web_acl_arn(self) -> str:
        return self.web_acl.attr_arn

    @staticmethod
    def _rules(
        rate_limit: int,
        rate_window_seconds: int,
        max_body_bytes: int,
        large_body_paths: tuple[LargeBodyPath, ...],
        card_rule: wafv2.CfnWebACL.RuleProperty | None = None,
    ) -> list[wafv2.CfnWebACL.RuleProperty]:
        # The card-number block is evaluated first (priority 0): nothing after it may allow such a request.
        first = [card_rule] if card_rule is not None else []
        block = wafv2.CfnWebACL.RuleActionProperty(block={})
        rate_rule = wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerClientIp",
            priority=len(first) + 1,
            action=block,
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=rate_limit,
                    evaluation_window_sec=rate_window_seconds,
                )
            ),
            visibility_config=_visibility("RateLimitPerClientIp"),
        )
        too_large = wafv2.CfnWebACL.StatementProperty(
            size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                comparison_operator="GT",
                size=max_body_bytes,
                # A body beyond what WAF can inspect counts as too large: it cannot be checked.
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                    body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")
                ),
                text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
            )
        )
        large_paths = _any_of([_exact_path(large.path) for large in large_body_paths]) if large_body_paths else None
        body_size_rule = wafv2.CfnWebACL.RuleProperty(
            name="MaxBodySize",
            priority=len(first) + 2,
            action=block,
            statement=too_large if large_paths is None else _all_of(too_large, _not(large_paths)),
            visibility_config=_visibility("MaxBodySize"),
        )
        rules = [*first, _managed_rule(len(first), *IP_REPUTATION_GROUP), rate_rule, body_size_rule]
        for large in large_body_paths:
            # Content-Length, not the body: WAF cannot measure a body past 8 KB at an ALB (see LargeBodyPath).
            declared_at_most = wafv2.CfnWebACL.StatementProperty(
                regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": "content-length"}),
                    regex_string=at_most_regex(large.max_bytes),
                    text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
                )
            )
            rule_name = "MaxBodySize" + re.sub(r"[^A-Za-z0-9_-]", "-", large.path)[:80]
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=rule_name,
                    priority=len(rules),
                    action=block,
                    statement=_all_of(_exact_path(large.path), _not(declared_at_most)),
                    visibility_config=_visibility(rule_name),
                )
            )
        for rule_name, group in MANAGED_RULE_GROUPS:
            counted = [CRS_BODY_SIZE_RULE] if large_paths is not None and group == CORE_RULE_SET else []
            rules.append(_managed_rule(len(rules), rule_name, group, count=counted))
            if counted and large_paths is not None:
                # "Label match rule statement": the counted rule's label, blocked everywhere but the large-body paths.
                label = wafv2.CfnWebACL.StatementProperty(
                    label_match_statement=wafv2.CfnWebACL.LabelMatchStatementProperty(
                        scope="LABEL", key=CRS_BODY_SIZE_LABEL
                    )
                )
                rules.append(
                    wafv2.CfnWebACL.RuleProperty(
                        name="CoreRuleSetBodySize",
                        priority=len(rules),
                        action=block,
                        statement=_all_of(label, _not(large_paths)),
                        visibility_config=_visibility("CoreRuleSetBodySize"),
                    )
                )
        return rules

    def _log_requests(self, log_group_name: str) -> None:
        """WAF log delivery, allowed explicitly for this one group rather than by WAF's own broad policy."""
        stack = Stack.of(self)
        # WAF wants the group ARN without the trailing ':*' that CloudFormation's Arn attribute carries.
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.log_delivery_policy = logs.ResourcePolicy(
            self,
            "LogDeliveryPolicy",
            resource_policy_name=f"{log_group_name}-delivery",
            policy_statements=[
                # "Enable logging from AWS services" (CloudWatch Logs, logs sent to CloudWatch Logs):
                # the delivery service sends aws:SourceAccount and aws:SourceArn.
                iam.PolicyStatement(
                    sid="AllowWafLogDeliveryToThisGroupOnly",
                    principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group_arn}:log-stream:*"],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"},
                    },
                )
            ],
        )
        self.logging_configuration = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                *(
                    wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                    for header in REDACTED_HEADERS
                ),
                # One field per entry: FieldToMatch names exactly one part of the request.
                *(
                    wafv2.CfnLoggingConfiguration.FieldToMatchProperty(**{_SNAKE[part]: {}})
                    for part in REDACTED_REQUEST_LINE
                ),
            ],
        )
        self.logging_configuration.node.add_dependency(self.log_group, self.log_delivery_policy)
