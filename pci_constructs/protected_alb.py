"""The internet-facing Application Load Balancer: TLS 1.2+ only, behind AWS WAF, every request logged.

What this construct does not do: security response headers (Strict-Transport-Security,
Content-Security-Policy, X-Content-Type-Options, ...). An ALB cannot add response
headers to what its targets return, so they are the workload's job: every workload
behind this load balancer must set them on its own responses. Until a workload adds
a target group and listener rules, the HTTPS listener answers every request with a
fixed 404 and forwards nothing.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from pci_constructs.secure_bucket import SecureBucket
from pci_constructs.web_acl import RegionalWebAcl

HTTPS_PORT = 443

# The ELB security policies that negotiate only TLS 1.2 and 1.3 with no SHA-1 or
# non-forward-secret ciphers (PCI DSS 4.2.1), by the name AWS and the configuration use.
TLS_POLICIES: dict[str, elbv2.SslPolicy] = {
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": elbv2.SslPolicy.TLS13_RES,
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09": elbv2.SslPolicy.TLS13_12_RES_PQ,
    "ELBSecurityPolicy-TLS13-1-2-2021-06": elbv2.SslPolicy.RECOMMENDED_TLS,
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09": elbv2.SslPolicy.TLS13_12_PQ,
    "ELBSecurityPolicy-TLS13-1-3-2021-06": elbv2.SslPolicy.TLS13_13,
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09": elbv2.SslPolicy.TLS13_13_PQ,
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04": elbv2.SslPolicy.FIPS_TLS13_12_RES,
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09": elbv2.SslPolicy.FIPS_TLS13_12_RES_PQ,
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04": elbv2.SslPolicy.FIPS_TLS13_12,
    "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09": elbv2.SslPolicy.FIPS_TLS13_12_PQ,
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04": elbv2.SslPolicy.FIPS_TLS13_13,
    "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09": elbv2.SslPolicy.FIPS_TLS13_13_PQ,
}


class ProtectedAlb(Construct):
    """Public entry point of the cardholder-data environment (PCI DSS v4.0.1 1.4.1, 1.4.2, 4.2.1, 6.4.2, 10.2.1).

    - 1.4.1/1.4.2: internet-facing, in the public tier only, using the given security group
      (which admits 443 from the allowed client CIDRs and reaches only the application tier);
      the construct never opens the group itself.
    - 4.2.1: the only listener is HTTPS, with an ACM certificate and a TLS 1.2+ policy from
      `TLS_POLICIES`. There is no plain-HTTP listener, not even one that redirects: the vault API is
      server-to-server over mutual TLS, and a port-80 listener would let a client send a PAN across
      the internet in clear before any redirect answered it.
    - 6.4.2: the given WAF web ACL is associated with the load balancer, exactly once.
    - 10.2.1: access and connection (TLS handshake) logs go to a dedicated SecureBucket;
      invalid header fields are dropped, HTTP desync mitigation is strictest, and deletion
      protection is on.
    - 3.2.1: the access log holds each request line as sent, so it is a store that may hold a
      PAN a client puts in a URL; its objects expire after `log_expiry_days` (raises
      ValueError under 365, the 10.5.1 minimum).
    """

    load_balancer: elbv2.ApplicationLoadBalancer
    https_listener: elbv2.ApplicationListener
    log_bucket: SecureBucket
    web_acl_association: wafv2.CfnWebACLAssociation

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        certificate_arn: str,
        tls_policy: str,
        web_acl: RegionalWebAcl,
        access_logs_bucket: s3.IBucket,
        log_expiry_days: int = 365,
        mutual_authentication: elbv2.MutualAuthentication | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if log_expiry_days < 365:
            raise ValueError(f"log_expiry_days={log_expiry_days}: PCI DSS 10.5.1 keeps audit logs at least 365 days")
        if tls_policy not in TLS_POLICIES:
            raise ValueError(f"tls_policy={tls_policy!r}: not a TLS 1.2+ policy; choose one of {sorted(TLS_POLICIES)}")

        # AWS delivers ALB logs only to buckets encrypted with SSE-S3.
        self.log_bucket = SecureBucket(
            self,
            "Logs",
            s3_managed_encryption_reason="Elastic Load Balancing delivers access logs only to SSE-S3 buckets",
            access_logs_bucket=access_logs_bucket,
            access_logs_prefix="edge-alb-logs/",
            # The access log holds each request line as the client sent it (method, URL and query string):
            # a card number a client puts in a URL is stored here ("Access logs for your Application Load
            # Balancer", Elastic Load Balancing User Guide), and ELB cannot redact it. A store that may hold
            # PAN has a retention limit (PCI DSS 3.2.1): objects expire after `log_expiry_days`, no fewer
            # than 10.5.1's 365.
            lifecycle_rules=[s3.LifecycleRule(id="ExpireLoadBalancerLogs", expiration=Duration.days(log_expiry_days))],
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            vpc_subnets=subnets,
            internet_facing=True,
            security_group=security_group,
            deletion_protection=True,
            drop_invalid_header_fields=True,
            desync_mitigation_mode=elbv2.DesyncMitigationMode.STRICTEST,
            # Targets see the negotiated TLS version and cipher, so a workload can log them.
            x_amzn_tls_version_and_cipher_suite_headers=True,
        )
        # Written out although it is the AWS default, so the template shows it: if WAF cannot be
        # reached the request is refused, never forwarded uninspected.
        self.load_balancer.set_attribute("waf.fail_open.enabled", "false")
        # With an explicit region, the L2 grants the right ELB log-delivery principal for it.
        self.load_balancer.log_access_logs(self.log_bucket.bucket, prefix="access")
        self.load_balancer.log_connection_logs(self.log_bucket.bucket, prefix="connection")

        self.https_listener = self.load_balancer.add_listener(
            "Https",
            port=HTTPS_PORT,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
            ssl_policy=TLS_POLICIES[tls_policy],
            # The security group is managed by the network; a listener must not widen it.
            open=False,
            # Mutual TLS (verify mode) when a workload needs authenticated clients (PCI DSS 8.3).
            mutual_authentication=mutual_authentication,
            default_action=elbv2.ListenerAction.fixed_response(
                404, content_type="text/plain", message_body="Not Found"
            ),
        )
        self.web_acl_association = wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.load_balancer.load_balancer_arn,
            web_acl_arn=web_acl.web_acl_arn,
        )
