"""Every acknowledged compliance finding of the landing zone, in one place.

Each entry says which construct (path pattern; `*` matches one path segment),
which rule (with any finding sub-ID), why it cannot be fixed at the construct,
which PCI DSS v4.0.1 requirement it concerns, who owns the accepted risk and
when they review it next (at most 12 months ahead). The synth stops when an
entry matches nothing, has expired, or names a never-acknowledgeable rule; the
gate reports an entry whose finding is no longer raised.

`conditional=True` marks an entry whose construct or finding exists only with
some configuration (a detection flag, a second region, an open ingress CIDR):
it may match or suppress nothing in a given environment, and the tests hold it
to the default app. A risk that one environment alone accepts (for example a
single-region log archive in a test account) goes in that environment's file
(`acknowledgments`), never here.
"""

from datetime import date

from compliance.registry import Acknowledgment

# Who accepts the risks below, and when they are reviewed next (PCI DSS v4.0.1 12.3.1: at least
# once every 12 months). A fork replaces the owner with its own accountable team.
OWNER = "platform-security (landing-zone maintainers)"
REVIEW_BY = date(2027, 11, 1)

_NETWORK = "PciLz-*-Network-*/Network"
_EDGE_ALB = "PciLz-*-Edge-*/PublicAlb"
_DATA = "PciLz-*-Data-*"
# The fixed ID CDK gives the singleton function behind every AwsCustomResource of a stack.
CDK_SDK_CALL_FUNCTION = "AWS679f53fac002430cb0da5b7982bd2287"


def _pci_and_nist(rule: str) -> tuple[str, str]:
    """The same check as the PCI DSS 3.2.1 and NIST 800-53 R5 packs name it."""
    return (f"PCI.DSS.321-{rule}", f"NIST.800.53.R5-{rule}")


def _each(
    rules: tuple[str, ...],
    *,
    path: str,
    reason: str,
    requirement: str,
    conditional: bool = False,
    owner: str = OWNER,
    review_by: date = REVIEW_BY,
) -> tuple[Acknowledgment, ...]:
    """One reason for the same finding raised by several packs on one construct."""
    return tuple(
        Acknowledgment(
            path=path,
            rule=rule,
            reason=reason,
            requirement=requirement,
            owner=owner,
            review_by=review_by,
            conditional=conditional,
        )
        for rule in rules
    )


_DELIVERY = "PciLz-delivery-Pipeline-*/Delivery"
_CDK_PIPELINE = f"{_DELIVERY}/Pipeline"
_CDK_PIPELINE_ROLES = (
    "Pipeline/Role",
    "Pipeline/Source/*/CodePipelineActionRole",
    "Pipeline/Build/Synth/CdkBuildProject/Role",
    "CodeBuildActionRole",
    "UpdatePipeline/SelfMutation/Role",
    "Assets/FileRole",
)
# What CDK's bucket and key grants (grantReadWrite) write for pipeline artifacts.
_ARTIFACT_GRANTS = (
    "Action::s3:GetObject*",
    "Action::s3:GetBucket*",
    "Action::s3:List*",
    "Action::s3:DeleteObject*",
    "Action::s3:Abort*",
    "Action::kms:GenerateDataKey*",
    "Action::kms:ReEncrypt*",
    "Resource::<DeliveryArtifactsBucket2402A431.Arn>/*",
)


def _codebuild_own_logs(project: str) -> tuple[str, str]:
    """The default log group and report groups CodeBuild grants every project, named after it."""
    return (
        f"Resource::arn:aws:codebuild:{{region}}:{{account}}:report-group/<{project}>-*",
        f"Resource::arn:aws:logs:{{region}}:{{account}}:log-group:/aws/codebuild/<{project}>:*",
    )


def _pipeline_grants(role: str, findings: tuple[str, ...], why: str) -> tuple[Acknowledgment, ...]:
    """AwsSolutions-IAM5 findings on the DefaultPolicy CDK Pipelines writes for one of its roles."""
    return tuple(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=f"{_CDK_PIPELINE}/{role}/DefaultPolicy",
            rule=f"AwsSolutions-IAM5[{finding}]",
            reason=f"{why}; CDK Pipelines generates this grant and offers no way to narrow it",
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
            conditional=True,
        )
        for finding in findings
    )


ACKNOWLEDGMENTS: tuple[Acknowledgment, ...] = (
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_NETWORK}/*Nacl",
        rule="AwsSolutions-VPC3",
        reason=(
            "AwsSolutions advises security groups instead of NACLs; PCI DSS asks for both layers,"
            " so the tier NACLs (public, application, CDE) are deliberate defence in depth"
        ),
        requirement="PCI DSS v4.0.1 1.2.1, 1.3.1, 1.3.2",
    ),
    *_each(
        _pci_and_nist("VPCNoUnrestrictedRouteToIGW"),
        path=f"{_NETWORK}/Vpc/PublicSubnet*/DefaultRoute",
        reason=(
            "The public tier is the DMZ: its default route to the internet gateway is what lets"
            " the load balancer answer clients and the NAT gateways forward egress; no workload"
            " runs in it and the CDE route tables have no such route"
        ),
        requirement="PCI DSS v4.0.1 1.4.1, 1.4.2",
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_NETWORK}/EdgeSecurityGroup",
        rule="AwsSolutions-EC23",
        reason=(
            "The internet-facing load balancer must accept HTTPS (and HTTP, redirected) from the"
            " configured client CIDRs, which the default environment sets to 0.0.0.0/0 for a public"
            " payment page; every other group admits only other groups or the VPC CIDR"
        ),
        requirement="PCI DSS v4.0.1 1.4.1, 1.4.2",
        conditional=True,  # raised only while allowed_ingress_cidrs holds 0.0.0.0/0
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_NETWORK}/Vpc/*Subnet*/Subnet",
        rule="CloudFormation-Validate::W3010",
        reason=(
            "Availability zones come from the environment configuration on purpose: a lookup would"
            " need AWS credentials at synth time, and the CDE must sit in zones the owner chose"
        ),
        requirement="PCI DSS v4.0.1 12.5.2",
        # CDK's own CloudFormation-Validate plugin runs under `python app.py` and the tests, not under `cdk synth`.
        conditional=True,
    ),
    *_each(
        (
            "AwsSolutions-S1",
            "PCI.DSS.321-S3BucketLoggingEnabled",
            "NIST.800.53.R5-S3BucketLoggingEnabled",
        ),
        path="PciLz-*-Data-*/AccessLogs",
        reason=(
            "This is the region's S3 server-access-log target: logging it into itself would loop,"
            " and any other target would only move the gap one bucket further"
        ),
        requirement="PCI DSS v4.0.1 10.2.1",
    ),
    *_each(
        _pci_and_nist("S3DefaultEncryptionKMS"),
        path="PciLz-*-Data-*/AccessLogs",
        reason=(
            "S3 server access logging delivers only to buckets encrypted with SSE-S3 (AES-256);"
            " SSE-KMS on the target bucket makes delivery fail silently"
        ),
        requirement="PCI DSS v4.0.1 3.5.1, 10.3.2",
    ),
    *_each(
        _pci_and_nist("S3BucketReplicationEnabled"),
        path="PciLz-*-Data-*/AccessLogs",
        reason=(
            "Server access logs stay in their region, versioned and retained; the replicated,"
            " object-locked audit copy of data access is the CloudTrail log archive"
        ),
        requirement="PCI DSS v4.0.1 10.5.1",
    ),
    # --- Public edge (issue 4): the ALB's log bucket and its port-80 redirect listener ----------
    *_each(
        _pci_and_nist("S3DefaultEncryptionKMS"),
        path=f"{_EDGE_ALB}/Logs/Bucket",
        reason=(
            "Elastic Load Balancing delivers ALB access and connection logs only to buckets"
            " encrypted with SSE-S3 (AES-256); with SSE-KMS as the default, delivery fails"
        ),
        requirement="PCI DSS v4.0.1 3.5.1, 10.3.2",
    ),
    *_each(
        _pci_and_nist("S3BucketReplicationEnabled"),
        path=f"{_EDGE_ALB}/Logs/Bucket",
        reason=(
            "ALB logs stay in the region that served the traffic, versioned and retained on delete;"
            " each request the WAF evaluates is also recorded, redacted, in the KMS-encrypted WAF log"
        ),
        requirement="PCI DSS v4.0.1 10.3.3, 10.5.1",
    ),
    *_each(
        _pci_and_nist("ELBv2ACMCertificateRequired"),
        path=f"{_EDGE_ALB}/LoadBalancer/HttpRedirect",
        reason=(
            "The port-80 listener carries no content and so no certificate: its only action is a"
            " 301 redirect to the HTTPS listener, which uses the ACM certificate and a TLS 1.2+ policy"
        ),
        requirement="PCI DSS v4.0.1 4.2.1",
    ),
    # --- Data protection (issue 3): the CDE database, its rotation, EBS default encryption ---
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_DATA}/Database/MonitoringPolicy",
        rule=(
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>"
            ":log-group:RDSOSMetrics:log-stream:*]"
        ),
        reason=(
            "RDS enhanced monitoring names each log stream after the instance's resource ID, which exists"
            " only once the instance does and the role must exist first; the wildcard is confined to the"
            " RDSOSMetrics group of this account and region, narrower than AmazonRDSEnhancedMonitoringRole"
        ),
        requirement="PCI DSS v4.0.1 7.2.1, 10.2.1",
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_DATA}/Database/Instance",
        rule="AwsSolutions-RDS11",
        reason=(
            "Clients reach the database through RDS Proxy, which for PostgreSQL listens only on 5432;"
            " a different instance port would hide nothing and open a second port in the CDE NACLs."
            " Access is limited by security groups, NACLs, TLS and IAM authentication instead"
        ),
        requirement="PCI DSS v4.0.1 1.3.1, 2.2.5",
        conditional=True,  # raised only while the instance listens on its engine's default port
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_DATA}/Database/Instance",
        rule="NIST.800.53.R5-RDSInBackupPlan",
        reason=(
            "Backups are RDS automated backups with point-in-time recovery (7-35 days, configurable,"
            " encrypted with the cardholder-data key, kept after instance deletion); an AWS Backup plan"
            " with a locked vault is an organisation-level decision outside this landing zone"
        ),
        requirement="PCI DSS v4.0.1 12.10.1",
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_DATA}/EbsDefaultEncryption/FunctionPolicy",
        rule="AwsSolutions-IAM5[Resource::*]",
        reason=(
            "EnableEbsEncryptionByDefault, ModifyEbsDefaultKmsKeyId and their Get calls change an"
            " account-and-region setting: IAM defines no resource type for them, so the resource is *;"
            " the statement is pinned to this region with aws:RequestedRegion"
        ),
        requirement="PCI DSS v4.0.1 7.2.1",
    ),
    *_each(
        _pci_and_nist("LambdaInsideVPC"),
        path=f"{_DATA}/{CDK_SDK_CALL_FUNCTION}",
        reason=(
            "CDK's AWS SDK custom-resource function runs only during deployment, to switch EBS encryption"
            " by default on; outside the VPC because the S3 gateway endpoint admits only this account's"
            " principals and CloudFormation's pre-signed response URL is signed by AWS's own account"
        ),
        requirement="PCI DSS v4.0.1 1.3.1, 1.4.1",
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_DATA}/{CDK_SDK_CALL_FUNCTION}",
        rule="NIST.800.53.R5-LambdaConcurrency",
        reason=(
            "CDK's AWS SDK custom-resource function runs twice per deployment; reserving concurrency for it"
            " would fail in accounts at the default limit, whose unreserved pool may not drop below 100"
        ),
        requirement="PCI DSS v4.0.1 6.4.3",
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path=f"{_DATA}/{CDK_SDK_CALL_FUNCTION}",
        rule="NIST.800.53.R5-LambdaDLQ",
        reason=(
            "CloudFormation invokes CDK's custom-resource function and waits for its answer; a failed call"
            " fails and rolls back the deployment, which is where an operator sees it, so a dead-letter"
            " queue would only hold a second copy of that failure"
        ),
        requirement="PCI DSS v4.0.1 10.7.2",
    ),
    # --- Audit and detection (issue 6): log-archive replication, AWS Config delivery ------------
    # Conditional: the replica exists only with a second region, Config only with its flag on.
    *_each(
        _pci_and_nist("S3BucketReplicationEnabled"),
        path="PciLz-*-AuditReplica-*/LogArchiveReplica",
        reason=(
            "This bucket is the cross-region replica of the object-locked CloudTrail archive; it is"
            " itself object-locked with the same retention, and a copy of the copy adds no protection"
        ),
        requirement="PCI DSS v4.0.1 10.5.1",
        conditional=True,
    ),
    *_each(
        _pci_and_nist("S3BucketReplicationEnabled"),
        path="PciLz-*-Detection-*/Config/History",
        reason=(
            "AWS Config keeps every configuration item in the service itself (seven years by default);"
            " this bucket holds delivered copies, and Config cannot deliver to an Object Lock bucket"
        ),
        requirement="PCI DSS v4.0.1 10.5.1, 11.5.2",
        conditional=True,
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path="PciLz-*-Detection-*/Config/Role",
        rule="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole]",
        reason=(
            "AWS_ConfigRole is the read-only Describe/List/Get set AWS maintains for every resource type"
            " Config records; a hand-written copy would silently stop recording new resource types"
        ),
        requirement="PCI DSS v4.0.1 11.5.2",
        conditional=True,
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path="PciLz-*-Detection-*/Config/DeliveryPolicy",
        rule="AwsSolutions-IAM5[Resource::<ConfigHistoryBucket554E9119.Arn>/AWSLogs/<AWS::AccountId>/Config/*]",
        reason=(
            "Config names its snapshot and history objects itself; the wildcard is limited to this"
            " account's Config prefix of the history bucket, and to s3:PutObject with the owner ACL"
        ),
        requirement="PCI DSS v4.0.1 7.2.2",
        conditional=True,
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path="PciLz-*-Audit-*/LogArchive/Archive/ReplicationSourcePolicy",
        rule="AwsSolutions-IAM5[Resource::<LogArchiveBucket9D881C39.Arn>/*]",
        reason=(
            "S3 replication must read every new log object of the archive; the role may only read"
            " object versions, their tags, retention and legal hold, never list other buckets or write"
        ),
        requirement="PCI DSS v4.0.1 7.2.2, 10.5.1",
        conditional=True,
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path="PciLz-*-AuditReplica-*/ReplicaWriter/ReplicaWritePolicy",
        rule="AwsSolutions-IAM5[Resource::<LogArchiveReplicaArchiveBucket04B28F03.Arn>/*]",
        reason=(
            "S3 replication writes every replicated log object under the key it had in the archive;"
            " the role may only replicate objects and tags into this one replica bucket"
        ),
        requirement="PCI DSS v4.0.1 7.2.2, 10.5.1",
        conditional=True,
    ),
    # --- Issue #13: identity and account baseline -------------------------------------------------
    *(
        ack
        for stack in ("Identity", "AccountGuards")
        for ack in (
            *_each(
                _pci_and_nist("LambdaInsideVPC"),
                path=f"PciLz-*-{stack}-*/{CDK_SDK_CALL_FUNCTION}",
                reason=(
                    "CDK's AWS SDK custom-resource function runs only during deployment, to set account-level"
                    " guards (password policy, S3/AMI public-access blocks, IMDS defaults) through IAM, S3"
                    " Control and EC2 APIs; no VPC of the landing zone has a route or endpoint for them"
                ),
                requirement="PCI DSS v4.0.1 1.3.1",
            ),
            Acknowledgment(
                owner=OWNER,
                review_by=REVIEW_BY,
                path=f"PciLz-*-{stack}-*/{CDK_SDK_CALL_FUNCTION}",
                rule="NIST.800.53.R5-LambdaConcurrency",
                reason=(
                    "CDK's AWS SDK custom-resource function runs a few times per deployment; reserving"
                    " concurrency for it would fail in accounts whose unreserved pool may not drop below 100"
                ),
                requirement="PCI DSS v4.0.1 2.2.1",
            ),
            Acknowledgment(
                owner=OWNER,
                review_by=REVIEW_BY,
                path=f"PciLz-*-{stack}-*/{CDK_SDK_CALL_FUNCTION}",
                rule="NIST.800.53.R5-LambdaDLQ",
                reason=(
                    "CloudFormation invokes CDK's custom-resource function synchronously; a failed guard call"
                    " fails and rolls back the deployment, so a dead-letter queue would never receive anything"
                ),
                requirement="PCI DSS v4.0.1 2.2.1",
            ),
            Acknowledgment(
                owner=OWNER,
                review_by=REVIEW_BY,
                path=f"PciLz-*-{stack}-*/AccountGuards/Calls/Policy",
                rule="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "UpdateAccountPasswordPolicy, PutAccountPublicAccessBlock, EnableImageBlockPublicAccess and"
                    " ModifyInstanceMetadataDefaults change account settings: IAM defines no resource type for"
                    " them, so * is the only resource; regional ones are pinned with aws:RequestedRegion"
                ),
                requirement="PCI DSS v4.0.1 7.2.2",
            ),
        )
    ),
    *_each(
        _pci_and_nist("VPCNoUnrestrictedRouteToIGW"),
        path=f"{_NETWORK}/Vpc/EgressSubnet*/DefaultRoute",
        reason=(
            "The egress subnets hold only the NAT gateways behind the Network Firewall: their default route"
            " to the internet gateway is the firewall's way out, and only allow-listed flows reach it"
        ),
        requirement="PCI DSS v4.0.1 1.3.2, 1.4.1",
        conditional=True,
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path="PciLz-*-Keys-*/PermissionsBoundary/Policy",
            rule=rule,
            reason=(
                "A permissions boundary only caps what identity policies grant (effective access is their"
                " intersection), so its Allow must be * on *; it grants nothing on its own and its Deny"
                " statements are what it is for (no privilege escalation, no disabling of controls)"
            ),
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
        )
        for rule in (
            "AwsSolutions-IAM5[Action::*]",
            "AwsSolutions-IAM5[Resource::*]",
            *_pci_and_nist("IAMPolicyNoStatementsWithAdminAccess"),
            *_pci_and_nist("IAMPolicyNoStatementsWithFullAccess"),
        )
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=f"PciLz-*-Identity-*/Operators/{role}/Role",
            rule=f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
            reason=reason,
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
            conditional=True,
        )
        for role, policy, reason in (
            (
                "PlatformAdministrator",
                "PowerUserAccess",
                "PowerUserAccess is every service but IAM, Organizations and account settings, kept current by"
                " AWS as services appear; the role's own policy adds explicit denies on card data",
            ),
            (
                "PlatformAdministrator",
                "IAMReadOnlyAccess",
                "The administrator reads IAM to operate the platform; AWS keeps this read-only set current",
            ),
            (
                "SecurityAuditor",
                "SecurityAudit",
                "SecurityAudit is AWS's maintained read-only set of configuration metadata an assessor needs"
                " for every service; a hand-written copy would miss services as they appear",
            ),
            (
                "BreakGlass",
                "AdministratorAccess",
                "Break-glass is the emergency administrator: full access within the permissions boundary,"
                " every assumption and use raising an alarm on the security alerts topic",
            ),
        )
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path="PciLz-*-Identity-*/Operators/SecurityAuditor/Policy",
            rule=rule,
            reason=reason,
            requirement="PCI DSS v4.0.1 7.2.2, 10.3.1",
            conditional=True,
        )
        for rule, reason in (
            (
                "AwsSolutions-IAM5[Resource::*]",
                "An assessor reads every log group and trail event (CloudWatch Logs and LookupEvents queries"
                " span groups); the only KMS grant is Decrypt through S3 on the logs key (kms:ResourceAliases)",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:aws:s3:::pcilz-{environment}-logs-{account}-*]",
                "The log archive and its replica are named pcilz-<env>-logs-<account>-<region>: read-only on"
                " both, one pattern for every configured region",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:aws:s3:::pcilz-{environment}-logs-{account}-*/*]",
                "Every archived log object of the archive and its replica, read-only",
            ),
        )
    ),
    # --- PCI DSS v4.0.1 rules on the rendered templates (issue 11) ------------------------------
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=path,
            rule="PCI4-LAMBDA-IN-VPC",
            reason=(
                "CDK's deploy-time custom-resource function answers CloudFormation through a pre-signed S3 URL"
                " in AWS's own account, which the VPC's S3 gateway endpoint (this account's principals only)"
                " refuses; it only sets account settings (EC2, IAM, S3 Control APIs), holds no cardholder data,"
                " and logs to its own encrypted group"
            ),
            requirement="PCI DSS v4.0.1 1.3.1, 1.4.4",
        )
        for path in (
            "PciLz-*-Network-*/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler",
            f"{_DATA}/{CDK_SDK_CALL_FUNCTION}",
            f"PciLz-*-Identity-*/{CDK_SDK_CALL_FUNCTION}",
            f"PciLz-*-AccountGuards-*/{CDK_SDK_CALL_FUNCTION}",
        )
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path="PciLz-*-Keys-*/PermissionsBoundary/Policy",
        rule="PCI4-IAM-NO-STAR-ACTIONS",
        reason=(
            "A permissions boundary only caps what identity policies grant (effective access is their"
            " intersection), so its Allow must be * on *; it grants nothing on its own and its Deny"
            " statements are what it is for (no privilege escalation, no disabling of controls)"
        ),
        requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=f"PciLz-*-Identity-*/Operators/{role}/Role",
            rule=rule,
            reason=reason,
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
            conditional=True,
        )
        for role, rule, reason in (
            (
                "PlatformAdministrator",
                "PCI4-IAM-NO-ADMIN-POLICY",
                "The platform administrator operates every service of the landing zone (PowerUserAccess, kept"
                " current by AWS); its own policy explicitly denies the cardholder-data key, the vault's"
                " detokenization and CDE database credentials, and the boundary denies escalation",
            ),
            (
                "BreakGlass",
                "PCI4-IAM-NO-ADMIN-POLICY",
                "Break-glass is the emergency administrator: full access within the permissions boundary, MFA"
                " required to assume it, and every assumption and use raises an alarm on the alerts topic",
            ),
            *(
                (
                    role,
                    "PCI4-IAM-NO-AWS-MANAGED-POLICY",
                    "Operator roles use AWS's maintained job-function policies (PowerUserAccess, SecurityAudit,"
                    " AdministratorAccess) so they follow new services; a hand-written copy would fall behind",
                )
                for role in ("PlatformAdministrator", "SecurityAuditor", "BreakGlass")
            ),
        )
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=f"{_NETWORK}/{rule_path}",
            rule="PCI4-EC2-NACL-NO-OPEN-INGRESS",
            reason=(
                "NACLs are stateless: replies to this tier's own outbound HTTPS (NAT gateway egress, the"
                " load balancer's clients) arrive from any internet address on ephemeral ports 1024-65535;"
                " nothing in the tier has a public address and the stateful security groups admit no such traffic"
            ),
            requirement="PCI DSS v4.0.1 1.3.1, 1.4.2",
        )
        for rule_path in ("PublicNacl/In140", "ApplicationNacl/In180")
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path="PciLz-*-Detection-*/Config/Role",
        rule="PCI4-IAM-NO-AWS-MANAGED-POLICY",
        reason=(
            "AWS_ConfigRole is the read-only Describe/List/Get set AWS maintains for every resource type"
            " Config records; a hand-written copy would silently stop recording new resource types"
        ),
        requirement="PCI DSS v4.0.1 11.5.2",
        conditional=True,
    ),
    # --- Issue #14: multi-account delivery (CDK Pipelines). These constructs exist only in the
    # delivery app (`-c delivery=...`), so every entry is conditional; tests/test_delivery.py holds
    # each to the default delivery's synth. CDK Pipelines generates the roles below and grants them
    # itself: no option narrows or detaches their policies, so what remains is acknowledged here.
    *_each(
        (*_pci_and_nist("S3DefaultEncryptionKMS"), *_pci_and_nist("S3BucketReplicationEnabled")),
        path=f"{_DELIVERY}/ArtifactAccessLogs",
        reason=(
            "S3 server access logging delivers only to SSE-S3 buckets; this bucket holds only the access"
            " logs of the pipeline's artifact bucket, and the trail's data events record the same access"
        ),
        requirement="PCI DSS v4.0.1 10.2.1, 10.5.1",
        conditional=True,
    ),
    *_each(
        (*_pci_and_nist("S3DefaultEncryptionKMS"), *_pci_and_nist("S3BucketReplicationEnabled")),
        path="PciLz-delivery-Artifacts-*/Replication/AccessLogs",
        reason=(
            "S3 server access logging delivers only to SSE-S3 buckets; this bucket holds only the access"
            " logs of the pipeline's artifact bucket in this stage region"
        ),
        requirement="PCI DSS v4.0.1 10.2.1, 10.5.1",
        conditional=True,
    ),
    *_each(
        _pci_and_nist("S3BucketReplicationEnabled"),
        path=f"{_DELIVERY}/Artifacts",
        reason=(
            "Pipeline artifacts are rebuilt from the source commit on every run; a replica would hold copies"
            " nobody restores from, and the evidence that must outlive a run (build logs, trail) is kept apart"
        ),
        requirement="PCI DSS v4.0.1 6.5.1",
        conditional=True,
    ),
    *_each(
        _pci_and_nist("S3BucketReplicationEnabled"),
        path="PciLz-delivery-Artifacts-*/Replication/Artifacts",
        reason=(
            "This bucket is itself CodePipeline's copy of the run's artifacts in a stage region, rebuilt on"
            " every run from the source commit; replicating it again protects nothing"
        ),
        requirement="PCI DSS v4.0.1 6.5.1",
        conditional=True,
    ),
    *(
        entry
        for role in _CDK_PIPELINE_ROLES
        for entry in _each(
            _pci_and_nist("IAMNoInlinePolicy"),
            path=f"{_CDK_PIPELINE}/{role}/DefaultPolicy",
            reason=(
                "CDK Pipelines writes this role's policy itself, from the grants each pipeline action needs,"
                " as the role's inline DefaultPolicy; it offers no option to emit it as a managed policy"
            ),
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
            conditional=True,
        )
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=f"{_CDK_PIPELINE}/{project}",
            rule="PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
            reason=(
                "The project's source type is CODEPIPELINE: it receives the commit from the pipeline's"
                " CodeConnections action and holds no repository URL or credential, so there is no OAuth to set"
            ),
            requirement="PCI DSS v4.0.1 8.3.1",
            conditional=True,
        )
        for project in ("Pipeline/Build/Synth/CdkBuildProject", "UpdatePipeline/SelfMutation", "Assets/FileAsset")
    ),
    *_pipeline_grants(
        "Pipeline/Role",
        (
            *_ARTIFACT_GRANTS,
            "Resource::*",
            "Resource::arn:aws:s3:::pcilz-delivery-artifacts-{account}-{region}/*",
        ),
        "CodePipeline's service role reads and writes every run's artifacts (objects under run-specific"
        " keys) in the artifact bucket of each stage region, whose keys it can name only by alias ('*')",
    ),
    *_pipeline_grants(
        "Pipeline/Source/*/CodePipelineActionRole",
        _ARTIFACT_GRANTS,
        "The source action writes the commit's archive under a run-specific key of the artifact bucket",
    ),
    *_pipeline_grants(
        "Pipeline/Build/Synth/CdkBuildProject/Role",
        (*_ARTIFACT_GRANTS, *_codebuild_own_logs("DeliveryPipelineBuildSynthCdkBuildProject793F903C")),
        "The synth project reads the source archive and writes the cloud assembly under run-specific keys,"
        " and CodeBuild names its default log streams and report groups after each build",
    ),
    *_pipeline_grants(
        "UpdatePipeline/SelfMutation/Role",
        (
            *(g for g in _ARTIFACT_GRANTS if g not in ("Action::s3:Abort*", "Action::s3:DeleteObject*")),
            *_codebuild_own_logs("DeliveryPipelineUpdatePipelineSelfMutationAD4D4227"),
            "Resource::*",
            "Resource::arn:*:iam::{account}:role/*",
        ),
        "Self-mutation reads the cloud assembly, describes stacks and assumes only the roles tagged"
        " aws-cdk:bootstrap-role (deploy, file and image publishing), which CDK Pipelines selects by tag",
    ),
    *_pipeline_grants(
        "Assets/FileRole",
        (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Resource::<DeliveryArtifactsBucket2402A431.Arn>/*",
            "Resource::*",
            "Resource::arn:aws:codebuild:{region}:{account}:report-group/*",
            "Resource::arn:aws:logs:{region}:{account}:log-group:/aws/codebuild/*",
        ),
        "Asset publishing reads the cloud assembly, starts its own CodeBuild builds and logs under"
        " CodeBuild's generated names, then publishes only through the target accounts' bootstrap roles",
    ),
    # --- Card vault workload (issue 10) ------------------------------------------------------------
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=f"PciLz-*-Workload-*/CardVault/{function}Policy",
            rule="AwsSolutions-IAM5[Resource::*]",
            reason=(
                "The Lambda VPC network-interface actions (ec2:CreateNetworkInterface, Describe*, Delete,"
                " Assign/UnassignPrivateIpAddresses) and X-Ray's PutTraceSegments/PutTelemetryRecords have"
                " no resource-level permissions in IAM; every other statement names its resource"
            ),
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
            conditional=True,  # the vault is optional (card_vault absent or enabled: false)
        )
        for function in ("Api", "Detokenize", "Purge", "Migrate")
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path="PciLz-*-Workload-*/CardVault/HmacKey",
            rule=rule,
            reason=(
                "The duplicate-detection HMAC key cannot rotate on a schedule: every stored keyed hash would"
                " stop matching; re-keying (decrypt, re-hash, swap) is an operator procedure, and the key is"
                " readable only by the API function's role through Secrets Manager"
            ),
            requirement="PCI DSS v4.0.1 3.5.1.1, 3.6.1",
            conditional=True,  # the vault is optional (card_vault absent or enabled: false)
        )
        for rule in ("AwsSolutions-SMG4", "NIST.800.53.R5-SecretsManagerRotationEnabled", "PCI4-SECRET-ROTATION")
    ),
    Acknowledgment(
        owner=OWNER,
        review_by=REVIEW_BY,
        path="PciLz-*-Workload-*/AWSCDK.TriggerCustomResourceProviderCustomResourceProvider/Handler",
        rule="PCI4-LAMBDA-IN-VPC",
        reason=(
            "CDK's trigger provider (aws_cdk.triggers, no VPC option) only invokes the migration function,"
            " which runs in the VPC, and answers CloudFormation through a pre-signed S3 URL in AWS's own"
            " account that the S3 gateway endpoint (this account's principals only) refuses; it holds no"
            " cardholder data and logs to its own encrypted, retained group"
        ),
        requirement="PCI DSS v4.0.1 1.3.1, 1.4.4",
        conditional=True,  # the vault is optional (card_vault absent or enabled: false)
    ),
    *(
        Acknowledgment(
            owner=OWNER,
            review_by=REVIEW_BY,
            path=f"PciLz-*-Workload-*/CardVault/{function}",
            rule="NIST.800.53.R5-LambdaDLQ",
            reason=reason,
            requirement="PCI DSS v4.0.1 10.7.2",
            conditional=True,  # the vault is optional (card_vault absent or enabled: false)
        )
        for function, reason in (
            (
                "Api",
                "the ALB invokes the API synchronously and returns its error to the client; a dead-letter"
                " queue applies to asynchronous invocations only and would never receive anything",
            ),
            (
                "Detokenize",
                "callers invoke detokenization synchronously and get its error; a dead-letter queue"
                " applies to asynchronous invocations only and would hold card-number requests besides",
            ),
            (
                "Migrate",
                "the CDK trigger invokes the migration synchronously and fails the deployment on error,"
                " which is where an operator sees it; a dead-letter queue would never receive anything",
            ),
            (
                "Purge",
                "the purge is idempotent and daily: EventBridge retries a failed run twice and the next"
                " run deletes the same rows; failures are in the function's error metric and encrypted log group",
            ),
        )
    ),
)
