"""Why each synth rule's result supports each PCI DSS v4.0.1 requirement the rule pack maps it to.

One reviewed line per (rule, requirement) pair of `pci_rules.rules.RULES` that the evidence cites:
what the rule examines that the requirement's testing procedure (evidence/catalog.py
`TESTING_PROCEDURES`) looks at in a system or NSC configuration. A pair the review found unrelated is
in `evidence.catalog.UNRELATED_MAPPINGS` instead, with its own reason, and is never cited.
`tests/test_evidence_catalog.py` fails when a pair of the rule pack is in neither table, so a new
mapping cannot reach the report without a reviewed reason. Reviewed 2026-12-02 (issue 20).

Kept by requirement, then rule, so a reviewer reads every rule that supports one procedure together.
"""

from __future__ import annotations

_BY_REQUIREMENT: dict[str, dict[str, str]] = {
    "1.2.1": {
        "PCI4-EC2-DEFAULT-SG-RESTRICTED": "the default security group carrying no rules is part of every VPC's NSC"
        " configuration standard that 1.2.1.b compares the configurations with",
    },
    "1.3.1": {
        "PCI4-EC2-CDE-NO-INTERNET-ROUTE": "a CDE subnet without an internet, NAT or egress-only route admits no"
        " inbound path from outside the VPC",
        "PCI4-EC2-DEFAULT-SG-RESTRICTED": "the default group admits nothing, so no resource reaches the CDE through it",
        "PCI4-EC2-NACL-NO-OPEN-INGRESS": "no NACL admits the whole internet except 80/443 to the public tier",
        "PCI4-EC2-NO-AUTO-PUBLIC-IP": "no subnet hands out public addresses that make instances reachable inbound",
        "PCI4-EC2-SG-NO-OPEN-INGRESS": "no security group admits the whole internet except the load balancer's 80/443",
        "PCI4-EC2-TGW-NO-AUTO-ACCEPT": "no VPC attachment to a transit gateway is accepted unreviewed, so no unreviewed"
        " route reaches the CDE",
        "PCI4-LAMBDA-IN-VPC": "functions in a VPC are reached only through their security groups and NACLs",
        "PCI4-RDS-NOT-PUBLIC": "a database that is not publicly accessible has no public address to receive traffic on",
    },
    "1.3.2": {
        "PCI4-REDSHIFT-ENHANCED-VPC-ROUTING": "a warehouse's COPY and UNLOAD traffic leaves through the VPC, where"
        " its security groups, NACLs and endpoint policies restrict it",
        "PCI4-EC2-SG-NO-ALL-PORTS-EGRESS": "no group lets every port out to anywhere",
        "PCI4-EC2-SG-NO-ALLOW-ALL-EGRESS": "no group lets every protocol out to anywhere",
        "PCI4-NETWORK-FIREWALL-POSTURE": "the egress firewall drops by default and allows only the listed domains",
    },
    "1.4.1": {
        "PCI4-APIGW-ENDPOINT-TYPE": "a REST API's endpoint is regional or private, behind the WAF, distribution or"
        " VPC endpoint the owner configures",
        "PCI4-EC2-SG-NO-ALL-PORTS-EGRESS": "groups between the tiers and the internet restrict ports both ways",
        "PCI4-NETWORK-FIREWALL-POSTURE": "the Network Firewall is an NSC between the application tier and the internet",
    },
    "1.4.2": {
        "PCI4-EC2-NACL-NO-OPEN-INGRESS": "inbound from the internet is limited to 80/443 at the public tier's NACL",
        "PCI4-EC2-SG-NO-OPEN-INGRESS": "inbound from the internet is limited to 80/443 on the load balancer's group",
    },
    "1.4.4": {
        "PCI4-AUTOSCALING-LAUNCH-CONFIG-NO-PUBLIC-IP": "an instance with a public address is directly reachable;"
        " none is launched with one",
        "PCI4-CLOUDFRONT-S3-ORIGIN-ACCESS": "an S3 origin (a store) is read only through CloudFront's origin"
        " access, not from the internet",
        "PCI4-DMS-INSTANCE-NOT-PUBLIC": "a replication instance copies stored data and must not be publicly accessible",
        "PCI4-EC2-CDE-NO-INTERNET-ROUTE": "the subnets holding the cardholder-data store have no route to the internet",
        "PCI4-EC2-LAUNCH-TEMPLATE-NO-PUBLIC-IP": "no launch template gives an interface a public address",
        "PCI4-EMR-PRIMARY-NO-PUBLIC-IP": "an EMR primary node in a subnet that hands out public addresses is directly"
        " reachable from the internet; none is placed in one",
        "PCI4-EC2-NO-AUTO-PUBLIC-IP": "no subnet gives resources public addresses automatically",
        "PCI4-ECS-SERVICE-NO-PUBLIC-IP": "no task gets a public address",
        "PCI4-ECS-TASK-SET-NO-PUBLIC-IP": "no task gets a public address",
        "PCI4-EKS-PRIVATE-ENDPOINT": "a cluster's API endpoint is not reachable from the internet",
        "PCI4-ELB-PUBLIC-SUBNETS-ONLY": "an internet-facing load balancer never sits in the CDE subnets with the store",
        "PCI4-ES-IN-VPC": "a search domain (a store) is reachable only inside the VPC",
        "PCI4-LAMBDA-NO-PUBLIC-ACCESS": "no function is invokable by anyone: an open invoke path would reach whatever"
        " the function reads, the vault database included",
        "PCI4-RDS-NOT-PUBLIC": "the cardholder-data database has no public address",
        "PCI4-REDSHIFT-NOT-PUBLIC": "a warehouse (a store) has no public address",
        "PCI4-S3-ACCESS-POINT-BPA": "an access point to a bucket (a store) blocks public access",
        "PCI4-S3-MRAP-BPA": "a multi-region access point to buckets (stores) blocks public access",
        "PCI4-S3-PUBLIC-ACCESS-BLOCK": "every bucket (a store) blocks public ACLs and policies",
        "PCI4-SAGEMAKER-NO-DIRECT-INTERNET": "a notebook instance (which can hold data) has no direct internet access",
    },
    "2.2.1": {
        "PCI4-ACCOUNT-GUARD-VALUES": "the account-level settings (public access blocks, IMDSv2 default, SSM sharing)"
        " are part of the configuration standard applied to every component",
        "PCI4-TEMPLATE-PARAMETERS-RESOLVED": "every value the rules compare with the standard is the deployed one",
    },
    "2.2.2": {
        "PCI4-RDS-CUSTOM-MASTER-USERNAME": "the vendor default master user name (postgres, admin) is not used",
    },
    "2.2.6": {
        "PCI4-AUTOSCALING-LAUNCH-CONFIG-IMDSV2": "IMDSv2 is a security parameter that blocks credential theft via SSRF",
        "PCI4-CLOUDFRONT-DEFAULT-ROOT-OBJECT": "a default root object keeps an S3 origin from listing its contents",
        "PCI4-CODEBUILD-ARTIFACTS-ENCRYPTED": "artifact encryption, a security parameter of the build service,"
        " is not switched off",
        "PCI4-EC2-INSTANCE-IMDSV2": "IMDSv2 is a security parameter that blocks credential theft via SSRF",
        "PCI4-EC2-LAUNCH-TEMPLATE-IMDSV2": "IMDSv2 is a security parameter that blocks credential theft via SSRF",
        "PCI4-ECS-NO-HOST-PID": "a task's containers do not share the host's process namespace (PidMode host)",
    },
    "3.5.1": {
        "PCI4-APIGW-CACHE-ENCRYPTED": "a CDE API's cached responses, which may carry PAN, are stored encrypted",
    },
    "3.6.1": {
        "PCI4-KMS-CUSTODIAN-SEPARATION": "key administrators cannot use the keys they manage (fewest custodians)",
        "PCI4-KMS-DELETION-WINDOW": "a mistaken or malicious key deletion can be cancelled for 30 days",
        "PCI4-KMS-GRANTS-FOR-AWS-RESOURCES": "no principal can delegate a key through a grant except to an AWS service",
        "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": "no identity policy decrypts with every key: each use names its key",
        "PCI4-KMS-NO-PUBLIC-PRINCIPAL": "no key policy lets an anonymous principal use or manage a key",
        "PCI4-RDS-CUSTOMER-KEY": "the database's key is customer-managed, so its key policy (not AWS's) restricts it",
    },
    "3.7.4": {
        "PCI4-KMS-ROTATION": "KMS changes the symmetric keys' material yearly, the cryptoperiod the key policy states",
    },
    "4.2.1": {
        "PCI4-ACMPCA-NO-ROOT-CA": "the private CA issuing TLS certificates is a subordinate; the root that anchors"
        " their trust is kept out of the workload's templates, where it would stay active",
        "PCI4-CLB-ACM-CERTIFICATE": "a Classic Load Balancer's TLS certificate is issued and renewed by ACM",
        "PCI4-CLB-HTTPS-LISTENERS": "a Classic Load Balancer listener carries traffic over TLS only",
        "PCI4-CLB-TLS12-POLICY": "a Classic Load Balancer negotiates TLS 1.2 or later only",
        "PCI4-CLOUDFRONT-CUSTOM-CERTIFICATE": "viewers get the owner's own certificate, not the shared default one",
        "PCI4-CLOUDFRONT-ORIGIN-HTTPS": "CloudFront reaches its origins over HTTPS",
        "PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3": "no origin connection allows SSLv3",
        "PCI4-CLOUDFRONT-SNI": "the owner's certificate is served by SNI, not from dedicated IP addresses",
        "PCI4-CLOUDFRONT-TLS12-POLICY": "viewer connections negotiate TLS 1.2 or later only",
        "PCI4-CLOUDFRONT-VIEWER-HTTPS": "viewers reach CloudFront over HTTPS only",
        "PCI4-DAX-TLS": "the DAX endpoint encrypts traffic with TLS",
        "PCI4-DMS-ENDPOINT-TLS": "replication endpoints connect with TLS",
        "PCI4-ELASTICACHE-TRANSIT-ENCRYPTION": "cache traffic is encrypted in transit",
        "PCI4-ELB-ACM-CERTIFICATE": "the load balancer's certificates are issued and renewed by ACM with strong keys",
        "PCI4-ELB-HTTP-REDIRECT-ONLY": "plain HTTP only redirects to HTTPS and never carries data",
        "PCI4-ELB-HTTPS-TLS12": "the internet-facing listener, where PAN arrives, allows TLS 1.2 or later only",
        "PCI4-ES-NODE-TO-NODE-ENCRYPTION": "search nodes encrypt traffic between them",
        "PCI4-ES-TLS12": "search domains require HTTPS with TLS 1.2 or later",
        "PCI4-MSK-CONNECT-IN-TRANSIT": "connectors reach their cluster over TLS",
        "PCI4-MSK-IN-TRANSIT": "brokers encrypt traffic between them and with clients",
        "PCI4-RDS-PROXY-TLS": "the proxy refuses clients without TLS",
        "PCI4-RDS-TLS-FORCED": "the database's parameter group refuses connections without TLS",
        "PCI4-REDSHIFT-REQUIRE-TLS": "the warehouse refuses connections without TLS",
        "PCI4-S3-TLS-ONLY": "bucket policies deny requests without TLS",
        "PCI4-SNS-TLS-ONLY": "topic policies deny publishing without TLS",
        "PCI4-TRANSFER-NO-FTP": "no file-transfer server accepts plain FTP",
    },
    "6.2.4": {
        "PCI4-INSPECTOR-LAMBDA-SCANNING": "Lambda code scanning finds injection and other common flaws in the"
        " bespoke functions' code, one technique 6.2.4 names",
    },
    "6.3.1": {
        "PCI4-INSPECTOR-LAMBDA-SCANNING": "Inspector identifies new vulnerabilities in the functions' packages and"
        " ranks them (CVSS), an input to the entity's risk ranking",
    },
    "6.3.3": {
        "PCI4-BEANSTALK-MANAGED-UPDATES": "the platform installs security updates itself",
        "PCI4-DMS-MINOR-UPGRADES": "minor engine versions (security fixes) are installed automatically",
        "PCI4-ECR-LIFECYCLE-POLICY": "superseded, unpatched container images expire from the repository",
        "PCI4-ECS-FARGATE-LATEST-PLATFORM": "tasks run on the latest Fargate platform version",
        "PCI4-ELASTICACHE-MINOR-UPGRADES": "minor engine versions (security fixes) are installed automatically",
        "PCI4-LAMBDA-SUPPORTED-RUNTIME": "no function runs on a runtime AWS no longer patches",
        "PCI4-MQ-MINOR-UPGRADES": "minor engine versions (security fixes) are installed automatically",
        "PCI4-RDS-MINOR-UPGRADES": "the database installs minor engine versions (security fixes) automatically",
    },
    "6.4.2": {
        "PCI4-APPSYNC-WAF": "a GraphQL API serving a public web application is behind a web ACL",
        "PCI4-CLOUDFRONT-WAF": "a distribution serving a public web application is behind a web ACL",
        "PCI4-ELB-DELETION-PROTECTION": "the WAF-fronted entry point cannot be deleted and replaced by one without it",
        "PCI4-ELB-DESYNC-MITIGATION": "the load balancer blocks desync (request smuggling) attacks before the"
        " application sees them",
        "PCI4-ELB-DROP-INVALID-HEADERS": "the load balancer drops malformed headers used in smuggling attacks",
        "PCI4-ELB-WAF": "the public API's load balancer is behind a web ACL (the automated technical solution)",
        "PCI4-WAF-CLASSIC-NOT-EMPTY": "a WAF Classic web ACL has rules and each rule has conditions: an empty one"
        " inspects nothing",
        "PCI4-WAF-LOGGING": "the web ACL logs what it blocks and allows, as the solution must",
        "PCI4-WAF-RULE-GROUP-CONTENT": "a rule group a web ACL runs has rules and reports its matches in metrics",
        "PCI4-WAF-WEB-ACL-CONTENT": "the web ACL blocks with AWS's common and known-bad-input rule groups",
    },
    "6.5.1": {
        "PCI4-CODEDEPLOY-LAMBDA-GRADUAL": "a function change reaches part of the traffic first and is rolled"
        " back on failure, the procedure 6.5.1 asks to return to a secure state",
    },
    "7.2.1": {
        "PCI4-EC2-CLIENT-VPN-NOT-ALL": "Client VPN access to a network is granted to a named group, not to all",
        "PCI4-IAM-NO-ADMIN-POLICY": "no identity has an administrator policy that grants beyond its need",
        "PCI4-IAM-NO-AWS-MANAGED-POLICY": "every grant is written for its role, not a broad AWS-managed set",
        "PCI4-IAM-NO-SERVICE-WILDCARD": "no grant covers every action of a service",
        "PCI4-IAM-NO-STAR-ACTIONS": "no grant covers every action",
        "PCI4-IAM-PERMISSIONS-BOUNDARY": "every role is capped by the boundary the access model defines",
        "PCI4-IAM-TRUST-SCOPED": "no role can be assumed by anyone: who may act as it is named",
        "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": "no identity may decrypt with every key",
        "PCI4-KMS-NO-PUBLIC-PRINCIPAL": "no key is usable by anyone",
        "PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE": "a service may invoke a function only for the named resource or"
        " account",
        "PCI4-S3-ACLS-DISABLED": "bucket access is by policy only, not by per-object ACLs",
        "PCI4-S3-PUBLIC-ACCESS-BLOCK": "no bucket grants access to everyone",
        "PCI4-SERVICECATALOG-ORG-SHARE": "the products an account may launch are granted through the organization's"
        " structure (the access model), never to a single account outside it",
    },
    "7.2.2": {
        "PCI4-IAM-NO-ADMIN-POLICY": "no identity holds administrator privileges by policy",
        "PCI4-IAM-NO-AWS-MANAGED-POLICY": "privileges are written per role, not taken from broad AWS-managed sets",
        "PCI4-IAM-NO-SERVICE-WILDCARD": "no grant covers every action of a service",
        "PCI4-IAM-NO-STAR-ACTIONS": "no grant covers every action",
        "PCI4-IAM-PERMISSIONS-BOUNDARY": "every role's privileges stay within the boundary",
        "PCI4-KMS-CUSTODIAN-SEPARATION": "key administrators may not use the keys (least privilege per duty)",
        "PCI4-KMS-GRANTS-FOR-AWS-RESOURCES": "no key user can extend its own privileges by a grant",
        "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": "decryption is granted per key, only where needed",
    },
    "7.3.1": {
        "PCI4-DMS-ENDPOINT-AUTHENTICATION": "replication endpoints authenticate to their stores",
        "PCI4-EFS-ACCESS-POINT-USER": "an access point enforces one POSIX identity for every client",
    },
    "8.2.1": {
        "PCI4-IAM-NO-USERS": "the templates create no IAM user, so no account of theirs is shared between people",
    },
    "8.2.2": {
        "PCI4-EC2-NO-KEY-PAIR": "no instance is launched with an EC2 key pair, a credential its holders share",
        "PCI4-IAM-NO-USERS": "the templates create no IAM user that could be a shared or generic account",
    },
    "8.3.1": {
        "PCI4-NEPTUNE-IAM-AUTH": "graph database users authenticate with IAM signatures",
        "PCI4-DMS-ENDPOINT-AUTHENTICATION": "replication endpoints authenticate (IAM or a mechanism)",
        "PCI4-ELASTICACHE-AUTH": "cache clients authenticate (AUTH token or RBAC users)",
        "PCI4-IAM-NO-USERS": "people reach AWS only through roles assumed with the identity provider's factors",
        "PCI4-RDS-IAM-AUTH": "database users authenticate with IAM tokens",
        "PCI4-RDS-PROXY-IAM": "proxy clients authenticate with IAM",
    },
    "8.3.2": {
        "PCI4-CODEBUILD-HARDENED": "no build credential is readable in clear text in the source URL or a plaintext"
        " environment variable (Security Hub CodeBuild.1, CodeBuild.2)",
        "PCI4-SECRET-CUSTOMER-KEY": "stored credentials (Secrets Manager) are encrypted with a customer-managed key",
    },
    "8.3.6": {
        "PCI4-ACCOUNT-GUARD-VALUES": "the account's IAM password policy sets length and character classes",
    },
    "8.3.7": {
        "PCI4-ACCOUNT-GUARD-VALUES": "the account's IAM password policy forbids reusing recent passwords",
    },
    "8.3.9": {
        "PCI4-ACCOUNT-GUARD-VALUES": "the account's IAM password policy makes passwords expire",
    },
    "8.6.2": {
        "PCI4-CODEBUILD-HARDENED": "no credentials in a build's source URL or clear-text variables",
        "PCI4-EC2-INSTANCE-PROFILE": "an instance gets role credentials from its profile: no access key on it",
        "PCI4-ECS-NO-SECRETS-IN-ENVIRONMENT": "no credentials in container environment variables",
        "PCI4-RDS-PROXY-IAM": "applications log in with IAM tokens, so no database password is in their code",
    },
    "8.6.3": {
        "PCI4-NEPTUNE-IAM-AUTH": "application connections use short-lived IAM credentials instead of stored passwords",
        "PCI4-RDS-IAM-AUTH": "application logins use short-lived IAM tokens instead of stored passwords",
        "PCI4-SECRET-ROTATION": "the database master secret (a system account's password) rotates within 90 days",
    },
    "10.2.1": {
        "PCI4-APIGW-XRAY": "each request's trace through the REST API and its integrations is recorded",
        "PCI4-CODEBUILD-HARDENED": "build projects log to CloudWatch Logs",
        "PCI4-CONFIG-ALL-RESOURCES": "every resource's configuration changes are recorded",
        "PCI4-DOCDB-AUDIT-LOGS": "the document database's audit log is enabled and exported",
        "PCI4-EC2-CLIENT-VPN-LOGGING": "client VPN connections are logged",
        "PCI4-EC2-DETAILED-MONITORING": "the instance's one-minute CloudWatch metrics are recorded beside its logs",
        "PCI4-EC2-FLOW-LOGS": "every VPC's traffic, accepted and rejected, is logged",
        "PCI4-ECS-LOG-CONFIGURATION": "every container of a task sends its log somewhere (a log configuration)",
        "PCI4-EKS-ALL-CONTROL-PLANE-LOGS": "all five EKS control-plane logs (audit, authenticator, api...) are on",
        "PCI4-EKS-AUDIT-LOGGING": "the cluster's audit log is enabled",
        "PCI4-ELB-ACCESS-LOGS": "the load balancer's requests are logged",
        "PCI4-ELB-WAF": "the web ACL in front of the load balancer logs its decisions",
        "PCI4-ES-AUDIT-LOGS": "the search domain's audit log is enabled",
        "PCI4-MQ-AUDIT-LOGS": "the broker's audit log is enabled",
        "PCI4-NEPTUNE-AUDIT-LOGS": "the graph database's audit log is enabled",
        "PCI4-NETWORK-FIREWALL-POSTURE": "the firewall logs alerts and flows",
        "PCI4-OPENSEARCH-AUDIT-LOGS": "the search domain's audit log is enabled",
        "PCI4-RDS-LOG-EXPORTS": "the database's engine logs (connections, DDL) are exported",
        "PCI4-REDSHIFT-AUDIT-LOGGING": "the warehouse's audit log is enabled",
        "PCI4-S3-ACCESS-LOGGING": "bucket access is logged",
        "PCI4-TRAIL-DATA-EVENTS": "S3 object and Lambda invoke data events are recorded",
        "PCI4-TRAIL-LOGGING": "the trail is logging",
        "PCI4-TRAIL-MULTI-REGION": "the trail covers every region and global services",
        "PCI4-WAF-LOGGING": "the web ACL logs its decisions",
    },
    "10.2.1.1": {
        "PCI4-TRAIL-DATA-EVENTS": "each invoke of a vault function (the path to cardholder data) is recorded with"
        " its caller",
    },
    "10.3.2": {
        "PCI4-CODEBUILD-HARDENED": "a build project's S3 logs are not left unencrypted (Security Hub CodeBuild.3)",
        "PCI4-LAMBDA-LOG-GROUP": "each function's log group is created in the templates, encrypted and retained,"
        " so its protection is declared, not left to defaults",
        "PCI4-LOGS-KMS-RETAINED": "log groups are encrypted with customer-managed keys",
        "PCI4-TRAIL-KMS": "trail log files are encrypted with a customer-managed key",
        "PCI4-TRAIL-VALIDATION": "trail log files are signed, so a modification is detectable",
    },
    "10.3.3": {
        "PCI4-DOCDB-AUDIT-LOGS": "the document database's audit log is delivered as it is written to CloudWatch"
        " Logs, a central store apart from the cluster",
        "PCI4-MQ-AUDIT-LOGS": "the broker's audit log is delivered as it is written to CloudWatch Logs, a central"
        " store apart from the broker",
        "PCI4-NEPTUNE-AUDIT-LOGS": "the graph database's audit log is delivered as it is written to CloudWatch Logs,"
        " a central store apart from the cluster",
        "PCI4-TRAIL-ARCHIVE-OBJECT-LOCK": "the trail's central archive is write-once (object-locked)",
        "PCI4-TRAIL-CLOUDWATCH": "the trail also delivers promptly to a second store, CloudWatch Logs",
    },
    "10.3.4": {
        "PCI4-TRAIL-VALIDATION": "signed digest files detect any change to delivered trail logs",
    },
    "10.4.1": {
        "PCI4-RDS-EVENT-SUBSCRIPTION-CRITICAL": "the database's failure and configuration events reach someone",
    },
    "10.4.1.1": {
        "PCI4-ALARM-ACTIONS": "each alarm on the trail's metric filters notifies when it fires",
        "PCI4-SECURITYHUB-PCI-V401": "Security Hub reviews findings against the PCI DSS v4.0.1 controls automatically",
        "PCI4-TRAIL-CLOUDWATCH": "the trail reaches CloudWatch Logs, where metric filters review it automatically",
    },
    "10.4.2": {
        "PCI4-SNS-DELIVERY-STATUS-LOGGING": "topics write the delivery-status logs of their subscribers a periodic"
        " review reads",
        "PCI4-RDS-LOG-EXPORTS": "databases export the engine logs a periodic review reads",
        "PCI4-WAF-LOGGING": "web ACLs write the request logs a periodic review reads",
        "PCI4-APIGW-V2-ACCESS-LOGS": "API stages write the logs a periodic review reads",
        "PCI4-APPSYNC-FIELD-LOGGING": "GraphQL APIs write the logs a periodic review reads",
        "PCI4-BEANSTALK-STREAM-LOGS": "environments stream the logs a periodic review reads",
        "PCI4-CLOUDFRONT-LOGGING": "distributions write the logs a periodic review reads",
        "PCI4-DMS-SOURCE-LOGGING": "replication tasks write the logs a periodic review reads",
        "PCI4-DMS-TARGET-LOGGING": "replication tasks write the logs a periodic review reads",
        "PCI4-EC2-VPN-LOGGING": "VPN tunnels write the logs a periodic review reads",
        "PCI4-ES-AUDIT-LOGS": "search domains write the logs a periodic review reads",
        "PCI4-ROUTE53-QUERY-LOGGING": "public zones write the DNS query logs a periodic review reads",
        "PCI4-STEPFUNCTIONS-LOGGING": "state machines write the logs a periodic review reads",
    },
    "10.5.1": {
        "PCI4-LAMBDA-LOG-GROUP": "each function's logs go to a group whose retention the templates set",
        "PCI4-LOGS-KMS-RETAINED": "every log group keeps its events for at least 365 days",
        "PCI4-S3-VERSIONING": "log buckets keep overwritten or deleted objects' earlier versions",
        "PCI4-TRAIL-ARCHIVE-OBJECT-LOCK": "the trail's archive cannot delete logs before the retention ends",
    },
    "10.7.2": {
        "PCI4-ALARM-ACTIONS": "an alarm on a failed control (trail stopped, key disabled) reaches someone",
    },
    "11.3.1": {
        "PCI4-ECR-SCAN-ON-PUSH": "container images are scanned for vulnerabilities when pushed",
        "PCI4-INSPECTOR-EC2-ECR-SCANNING": "Inspector scans instances and images for vulnerabilities continuously",
    },
    "11.5.1": {
        "PCI4-GUARDDUTY-ENABLED": "GuardDuty, an intrusion-detection technique, is on",
        "PCI4-GUARDDUTY-PROTECTIONS": "GuardDuty watches S3, RDS logins, Lambda network activity and runtimes",
    },
    "11.5.2": {
        "PCI4-CONFIG-ALL-RESOURCES": "AWS Config records every change to every resource's configuration, the"
        " change-detection mechanism for the cloud's configuration files",
        "PCI4-RDS-EVENT-SUBSCRIPTION-CONFIG": "a change to a database parameter group or DB security group (the"
        " database's configuration files) is notified as it happens",
        "PCI4-RDS-EVENT-SUBSCRIPTION-CRITICAL": "a configuration change to a database instance is notified as it"
        " happens",
    },
    "12.3.4": {
        "PCI4-LAMBDA-SUPPORTED-RUNTIME": "a function's runtime is one its vendor still patches (not deprecated)",
        "PCI4-EKS-SUPPORTED-VERSION": "a cluster's Kubernetes version is still in its vendor's standard support",
    },
}

MAPPING_REASONS: dict[tuple[str, str], str] = {
    (rule, requirement): reason for requirement, rules in _BY_REQUIREMENT.items() for rule, reason in rules.items()
}


def reason(rule_id: str, requirement: str) -> str | None:
    """The reviewed reason a rule's result supports a requirement's testing procedure, if reviewed."""
    return MAPPING_REASONS.get((rule_id, requirement))
