"""Rules from the review of AWS's PCI DSS v4.0 conformance pack (issue 21): the pack's AWS Config rules whose
property a template shows, that no Security Hub control of the standard covers and no earlier rule checks.

Each rule names the AWS Config managed rule it brings to synth time and the AWS pages it rests on; the
decision for every other rule of that pack is `pci_rules.crosswalk.AWS_PACK_REVIEWED`.
"""

from collections.abc import Iterator, Mapping

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_true


@rule(
    id="PCI4-WAF-RULE-GROUP-CONTENT",
    requirements=("6.4.2",),
    description="Every AWS WAF (v2) rule group has rules and sends its CloudWatch metrics.",
    fix="Give the AWS::WAFv2::RuleGroup at least one rule and VisibilityConfig CloudWatchMetricsEnabled true.",
)
def waf_rule_group_content(model: TemplateModel) -> Iterator[Check]:
    # wafv2-rulegroup-not-empty ("fails a rule group with no rule") and wafv2-rulegroup-logging-enabled
    # ("NON_COMPLIANT if VisibilityConfig.CloudWatchMetricsEnabled is false"), AWS Config Developer Guide;
    # "AWS::WAFv2::RuleGroup VisibilityConfig", CloudFormation Template Reference.
    for group in model.resources("AWS::WAFv2::RuleGroup"):
        problems = [] if as_list(group.prop("Rules")) else ["the rule group has no rule"]
        if not is_true(group.prop("VisibilityConfig", "CloudWatchMetricsEnabled")):
            problems.append("VisibilityConfig CloudWatchMetricsEnabled is not true")
        yield Check(group, not problems, "; ".join(problems))


# What holds the content of an AWS WAF Classic (global) resource: a web ACL its rules, a rule its
# predicates ("AWS::WAF::WebACL" Rules and "AWS::WAF::Rule" Predicates, CloudFormation Template Reference).
CLASSIC_CONTENT = {"AWS::WAF::WebACL": "Rules", "AWS::WAF::Rule": "Predicates"}


@rule(
    id="PCI4-WAF-CLASSIC-NOT-EMPTY",
    requirements=("6.4.2",),
    description="Every AWS WAF Classic (global) web ACL has rules and every such rule has conditions.",
    fix="Add Rules to the AWS::WAF::WebACL and Predicates to the AWS::WAF::Rule, or move to AWS WAF (v2).",
)
def waf_classic_not_empty(model: TemplateModel) -> Iterator[Check]:
    # waf-global-webacl-not-empty and waf-global-rule-not-empty, AWS Config Developer Guide.
    for resource in model.resources(*CLASSIC_CONTENT):
        key = CLASSIC_CONTENT[resource.type]
        empty = not as_list(resource.prop(key))
        yield Check(resource, not empty, f"no {key}" if empty else "")


ACMPCA_ACTIVATION = "AWS::ACMPCA::CertificateAuthorityActivation"


@rule(
    id="PCI4-ACMPCA-NO-ROOT-CA",
    requirements=("4.2.1",),
    description="No AWS Private CA root certificate authority in the templates is left enabled: its activation"
    " sets Status DISABLED.",
    fix=(
        "Declare only SUBORDINATE CAs, or give the ROOT CA's AWS::ACMPCA::CertificateAuthorityActivation "
        "Status DISABLED once it has signed them (keep the root CA outside the workload's templates otherwise)."
    ),
)
def acmpca_no_root_ca(model: TemplateModel) -> Iterator[Check]:
    # acm-pca-root-ca-disabled fails a root CA whose status is not DISABLED (AWS Config Developer Guide).
    # AWS::ACMPCA::CertificateAuthority has Type ROOT|SUBORDINATE and no status; the CA's
    # AWS::ACMPCA::CertificateAuthorityActivation installs its certificate and sets Status ACTIVE|DISABLED
    # (default ACTIVE; "AWS::ACMPCA::CertificateAuthorityActivation", CloudFormation Template Reference). A ROOT
    # CA passes when an activation of it (CertificateAuthorityArn its Ref or Arn) sets DISABLED; without one it
    # is PENDING_CERTIFICATE or ACTIVE.
    for authority in model.resources("AWS::ACMPCA::CertificateAuthority"):
        root = str(authority.prop("Type", default="")).upper() == "ROOT"
        activations = model.attached(authority, ACMPCA_ACTIVATION, "CertificateAuthorityArn")
        disabled = bool(activations) and all(
            str(a.prop("Status", default="ACTIVE")).upper() == "DISABLED" for a in activations
        )
        problem = ""
        if root and not disabled:
            problem = "a ROOT certificate authority whose activation does not set Status DISABLED"
        yield Check(authority, not problem, problem)


def _listener_problem(model: TemplateModel, stack: str, listener: Mapping[str, object]) -> str | None:
    if str(listener.get("Protocol", "")).upper() not in ("HTTPS", "SSL"):
        return None
    certificate = listener.get("SSLCertificateId")
    target = model.target(stack, certificate)
    if target is not None:
        ok = target.type == "AWS::CertificateManager::Certificate"
        return None if ok else f"port {listener.get('LoadBalancerPort')}: certificate is a {target.type}"
    if isinstance(certificate, str) and ":acm:" in certificate:
        return None
    return f"port {listener.get('LoadBalancerPort')}: SSLCertificateId is not an ACM certificate"


@rule(
    id="PCI4-CLB-ACM-CERTIFICATE",
    requirements=("4.2.1",),
    description="Every HTTPS/SSL listener of a Classic Load Balancer uses an ACM certificate (renewed by AWS).",
    fix="Set the listener's SSLCertificateId to an ACM certificate ARN, not an IAM server certificate.",
)
def clb_acm_certificate(model: TemplateModel) -> Iterator[Check]:
    # elb-acm-certificate-required (AWS Config Developer Guide); "AWS::ElasticLoadBalancing::LoadBalancer
    # Listeners" SSLCertificateId, CloudFormation Template Reference.
    for lb in model.resources("AWS::ElasticLoadBalancing::LoadBalancer"):
        problems = [
            problem
            for listener in as_list(lb.prop("Listeners"))
            if isinstance(listener, Mapping) and (problem := _listener_problem(model, lb.stack, listener))
        ]
        yield Check(lb, not problems, "; ".join(problems))


@rule(
    id="PCI4-SERVICECATALOG-ORG-SHARE",
    requirements=("7.2.1",),
    description="No Service Catalog portfolio is shared with a single account; share it through AWS Organizations.",
    fix=(
        "Remove the AWS::ServiceCatalog::PortfolioShare (an account share) and share the portfolio with an "
        "organization or OU (CreatePortfolioShare OrganizationNode) from the management or delegated admin account."
    ),
)
def servicecatalog_org_share(model: TemplateModel) -> Iterator[Check]:
    # service-catalog-shared-within-organization fails a portfolio shared with Type ACCOUNT (AWS Config
    # Developer Guide); AWS::ServiceCatalog::PortfolioShare takes an AccountId only, so it is always an account
    # share ("AWS::ServiceCatalog::PortfolioShare", CloudFormation Template Reference; "CreatePortfolioShare",
    # AWS Service Catalog API Reference).
    for portfolio in model.resources("AWS::ServiceCatalog::Portfolio"):
        shares = model.attached(portfolio, "AWS::ServiceCatalog::PortfolioShare", "PortfolioId")
        accounts = [str(s.prop("AccountId")) for s in shares]
        yield Check(portfolio, not shares, f"shared with account(s) {accounts}" if shares else "")


@rule(
    id="PCI4-APPSYNC-WAF",
    requirements=("6.4.2",),
    description="Every AppSync GraphQL API has an AWS WAF web ACL associated in the templates.",
    fix="Add an AWS::WAFv2::WebACLAssociation whose ResourceArn is the API's Arn (Fn::GetAtt) and a web ACL ARN.",
)
def appsync_waf(model: TemplateModel) -> Iterator[Check]:
    # appsync-associated-with-waf (AWS Config Developer Guide); "AWS::WAFv2::WebACLAssociation" (ResourceArn
    # may be an AppSync GraphQL API), CloudFormation Template Reference.
    for api in model.resources("AWS::AppSync::GraphQLApi"):
        associated = bool(model.attached(api, "AWS::WAFv2::WebACLAssociation", "ResourceArn"))
        yield Check(api, associated, "" if associated else "no web ACL association in the templates")
