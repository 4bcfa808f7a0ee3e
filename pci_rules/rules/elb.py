"""The public edge: TLS on listeners, WAF in front, logs of every request (PCI DSS v4.0.1 4.2.1, 6.4.2, 10.2)."""

from collections.abc import Iterator, Mapping

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, flatten, is_cde_subnet

LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
# ELB security policies that negotiate TLS 1.2 or 1.3 only ("Security policies for your Application
# Load Balancer", Elastic Load Balancing User Guide): the TLS13-1-2/1-3 families and the TLS-1-2 ones.
TLS12_POLICY_PREFIXES = ("ELBSecurityPolicy-TLS13-1-2", "ELBSecurityPolicy-TLS13-1-3", "ELBSecurityPolicy-TLS-1-2")


def _attributes(lb: Resource) -> dict[str, str]:
    return {
        str(a.get("Key")): str(a.get("Value")).lower()
        for a in as_list(lb.prop("LoadBalancerAttributes"))
        if isinstance(a, Mapping)
    }


def _internet_facing_albs(model: TemplateModel) -> Iterator[Resource]:
    for lb in model.resources(LB):
        if lb.prop("Type", default="application") == "application" and lb.prop("Scheme") != "internal":
            yield lb


@rule(
    id="PCI4-ELB-HTTPS-TLS12",
    requirements=("4.2.1",),
    description="HTTPS and TLS listeners use a certificate and a security policy that allows only TLS 1.2 or later.",
    fix="Set SslPolicy to an ELBSecurityPolicy-TLS13-1-2-* policy (CDK: ssl_policy=SslPolicy.RECOMMENDED_TLS).",
)
def listener_tls12(model: TemplateModel) -> Iterator[Check]:
    for listener in model.resources(LISTENER):
        if listener.prop("Protocol") not in ("HTTPS", "TLS"):
            continue
        policy = listener.prop("SslPolicy")
        problems = []
        if not (isinstance(policy, str) and policy.startswith(TLS12_POLICY_PREFIXES)):
            problems.append(f"SslPolicy {policy!r} is not a TLS 1.2+ policy")
        if not listener.prop("Certificates"):
            problems.append("no certificate")
        yield Check(listener, not problems, "; ".join(problems))


@rule(
    id="PCI4-ELB-HTTP-REDIRECT-ONLY",
    requirements=("4.2.1",),
    description="A plain-HTTP listener only redirects to HTTPS; it never forwards or answers with content.",
    fix="Make the HTTP listener's only default action a redirect with Protocol HTTPS, and add no listener rules to it.",
)
def http_redirect_only(model: TemplateModel) -> Iterator[Check]:
    for listener in model.resources(LISTENER):
        if listener.prop("Protocol") != "HTTP":
            continue
        actions = [a for a in as_list(listener.prop("DefaultActions")) if isinstance(a, Mapping)]
        redirects = bool(actions) and all(
            a.get("Type") == "redirect" and (a.get("RedirectConfig") or {}).get("Protocol") == "HTTPS" for a in actions
        )
        rules = model.referrers(listener, "AWS::ElasticLoadBalancingV2::ListenerRule")
        ok = redirects and not rules
        yield Check(listener, ok, "" if ok else "HTTP listener does more than redirect to HTTPS")


@rule(
    id="PCI4-ELB-WAF",
    requirements=("6.4.2", "10.2.1"),
    description="Every internet-facing Application Load Balancer is associated with an AWS WAF web ACL that logs.",
    fix="Add an AWS::WAFv2::WebACLAssociation to a REGIONAL web ACL with an AWS::WAFv2::LoggingConfiguration.",
)
def alb_waf(model: TemplateModel) -> Iterator[Check]:
    for lb in _internet_facing_albs(model):
        acls = [
            acl
            for association in model.attached(lb, "AWS::WAFv2::WebACLAssociation", "ResourceArn")
            if (acl := model.target(association.stack, association.prop("WebACLArn"))) is not None
        ]
        logged = any(_logs(model, acl) for acl in acls)
        detail = "" if logged else ("its web ACL does not log" if acls else "no web ACL association")
        yield Check(lb, logged, detail)


def _logs(model: TemplateModel, acl: Resource) -> bool:
    return any(
        c.prop("LogDestinationConfigs") for c in model.attached(acl, "AWS::WAFv2::LoggingConfiguration", "ResourceArn")
    )


@rule(
    id="PCI4-WAF-LOGGING",
    requirements=("10.2.1", "6.4.2", "10.4.2"),
    description="Every AWS WAF web ACL has a logging configuration.",
    fix="Add an AWS::WAFv2::LoggingConfiguration for the web ACL to an aws-waf-logs-* destination.",
)
def waf_logging(model: TemplateModel) -> Iterator[Check]:
    for acl in model.resources("AWS::WAFv2::WebACL"):
        logged = any(
            c.prop("LogDestinationConfigs")
            for c in model.attached(acl, "AWS::WAFv2::LoggingConfiguration", "ResourceArn")
        )
        yield Check(acl, logged, "" if logged else "no logging configuration")


@rule(
    id="PCI4-ELB-ACCESS-LOGS",
    requirements=("10.2.1",),
    description="Every load balancer writes access logs.",
    fix="Set the load balancer attribute access_logs.s3.enabled to true with a bucket (CDK: log_access_logs()).",
)
def lb_access_logs(model: TemplateModel) -> Iterator[Check]:
    for lb in model.resources(LB):
        enabled = _attributes(lb).get("access_logs.s3.enabled") == "true"
        yield Check(lb, enabled, "" if enabled else "access_logs.s3.enabled is not true")


@rule(
    id="PCI4-ELB-DROP-INVALID-HEADERS",
    requirements=(),
    # 6.4.2 is an automated technical solution detecting and preventing web attacks (a WAF); a load-balancer
    # setting supports it without being it. AWS maps Security Hub's control to 6.2.4 (QSA reader r21e).
    related=("6.2.4", "6.4.2"),
    description="Every Application Load Balancer drops HTTP headers with invalid fields (request smuggling).",
    fix="Set the attribute routing.http.drop_invalid_header_fields.enabled to true.",
)
def alb_drop_invalid_headers(model: TemplateModel) -> Iterator[Check]:
    for lb in model.resources(LB):
        if lb.prop("Type", default="application") != "application":
            continue
        dropped = _attributes(lb).get("routing.http.drop_invalid_header_fields.enabled") == "true"
        yield Check(lb, dropped, "" if dropped else "invalid header fields are forwarded")


@rule(
    id="PCI4-ELB-PUBLIC-SUBNETS-ONLY",
    requirements=("1.4.4",),
    description="An internet-facing load balancer never sits in a CDE subnet.",
    fix="Place internet-facing load balancers in the public tier's subnets only.",
)
def alb_not_in_cde(model: TemplateModel) -> Iterator[Check]:
    for lb in _internet_facing_albs(model):
        subnets = model.references(lb.stack, lb.prop("Subnets"))
        subnets += [
            s
            for m in as_list(lb.prop("SubnetMappings"))
            for s in model.references(lb.stack, m.get("SubnetId") if isinstance(m, Mapping) else None)
        ]
        in_cde = [s.logical_id for s in subnets if is_cde_subnet(s)]
        yield Check(lb, not in_cde, f"in CDE subnets {in_cde}" if in_cde else "")


@rule(
    id="PCI4-ELB-DELETION-PROTECTION",
    requirements=("6.4.2",),
    description="Every internet-facing load balancer has deletion protection, so its WAF-fronted entry cannot vanish.",
    fix="Set the attribute deletion_protection.enabled to true.",
)
def alb_deletion_protection(model: TemplateModel) -> Iterator[Check]:
    for lb in _internet_facing_albs(model):
        protected = _attributes(lb).get("deletion_protection.enabled") == "true"
        yield Check(lb, protected, "" if protected else "deletion_protection.enabled is not true")


# "Desync mitigation mode" (Elastic Load Balancing User Guide): defensive is the default when the
# attribute is absent; monitor forwards every request whatever its classification (ELB.12).
SAFE_DESYNC_MODES = ("defensive", "strictest")


@rule(
    id="PCI4-ELB-DESYNC-MITIGATION",
    requirements=(),
    # 6.4.2 is an automated technical solution detecting and preventing web attacks (a WAF); a load-balancer
    # setting supports it without being it. AWS maps Security Hub's control to 6.2.4 (QSA reader r21e).
    related=("6.2.4", "6.4.2"),
    description="Every Application Load Balancer mitigates HTTP desync in defensive or strictest mode, not monitor.",
    fix="Set the attribute routing.http.desync_mitigation_mode to strictest (or defensive).",
)
def alb_desync_mitigation(model: TemplateModel) -> Iterator[Check]:
    for lb in model.resources(LB):
        if lb.prop("Type", default="application") != "application":
            continue
        mode = _attributes(lb).get("routing.http.desync_mitigation_mode", "defensive")
        ok = mode in SAFE_DESYNC_MODES
        yield Check(lb, ok, "" if ok else f"desync mitigation mode is {mode}")


# ACM key algorithms of at least 2048-bit RSA strength ("AWS::CertificateManager::Certificate
# KeyAlgorithm"; ACM.2): RSA_2048 and up, and the elliptic curves.
WEAK_KEY_ALGORITHMS = ("RSA_1024",)


def _certificate_arns(listener: Resource) -> list[object]:
    return [c.get("CertificateArn") for c in as_list(listener.prop("Certificates")) if isinstance(c, Mapping)]


@rule(
    id="PCI4-ELB-ACM-CERTIFICATE",
    requirements=("4.2.1",),
    related=("4.2.1.1",),
    description=(
        "Load-balancer certificates come from ACM (renewed by AWS), and certificates requested here use RSA "
        ">= 2048 or ECDSA."
    ),
    fix="Use an ACM certificate ARN (not an IAM server certificate) and KeyAlgorithm RSA_2048 or stronger.",
)
def elb_acm_certificate(model: TemplateModel) -> Iterator[Check]:
    for listener in model.resources(LISTENER, "AWS::ElasticLoadBalancingV2::ListenerCertificate"):
        if listener.type == LISTENER and listener.prop("Protocol") not in ("HTTPS", "TLS"):
            continue
        problems = []
        for arn in _certificate_arns(listener):
            target = model.target(listener.stack, arn)
            if target is not None:
                if target.type != "AWS::CertificateManager::Certificate":
                    problems.append(f"certificate is a {target.type}")
            elif isinstance(arn, str) and ":acm:" not in arn:
                problems.append(f"{arn} is not an ACM certificate")
            elif ":server-certificate/" in flatten(arn):
                problems.append("an IAM server certificate, not ACM")
        yield Check(listener, not problems, "; ".join(problems))
    for cert in model.resources("AWS::CertificateManager::Certificate"):
        algorithm = cert.prop("KeyAlgorithm", default="RSA_2048")
        weak = algorithm in WEAK_KEY_ALGORITHMS
        yield Check(cert, not weak, f"KeyAlgorithm {algorithm} is weaker than RSA 2048" if weak else "")
