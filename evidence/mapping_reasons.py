"""Why each synth rule's result supports each PCI DSS v4.0.1 requirement the rule pack maps it to.

One reviewed line per (rule, requirement) pair of `pci_rules.rules.RULES` that the evidence cites:
what the rule examines that the requirement's testing procedure (evidence/catalog.py
`TESTING_PROCEDURES`) looks at in a system or NSC configuration. A requirement the rule supports without
evidencing it is the rule's `related` (pack 1.9.0), with its reason in `evidence.catalog.RELATED_NOT_EVIDENCE`,
and is never cited.
`tests/test_evidence_catalog.py` fails when a pair of the rule pack is in neither table, so a new
mapping cannot reach the report without a reviewed reason. Reviewed 2026-12-02 (issue 20); the pairs
pack 1.8.0 changed, 2026-12-03 (issue 21).

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
        "PCI4-EC2-NACL-NO-OPEN-INGRESS": "each NACL it passed admits the whole internet only on HTTP/HTTPS ports of"
        " the public tier (the landing zone admits 443 only); one under exception below admits more, with its"
        " stated need",
        "PCI4-EC2-NO-AUTO-PUBLIC-IP": "no subnet hands out public addresses that make instances reachable inbound",
        "PCI4-EC2-SG-NO-OPEN-INGRESS": "no security group admits the whole internet except a load balancer's"
        " HTTP/HTTPS ports (the landing zone opens 443 only)",
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
        "PCI4-EC2-NACL-NO-OPEN-INGRESS": "at each NACL it passed, inbound from the internet is limited to HTTP/HTTPS"
        " ports at the public tier (443 only in the landing zone); one under exception below admits more",
        "PCI4-EC2-SG-NO-OPEN-INGRESS": "inbound from the internet is limited to HTTP/HTTPS ports on the load"
        " balancer's group (443 only in the landing zone)",
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
        "PCI4-TEMPLATE-NO-TRANSFORMS": "each resource it passed is deployed as the rules read it, not rewritten by"
        " a macro; it allows the AWS::SecretsManager-2024-09-16 transform (the Data templates carry it), which adds"
        " at deploy what no rule examined: the hosted rotation function and its execution role, created with no"
        " permissions boundary, which connect to the CDE database (listed under outside the templates:"
        " unverified)",
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
        "PCI4-CARD-DATA-FIELD-ENCRYPTION": "each function marked as holding card data generates or decrypts data"
        " keys only under the vault's encryption context (field-level AES-256-GCM envelope encryption, the method"
        " 3.5.1.a examines) and its keyed-hash key stays in KMS, usable by no other role of the templates, the"
        " control against correlating hashed and truncated PAN that 3.5.1.c examines",
    },
    "3.5.1.1": {
        "PCI4-CARD-DATA-FIELD-ENCRYPTION": "the hash of the PAN is a KMS GenerateMac under an HMAC_256 key with"
        " kms:MacAlgorithm fixed (a keyed cryptographic hash of the entire PAN, 3.5.1.1.a), whose material never"
        " leaves KMS and which no other role of the templates may use (its key management, 3.5.1.1.b)",
    },
    "3.6.1": {
        "PCI4-KMS-CUSTODIAN-SEPARATION": "key administrators cannot use the keys they manage (fewest custodians)",
        "PCI4-KMS-DELETION-WINDOW": "a mistaken or malicious key deletion can be cancelled for 30 days",
        "PCI4-KMS-GRANTS-FOR-AWS-RESOURCES": "no principal can delegate a key through a grant except to an AWS service",
        "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": "no identity policy decrypts with every key: each use names its key",
        "PCI4-KMS-NO-PUBLIC-PRINCIPAL": "no key policy lets an anonymous principal use or manage a key",
    },
    "3.7.4": {
        "PCI4-KMS-ROTATION": "KMS changes each symmetric key's material every RotationPeriodInDays the key"
        " declares (365 by default), the cryptoperiod the rule reads from the key, not from its key policy",
    },
    "4.2.1": {
        "PCI4-ACMPCA-NO-ROOT-CA": "the private CA issuing TLS certificates is a subordinate; the root that anchors"
        " their trust is kept out of the workload's templates, where it would stay active",
        "PCI4-CLB-ACM-CERTIFICATE": "a Classic Load Balancer's TLS certificate is issued and renewed by ACM",
        "PCI4-CLB-HTTPS-LISTENERS": "a Classic Load Balancer listener carries traffic over TLS only",
        "PCI4-CLB-TLS12-POLICY": "a Classic Load Balancer negotiates TLS 1.2 or later only",
        "PCI4-CLOUDFRONT-CUSTOM-CERTIFICATE": "viewers get the owner's own certificate, not the shared default one",
        "PCI4-CLOUDFRONT-ORIGIN-HTTPS": "CloudFront reaches its origins over HTTPS",
        "PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3": "no origin connection allows less than TLSv1.2",
        "PCI4-CLOUDFRONT-TLS12-POLICY": "viewer connections negotiate TLS 1.2 or later only",
        "PCI4-CLOUDFRONT-VIEWER-HTTPS": "viewers reach CloudFront over HTTPS only",
        "PCI4-DAX-TLS": "the DAX endpoint encrypts traffic with TLS",
        "PCI4-DMS-ENDPOINT-TLS": "replication endpoints connect with TLS",
        "PCI4-ELASTICACHE-TRANSIT-ENCRYPTION": "cache traffic is encrypted in transit, unencrypted connections refused",
        "PCI4-ELB-ACM-CERTIFICATE": "the load balancer's certificates are held in ACM; only one the templates"
        " request through ACM (AWS::CertificateManager::Certificate) is issued and renewed by ACM; a literal"
        " certificate ARN outside the templates may be imported, renewed by its owner, its key and expiry not"
        " shown here (the TLS work paper lists each: 4.2.1.1)",
        "PCI4-ELB-HTTP-REDIRECT-ONLY": "a plain-HTTP listener may only redirect to HTTPS; a request sent to one"
        " still crosses the internet in clear, so the landing zone has no port-80 listener at all",
        "PCI4-ELB-HTTPS-TLS12": "the internet-facing listener, where PAN arrives, allows TLS 1.2 or later only",
        "PCI4-ES-TLS12": "search domains require HTTPS with TLS 1.2 or later",
        "PCI4-MSK-CONNECT-IN-TRANSIT": "connectors reach their cluster over TLS",
        "PCI4-MSK-IN-TRANSIT": "brokers encrypt traffic between them and with clients",
        "PCI4-REDSHIFT-REQUIRE-TLS": "the warehouse refuses connections without TLS",
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
        "PCI4-IAM-NO-ADMIN-POLICY": "each identity it passed has no administrator policy attached; an identity"
        " that has one (AdministratorAccess, PowerUserAccess) is listed below, open or under exception with"
        " its stated need",
        "PCI4-IAM-NO-AWS-MANAGED-POLICY": "each identity it passed has its grants written for its role, not a broad"
        " AWS-managed set; the identities under exception below hold one, with its stated need",
        "PCI4-IAM-NO-SERVICE-WILDCARD": "for each identity it passed, no statement the templates write (inline and"
        " customer-managed policies) allows every action of a service; the AWS-managed policies attached to an"
        " identity are not read by it (PCI4-IAM-NO-AWS-MANAGED-POLICY and PCI4-IAM-NO-ADMIN-POLICY name them)",
        "PCI4-IAM-NO-STAR-ACTIONS": "for each identity it passed, no grant the templates write covers every"
        " action; one under exception below does, with its stated need",
        "PCI4-IAM-PERMISSIONS-BOUNDARY": "every role is capped by the boundary the access model defines",
        "PCI4-IAM-TRUST-SCOPED": "no role can be assumed by anyone: who may act as it is named",
        "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": "no identity may decrypt with every key",
        "PCI4-KMS-NO-PUBLIC-PRINCIPAL": "no key is usable by anyone",
        "PCI4-LAMBDA-NO-PUBLIC-ACCESS": "no function policy lets anyone invoke a function, and no function URL takes"
        " unauthenticated requests: every invoke grant names who may call (pack 1.11.0)",
        "PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE": "a service may invoke a function only for the named resource or"
        " account",
        "PCI4-S3-ACLS-DISABLED": "bucket access is by policy only, not by per-object ACLs",
        "PCI4-S3-PUBLIC-ACCESS-BLOCK": "no bucket grants access to everyone",
        "PCI4-SERVICECATALOG-ORG-SHARE": "the products an account may launch are granted through the organization's"
        " structure (the access model), never to a single account outside it",
    },
    "7.2.2": {
        "PCI4-IAM-NO-ADMIN-POLICY": "each identity it passed holds no administrator privileges by an attached"
        " policy; the identities listed below under exception do",
        "PCI4-IAM-NO-AWS-MANAGED-POLICY": "the privileges of each identity it passed are written per role, not taken"
        " from broad AWS-managed sets; the identities under exception below take them from one",
        "PCI4-IAM-NO-SERVICE-WILDCARD": "for each identity it passed, no statement the templates write (inline and"
        " customer-managed policies) allows every action of a service; the AWS-managed policies attached to an"
        " identity are not read by it (PCI4-IAM-NO-AWS-MANAGED-POLICY and PCI4-IAM-NO-ADMIN-POLICY name them)",
        "PCI4-IAM-NO-STAR-ACTIONS": "for each identity it passed, no grant the templates write covers every"
        " action; one under exception below does, with its stated need",
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
        "PCI4-IAM-NO-USERS": "the templates create no IAM user, so no identity they define authenticates with an IAM"
        " password or access key of its own; an IAM user they only trust (break-glass, below) is outside them",
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
        "PCI4-CODEBUILD-HARDENED": "build projects log to CloudWatch Logs",
        "PCI4-CONFIG-ALL-RESOURCES": "every resource's configuration changes are recorded",
        "PCI4-DOCDB-AUDIT-LOGS": "the document database's audit log is enabled and exported",
        "PCI4-EC2-CLIENT-VPN-LOGGING": "client VPN connections are logged",
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
        "PCI4-APIGW-REST-STAGE-LOGGING": "every REST API stage writes an access log and execution logs (pack 1.11.0)",
        "PCI4-S3-ACCESS-LOGGING": "bucket access is logged",
        "PCI4-TRAIL-DATA-EVENTS": "S3 object and Lambda invoke data events are recorded",
        "PCI4-TRAIL-LOGGING": "the trail is logging",
        "PCI4-TRAIL-MANAGEMENT-EVENTS": "a multi-region trail records every management event, read and write, KMS"
        " and RDS Data API events included (pack 1.15.0)",
        "PCI4-TRAIL-MULTI-REGION": "the trail covers every region and global services",
        "PCI4-WAF-LOGGING": "the web ACL logs its decisions",
    },
    "10.2.1.1": {
        "PCI4-TRAIL-DATA-EVENTS": "each invoke of a vault function (the path to cardholder data) is recorded with"
        " its caller",
    },
    "10.2.1.7": {
        "PCI4-TRAIL-MANAGEMENT-EVENTS": "creating and deleting system-level objects (resources, roles, keys, trails)"
        " are write management events, which a multi-region trail records in every region with no exclusion",
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
        "PCI4-TRAIL-VALIDATION": "signed digest files let a change to delivered trail logs be detected when someone"
        " validates them (on demand; they raise no alert), for the trail only",
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


# -- the conformance pack's Config rules -------------------------------------------------------------
# One reviewed line per (Config rule, requirement) pair of compliance/conformance/pci-dss-v4.json
# (each rule's `PciDssV401Requirements` metadata) that the report cites under "Watched after deploy":
# what the managed rule evaluates in the deployed account (its page in the AWS Config Developer Guide,
# "List of AWS Config Managed Rules") that the requirement's testing procedure looks at. A pair the
# review found unrelated is in `evidence.catalog.UNRELATED_CONFIG_RULES` instead, with its reason, and is
# never cited; `tests/test_evidence_catalog.py` fails when a pair of the pack is in neither table.
# Reviewed 2026-12-02 (issue 20). Kept by requirement, then Config rule, as above.
_CONFIG_BY_REQUIREMENT: dict[str, dict[str, str]] = {
    "1.2.1": {
        "pci-dss-v4-vpc-default-security-group-closed": "every VPC's default security group staying without rules"
        " is part of the NSC configuration standard 1.2.1.b compares configurations with",
    },
    "1.3.1": {
        "pci-dss-v4-restricted-common-ports": "no security group admits the whole internet on the commonly"
        " attacked ports, so no such inbound path to the CDE appears after deploy",
        "pci-dss-v4-restricted-ssh": "no security group admits SSH from the whole internet, an inbound path the"
        " CDE must not have",
        "pci-dss-v4-vpc-default-security-group-closed": "the default group admits nothing, so no resource"
        " placed in it is reachable inbound",
    },
    "1.4.2": {
        "pci-dss-v4-restricted-common-ports": "inbound traffic from the internet stays off the commonly attacked"
        " ports of every security group",
        "pci-dss-v4-restricted-ssh": "inbound SSH from the internet is refused by every security group",
    },
    "1.4.4": {
        "pci-dss-v4-ebs-snapshot-public-restorable-check": "an EBS snapshot is a copy of a volume's stored data;"
        " none may be restorable by anyone",
        "pci-dss-v4-ec2-instance-no-public-ip": "an instance with a public address is directly reachable from"
        " the internet; none has one",
        "pci-dss-v4-lambda-function-public-access-prohibited": "no function's resource policy lets anyone invoke"
        " it, an open path to whatever the function reads, the vault database included",
        "pci-dss-v4-rds-instance-public-access-check": "the cardholder-data database stays without a public"
        " address after deploy",
        "pci-dss-v4-rds-snapshots-public-prohibited": "a database snapshot is a copy of the store; none may be"
        " shared publicly",
        "pci-dss-v4-s3-account-level-public-access-blocks-periodic": "the account's S3 public access block keeps"
        " every bucket (a store) off public access, including buckets made later",
        "pci-dss-v4-s3-bucket-level-public-access-prohibited": "each bucket (a store) blocks public ACLs and policies",
        "pci-dss-v4-s3-bucket-public-read-prohibited": "no bucket (a store) is readable by anyone on the internet",
        "pci-dss-v4-s3-bucket-public-write-prohibited": "no bucket (a store) is writable by anyone on the internet",
        "pci-dss-v4-subnet-auto-assign-public-ip-disabled": "no subnet hands out public addresses that would make"
        " what is launched in it directly reachable",
    },
    "2.2.1": {
        "pci-dss-v4-ssm-document-not-public": "Systems Manager documents staying unshared is part of the"
        " account-level configuration standard (the guard blocks public SSM sharing) 2.2.1.c examines applied",
    },
    "2.2.6": {
        "pci-dss-v4-ec2-imdsv2-check": "IMDSv2 on every instance is a security parameter that blocks credential"
        " theft through SSRF",
    },
    "3.6.1": {
        "pci-dss-v4-kms-cmk-not-scheduled-for-deletion": "a customer key scheduled for deletion is reported during"
        " its waiting period, so a mistaken or malicious deletion of a key protecting account data is caught",
    },
    "3.7.4": {
        "pci-dss-v4-cmk-backing-key-rotation-enabled": "automatic rotation changes each symmetric key's material"
        " at the end of its cryptoperiod (KMS does not rotate HMAC keys; the rule does not see those)",
    },
    "4.2.1": {
        "pci-dss-v4-alb-http-to-https-redirection-check": "a plain-HTTP listener on a load balancer only"
        " redirects to HTTPS (the landing zone has none: a request sent to one crosses the internet in clear)",
    },
    "6.4.2": {
        "pci-dss-v4-alb-waf-enabled": "the public load balancer stays associated with a web ACL, the automated"
        " technical solution in front of the API",
    },
    "7.2.1": {
        "pci-dss-v4-iam-policy-no-statements-with-admin-access": "no customer-managed policy grants every action"
        " on every resource, which no need-to-know model assigns",
        "pci-dss-v4-iam-user-no-policies-check": "privileges come through roles and groups the access model"
        " defines, never attached to one user",
        "pci-dss-v4-lambda-function-public-access-prohibited": "no function can be invoked by anyone: who may"
        " invoke each is named",
        "pci-dss-v4-s3-bucket-public-read-prohibited": "no bucket grants read access to everyone",
        "pci-dss-v4-s3-bucket-public-write-prohibited": "no bucket grants write access to everyone",
    },
    "7.2.2": {
        "pci-dss-v4-iam-policy-no-statements-with-admin-access": "no policy grants full administrator"
        " privileges beyond a job's need",
        "pci-dss-v4-iam-user-no-policies-check": "privileges are assigned by job (role or group), not to"
        " individual users",
    },
    "8.2.2": {
        "pci-dss-v4-iam-root-access-key-check": "the root user is a generic account; without access keys it"
        " cannot be used by scripts or shared through a key",
    },
    "8.2.6": {
        "pci-dss-v4-iam-user-unused-credentials-check": "IAM user passwords and access keys unused for 90 days"
        " are reported for removal",
    },
    "8.3.6": {
        "pci-dss-v4-iam-password-policy": "the deployed IAM password policy's minimum length and character"
        " classes are compared with the required values",
    },
    "8.3.7": {
        "pci-dss-v4-iam-password-policy": "the deployed IAM password policy's reuse prevention is compared with"
        " the last four passwords",
    },
    "8.3.9": {
        "pci-dss-v4-access-keys-rotated": "an IAM user's access key, a single-factor credential, is reported when"
        " older than the rotation period",
        "pci-dss-v4-iam-password-policy": "the deployed IAM password policy's maximum password age is compared"
        " with 90 days",
    },
    "8.4.1": {
        "pci-dss-v4-root-account-mfa-enabled": "the root user has administrative access to every component of"
        " the account, and its sign-in is over the network (non-console in PCI DSS's sense); it needs MFA",
    },
    "8.4.2": {
        "pci-dss-v4-mfa-enabled-for-iam-console-access": "every IAM user with a console password has MFA",
    },
    "8.6.1": {
        "pci-dss-v4-iam-root-access-key-check": "root access keys would let the root user be used by systems and"
        " scripts; with none it is interactive only, and its use raises the RootAccountUsage alarm",
    },
    "8.6.3": {
        "pci-dss-v4-access-keys-rotated": "access keys that systems use are changed within the rotation period",
        "pci-dss-v4-secretsmanager-rotation-enabled-check": "the database master secret (a system account's"
        " password) has rotation enabled",
    },
    "10.2.1": {
        "pci-dss-v4-elb-logging-enabled": "the load balancer's access logs stay enabled",
        "pci-dss-v4-multi-region-cloudtrail-enabled": "a multi-region trail records every region's management"
        " events after deploy",
        "pci-dss-v4-netfw-logging-enabled": "the Network Firewall's alert and flow logs stay enabled",
        "pci-dss-v4-rds-logging-enabled": "the database's engine logs stay exported",
        "pci-dss-v4-s3-bucket-logging-enabled": "bucket server access logging stays enabled",
        "pci-dss-v4-vpc-flow-logs-enabled": "every VPC's flow log stays enabled",
    },
    "10.3.2": {
        "pci-dss-v4-cloud-trail-encryption-enabled": "trail log files stay encrypted under a customer key, whose"
        " key policy is a privilege between a principal and the files (Security Hub CloudTrail.2 cites 10.3.2);"
        " modification itself is prevented by the archive's Object Lock",
        "pci-dss-v4-cloudwatch-log-group-encrypted": "log groups stay encrypted under a customer key, whose key"
        " policy limits who can read and write their events",
    },
    "10.3.4": {
        "pci-dss-v4-cloud-trail-log-file-validation-enabled": "the trail keeps writing signed digest files, which"
        " let a change to its delivered logs be detected on validation (no alert)",
    },
    "10.4.1.1": {
        "pci-dss-v4-cloud-trail-cloud-watch-logs-enabled": "the trail keeps delivering to CloudWatch Logs, where"
        " metric filters and alarms review it automatically",
        "pci-dss-v4-securityhub-enabled": "Security Hub keeps reviewing findings against the PCI DSS v4.0.1"
        " controls automatically",
    },
    "10.5.1": {
        "pci-dss-v4-cw-loggroup-retention-period-check": "every log group's retention is compared with the"
        " required period after deploy",
    },
    "11.5.1": {
        "pci-dss-v4-guardduty-enabled-centralized": "GuardDuty, the intrusion-detection technique, stays enabled"
        " (centrally)",
    },
}

CONFIG_RULE_REASONS: dict[tuple[str, str], str] = {
    (rule, requirement): reason
    for requirement, rules in _CONFIG_BY_REQUIREMENT.items()
    for rule, reason in rules.items()
}


def config_reason(rule_name: str, requirement: str) -> str | None:
    """The reviewed reason a conformance-pack Config rule watches a requirement after deploy, if reviewed."""
    return CONFIG_RULE_REASONS.get((rule_name, requirement))
