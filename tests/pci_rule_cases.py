"""A compliant and a non-compliant template for every PCI DSS v4.0.1 rule.

Each case is `{logical id: resource}` for one stack named "S". The compliant one must
give the rule something to examine and pass it all; the non-compliant one must fail.
"""

from __future__ import annotations

import json
from typing import Any

from tests.pci_rule_cases_data_stores import DATA_STORE_CASES
from tests.pci_rule_cases_edge_compute import EDGE_COMPUTE_CASES
from tests.pci_rule_cases_pack_review import PACK_REVIEW_CASES
from tests.pci_rule_cases_workloads import WORKLOAD_CASES

Resources = dict[str, dict[str, Any]]


def r(type_: str, **properties: Any) -> dict[str, Any]:
    return {"Type": type_, "Properties": properties}


def retained(resource: dict[str, Any]) -> dict[str, Any]:
    """What `pci_constructs.retention.retain` renders (CDK RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)."""
    return {**resource, "DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}


REF = {"Ref": "Key"}
TOPIC = {"Ref": "Topic"}
KEY = {"Key": r("AWS::KMS::Key", EnableKeyRotation=True)}
TRAIL_OK: dict[str, Any] = {
    "IsLogging": True,
    "IsMultiRegionTrail": True,
    "IncludeGlobalServiceEvents": True,
    "EnableLogFileValidation": True,
    "KMSKeyId": REF,
    "CloudWatchLogsLogGroupArn": {"Fn::GetAtt": ["Group", "Arn"]},
    "CloudWatchLogsRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
    "S3BucketName": {"Ref": "Archive"},
}
LOCKED = {"ObjectLockEnabled": True, "ObjectLockConfiguration": {"Rule": {"DefaultRetention": {"Days": 365}}}}
ALB: dict[str, Any] = {
    "Scheme": "internet-facing",
    "Type": "application",
    "SecurityGroups": [{"Fn::GetAtt": ["Edge", "GroupId"]}],
    "Subnets": [{"Ref": "Public"}],
    "LoadBalancerAttributes": [
        {"Key": "access_logs.s3.enabled", "Value": "true"},
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
        {"Key": "deletion_protection.enabled", "Value": "true"},
    ],
}
DB_OK: dict[str, Any] = {
    "StorageEncrypted": True,
    "KmsKeyId": REF,
    "PubliclyAccessible": False,
    "DeletionProtection": True,
    "DBParameterGroupName": {"Ref": "Params"},
    "EnableCloudwatchLogsExports": ["postgresql"],
    "BackupRetentionPeriod": 7,
}
PARAMS = {"Params": r("AWS::RDS::DBParameterGroup", Family="postgres17", Parameters={"rds.force_ssl": "1"})}
TLS_DENY = {
    "Effect": "Deny",
    "Action": "s3:*",
    "Principal": {"AWS": "*"},
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
BPA = dict.fromkeys(("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True)
CDE_SUBNET = r("AWS::EC2::Subnet", VpcId={"Ref": "Vpc"}, Tags=[{"Key": "pci-scope", "Value": "cde"}])
LOG_GROUP = r("AWS::Logs::LogGroup", KmsKeyId=REF, RetentionInDays=365)
ALLOW_ALL_POLICY = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
LAMBDA_TRUST = {
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]
}


def _cde_route(target: dict[str, Any]) -> Resources:
    return {
        "Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
        "Cde": CDE_SUBNET,
        "Table": r("AWS::EC2::RouteTable", VpcId={"Ref": "Vpc"}),
        "Assoc": r("AWS::EC2::SubnetRouteTableAssociation", SubnetId={"Ref": "Cde"}, RouteTableId={"Ref": "Table"}),
        "Igw": r("AWS::EC2::InternetGateway"),
        "Route": r("AWS::EC2::Route", RouteTableId={"Ref": "Table"}, DestinationCidrBlock="0.0.0.0/0", **target),
    }


def _secret(**rules: Any) -> Resources:
    out: Resources = {"Secret": r("AWS::SecretsManager::Secret", KmsKeyId=REF)}
    if rules:
        out["Rotation"] = r("AWS::SecretsManager::RotationSchedule", SecretId={"Ref": "Secret"}, RotationRules=rules)
    return out


KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _bucket(policy: list[dict[str, Any]] | None = None, **properties: Any) -> Resources:
    out: Resources = {"Bucket": r("AWS::S3::Bucket", **properties)}
    if policy is not None:
        out["Policy"] = r("AWS::S3::BucketPolicy", Bucket={"Ref": "Bucket"}, PolicyDocument={"Statement": policy})
    return out


def _nacl_entry(cidr: str, port: int) -> Resources:
    return {
        "Nacl": r("AWS::EC2::NetworkAcl", VpcId={"Ref": "Vpc"}),
        "Entry": r(
            "AWS::EC2::NetworkAclEntry",
            NetworkAclId={"Ref": "Nacl"},
            Egress=False,
            RuleAction="allow",
            RuleNumber=100,
            Protocol=6,
            CidrBlock=cidr,
            PortRange={"From": port, "To": port},
        ),
    }


def _function(**properties: Any) -> Resources:
    return {
        "Fn": r("AWS::Lambda::Function", Role="arn:aws:iam::111111111111:role/x", Runtime="python3.12", **properties)
    }


def _sg(ingress: list[dict[str, Any]], edge: bool) -> Resources:
    out: Resources = {"Edge": r("AWS::EC2::SecurityGroup", GroupDescription="edge", SecurityGroupIngress=ingress)}
    if edge:
        out["Lb"] = r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB)
    return out


def _listener(protocol: str, **properties: Any) -> Resources:
    return {
        "Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB),
        "Listener": r(
            "AWS::ElasticLoadBalancingV2::Listener", LoadBalancerArn={"Ref": "Lb"}, Protocol=protocol, **properties
        ),
    }


REDIRECT = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]
FORWARD = [{"Type": "forward", "TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/y"}]
WEB_ACL = {"Acl": r("AWS::WAFv2::WebACL", Scope="REGIONAL", DefaultAction={"Allow": {}})}


def _detector(*features: str) -> Resources:
    return {"Detector": r("AWS::GuardDuty::Detector", Enable=True, Features=[_feature(f) for f in features])}


def _feature(name: str) -> dict[str, Any]:
    if name != "RUNTIME_MONITORING":
        return {"Name": name, "Status": "ENABLED"}
    return {
        "Name": name,
        "Status": "ENABLED",
        "AdditionalConfiguration": [{"Name": "EKS_ADDON_MANAGEMENT", "Status": "ENABLED"}],
    }


GD_FEATURES = ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "RUNTIME_MONITORING")


def _hub(standard: str) -> Resources:
    return {
        "Hub": r("AWS::SecurityHub::Hub", EnableDefaultStandards=False),
        "Standard": r(
            "AWS::SecurityHub::Standard", StandardsArn=f"arn:aws:securityhub:us-east-1::standards/{standard}"
        ),
    }


def sdk(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A CDK AwsCustomResource as CDK renders it: the call as a JSON string (tokens through Fn::Join)."""
    call = json.dumps({"service": service, "action": action, "parameters": parameters})
    head, _, tail = call.partition('"<ACCOUNT>"')
    create: Any = call if not tail else {"Fn::Join": ["", [head + '"', {"Ref": "AWS::AccountId"}, '"' + tail]]}
    return r("Custom::AWS", ServiceToken="arn:aws:lambda:us-east-1:1:function:x", Create=create)


PASSWORD_POLICY = {
    "MinimumPasswordLength": 14,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "MaxPasswordAge": 90,
    "PasswordReusePrevention": 24,
}


def _guards(password: dict[str, Any], tokens: str, ssm: str) -> Resources:
    return {
        "Password": sdk("IAM", "updateAccountPasswordPolicy", password),
        "S3Bpa": sdk(
            "S3Control", "putPublicAccessBlock", {"AccountId": "<ACCOUNT>", "PublicAccessBlockConfiguration": BPA}
        ),
        "Imds": sdk("EC2", "modifyInstanceMetadataDefaults", {"HttpTokens": tokens}),
        "Ami": sdk("EC2", "enableImageBlockPublicAccess", {"ImageBlockPublicAccessState": "block-new-sharing"}),
        "EmrBpa": sdk(
            "EMR",
            "putBlockPublicAccessConfiguration",
            {"BlockPublicAccessConfiguration": {"BlockPublicSecurityGroupRules": tokens == "required"}},
        ),
        "Snapshots": r("AWS::EC2::SnapshotBlockPublicAccess", State="block-all-sharing"),
        "Ssm": r(
            "AWS::SSM::ServiceSetting",
            SettingId="/ssm/documents/console/public-sharing-permission",
            SettingValue=ssm,
        ),
    }


def _alb(**attributes: str) -> Resources:
    return {
        "Lb": r(
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            **{**ALB, "LoadBalancerAttributes": [{"Key": k, "Value": v} for k, v in attributes.items()]},
        )
    }


def _trail(selectors: list[dict[str, Any]]) -> Resources:
    return {
        "Trail": r("AWS::CloudTrail::Trail", **TRAIL_OK, AdvancedEventSelectors=selectors),
        "Archive": r("AWS::S3::Bucket", **LOCKED),
        "Data": r("AWS::S3::Bucket"),
    }


def _selector(resource_type: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": [resource_type]},
            *extra,
        ]
    }


def _not_starts_with(bucket: str) -> dict[str, Any]:
    return {
        "Field": "resources.ARN",
        "NotStartsWith": [{"Fn::Join": ["", ["arn:aws:s3:::", {"Ref": bucket}, "/"]]}],
    }


FIREWALL_POLICY: dict[str, Any] = {
    "StatefulDefaultActions": ["aws:drop_established", "aws:alert_established"],
    "StatefulEngineOptions": {"RuleOrder": "STRICT_ORDER"},
    "StatefulRuleGroupReferences": [{"Priority": 100, "ResourceArn": {"Fn::GetAtt": ["Group", "RuleGroupArn"]}}],
    "StatelessDefaultActions": ["aws:forward_to_sfe"],
    "StatelessFragmentDefaultActions": ["aws:forward_to_sfe"],
}


def _firewall(
    policy: dict[str, Any], *, protected: bool = True, logs: tuple[str, ...] = ("ALERT", "FLOW")
) -> Resources:
    return {
        "Group": r(
            "AWS::NetworkFirewall::RuleGroup",
            Capacity=100,
            Type="STATEFUL",
            RuleGroup={"RulesSource": {"RulesSourceList": {"GeneratedRulesType": "ALLOWLIST", "Targets": [".x.net"]}}},
        ),
        "Policy": r("AWS::NetworkFirewall::FirewallPolicy", FirewallPolicyName="p", FirewallPolicy=policy),
        "Firewall": r(
            "AWS::NetworkFirewall::Firewall",
            FirewallPolicyArn={"Fn::GetAtt": ["Policy", "FirewallPolicyArn"]},
            DeleteProtection=protected,
            SubnetChangeProtection=protected,
            VpcId="vpc-1",
            SubnetMappings=[{"SubnetId": "subnet-1"}],
        ),
        "Logging": r(
            "AWS::NetworkFirewall::LoggingConfiguration",
            FirewallArn={"Fn::GetAtt": ["Firewall", "FirewallArn"]},
            LoggingConfiguration={
                "LogDestinationConfigs": [
                    {"LogType": t, "LogDestinationType": "CloudWatchLogs", "LogDestination": {"logGroup": "g"}}
                    for t in logs
                ]
            },
        ),
    }


def _db_with_secret(username: str) -> Resources:
    return {
        "Secret": r(
            "AWS::SecretsManager::Secret",
            KmsKeyId=REF,
            GenerateSecretString={
                "SecretStringTemplate": json.dumps({"username": username}),
                "GenerateStringKey": "password",
            },
        ),
        "Db": r(
            "AWS::RDS::DBInstance",
            **DB_OK,
            Engine="postgres",
            MasterUsername={
                "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Secret"}, ":SecretString:username::}}"]]
            },
        ),
    }


ADMIN = "arn:aws:iam::111111111111:role/key-admin"
ROOT_STATEMENT = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*"}
ADMIN_STATEMENT = {
    "Effect": "Allow",
    "Principal": {"AWS": ADMIN},
    "Action": ["kms:DisableKey", "kms:ScheduleKeyDeletion"],
}
DENY_CRYPTO = {"Effect": "Deny", "Principal": {"AWS": ADMIN}, "Action": ["kms:Decrypt", "kms:Encrypt"]}


def _key_policy(*extra: dict[str, Any]) -> Resources:
    return {"Key": r("AWS::KMS::Key", KeyPolicy={"Statement": [ROOT_STATEMENT, ADMIN_STATEMENT, *extra]})}


def _policy(*statements: dict[str, Any]) -> Resources:
    return {"Policy": r("AWS::IAM::ManagedPolicy", PolicyDocument={"Statement": list(statements)})}


def _acl(rules: list[dict[str, Any]]) -> Resources:
    return {"Acl": r("AWS::WAFv2::WebACL", Scope="REGIONAL", DefaultAction={"Allow": {}}, Rules=rules)}


def _managed(name: str, override: str = "None") -> dict[str, Any]:
    return {
        "Name": name,
        "Priority": 1,
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}},
        "OverrideAction": {override: {}},
        "VisibilityConfig": {"CloudWatchMetricsEnabled": True, "MetricName": name, "SampledRequestsEnabled": True},
    }


def _project(**environment: Any) -> Resources:
    return {
        "Project": r(
            "AWS::CodeBuild::Project",
            Source={"Type": "CODEPIPELINE"},
            Artifacts={"Type": "CODEPIPELINE"},
            ServiceRole="arn:aws:iam::1:role/build",
            Environment={"ComputeType": "BUILD_GENERAL1_SMALL", "Image": "aws/codebuild/standard:7.0", **environment},
        )
    }


NEW_CASES: dict[str, tuple[Resources, Resources]] = {
    # a Parameter without a Default: the template's Parameters section is added by `parameters_case`
    "PCI4-TEMPLATE-PARAMETERS-RESOLVED": (
        {
            "Group": r(
                "AWS::EC2::SecurityGroup", GroupDescription="g", SecurityGroupIngress=[{"CidrIp": {"Ref": "Known"}}]
            )
        },
        {
            "Group": r(
                "AWS::EC2::SecurityGroup", GroupDescription="g", SecurityGroupIngress=[{"CidrIp": {"Ref": "Cidr"}}]
            )
        },
    ),
    # a SAM resource (CloudFormation expands it at deploy: the rules never see what it becomes)
    "PCI4-TEMPLATE-NO-TRANSFORMS": (
        {"Table": r("AWS::DynamoDB::Table", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])},
        {"Table": r("AWS::Serverless::SimpleTable", SSESpecification={"SSEEnabled": False})},
    ),
    "PCI4-GUARDDUTY-PROTECTIONS": (_detector(*GD_FEATURES), _detector("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS")),
    "PCI4-SECURITYHUB-PCI-V401": (_hub("pci-dss/v/4.0.1"), _hub("pci-dss/v/3.2.1")),
    "PCI4-INSPECTOR-LAMBDA-SCANNING": (
        {"Inspector": sdk("Inspector2", "enable", {"resourceTypes": ["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"]})},
        {"Inspector": sdk("Inspector2", "enable", {"resourceTypes": ["EC2", "ECR"]})},
    ),
    "PCI4-ACCOUNT-GUARD-VALUES": (
        _guards(PASSWORD_POLICY, "required", "Disable"),
        _guards({**PASSWORD_POLICY, "MinimumPasswordLength": 8}, "optional", "Enable"),
    ),
    "PCI4-ELB-DESYNC-MITIGATION": (
        _alb(**{"routing.http.desync_mitigation_mode": "strictest"}),
        _alb(**{"routing.http.desync_mitigation_mode": "monitor"}),
    ),
    "PCI4-ELB-ACM-CERTIFICATE": (
        {
            **_listener("HTTPS", Certificates=[{"CertificateArn": {"Ref": "Cert"}}]),
            "Cert": r("AWS::CertificateManager::Certificate", DomainName="x.example.com", KeyAlgorithm="EC_prime256v1"),
        },
        {
            **_listener(
                "HTTPS", Certificates=[{"CertificateArn": "arn:aws:iam::111111111111:server-certificate/legacy"}]
            ),
            "Cert": r("AWS::CertificateManager::Certificate", DomainName="x.example.com", KeyAlgorithm="RSA_1024"),
        },
    ),
    "PCI4-TRAIL-DATA-EVENTS": (
        _trail([_selector("AWS::S3::Object", _not_starts_with("Archive")), _selector("AWS::Lambda::Function")]),
        _trail(
            [
                _selector("AWS::S3::Object", _not_starts_with("Data")),
                _selector("AWS::Lambda::Function", {"Field": "readOnly", "Equals": ["false"]}),
            ]
        ),
    ),
    "PCI4-NETWORK-FIREWALL-POSTURE": (
        _firewall(FIREWALL_POLICY),
        _firewall({**FIREWALL_POLICY, "StatefulDefaultActions": ["aws:pass"]}, protected=False, logs=("FLOW",)),
    ),
    "PCI4-RDS-IAM-AUTH": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK, Engine="postgres", EnableIAMDatabaseAuthentication=True)},
        {"Db": r("AWS::RDS::DBInstance", **DB_OK, Engine="postgres")},
    ),
    "PCI4-RDS-PROXY-IAM": (
        {"Proxy": r("AWS::RDS::DBProxy", RequireTLS=True, DefaultAuthScheme="IAM_AUTH")},
        {
            "Proxy": r(
                "AWS::RDS::DBProxy",
                RequireTLS=True,
                Auth=[{"AuthScheme": "SECRETS", "IAMAuth": "DISABLED", "SecretArn": "arn:aws:secretsmanager:x"}],
            )
        },
    ),
    "PCI4-RDS-CUSTOM-MASTER-USERNAME": (_db_with_secret("cde_admin"), _db_with_secret("postgres")),
    "PCI4-KMS-CUSTODIAN-SEPARATION": (
        _key_policy(DENY_CRYPTO),
        _key_policy({"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "kms:Decrypt"}),
    ),
    "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": (
        _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::GetAtt": ["Key", "Arn"]}}),
        _policy({"Effect": "Allow", "Action": ["kms:Decrypt*"], "Resource": "*"}),
    ),
    "PCI4-IAM-NO-SERVICE-WILDCARD": (
        _policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}),
        _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
    ),
    "PCI4-WAF-WEB-ACL-CONTENT": (
        _acl([_managed("AWSManagedRulesCommonRuleSet"), _managed("AWSManagedRulesKnownBadInputsRuleSet")]),
        _acl([_managed("AWSManagedRulesCommonRuleSet", "Count")]),
    ),
    "PCI4-CODEBUILD-HARDENED": (
        _project(PrivilegedMode=False),
        _project(
            PrivilegedMode=True,
            EnvironmentVariables=[{"Name": "AWS_SECRET_ACCESS_KEY", "Type": "PLAINTEXT", "Value": "x"}],
        ),
    ),
}


def _card_function(data_key_condition: dict[str, Any] | None, mac_key_spec: str, *, other_mac_role: bool) -> Resources:
    """A function marked as holding card data, its role and managed policy, its HMAC key (and optionally
    another role that may MAC with the same key)."""
    data_key: dict[str, Any] = {"Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": "arn:aws:kms:x"}
    if data_key_condition is not None:
        data_key["Condition"] = data_key_condition
    mac = {
        "Effect": "Allow",
        "Action": "kms:GenerateMac",
        "Resource": {"Fn::GetAtt": ["Mac", "Arn"]},
        "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}},
    }
    # Lambda decrypts the environment with the role's kms:Decrypt on KmsKeyArn: no context, not card data.
    environment = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::GetAtt": ["EnvKey", "Arn"]}}
    resources: Resources = {
        "EnvKey": r("AWS::KMS::Key", EnableKeyRotation=True),
        "Mac": r("AWS::KMS::Key", KeySpec=mac_key_spec, KeyUsage="GENERATE_VERIFY_MAC"),
        "Role": r("AWS::IAM::Role", AssumeRolePolicyDocument={}),
        "Policy": r(
            "AWS::IAM::ManagedPolicy",
            Roles=[{"Ref": "Role"}],
            PolicyDocument={"Statement": [environment, data_key, mac]},
        ),
        "Fn": {
            **r(
                "AWS::Lambda::Function",
                Role={"Fn::GetAtt": ["Role", "Arn"]},
                KmsKeyArn={"Fn::GetAtt": ["EnvKey", "Arn"]},
            ),
            "Metadata": {
                "pci-lz:card-data": {
                    "receives": ["PAN"],
                    "sends": ["token"],
                    "stores": ["PAN ciphertext"],
                    "mechanisms": ["envelope-encryption", "keyed-hash"],
                }
            },
        },
    }
    if other_mac_role:
        resources["Operator"] = r(
            "AWS::IAM::Role",
            AssumeRolePolicyDocument={},
            Policies=[{"PolicyName": "p", "PolicyDocument": {"Statement": [mac]}}],
        )
    return resources


_CONTEXT = {"StringEquals": {"kms:EncryptionContext:purpose": "card-vault-data-key"}}
CARD_DATA_CASES: dict[str, tuple[Resources, Resources]] = {
    "PCI4-CARD-DATA-FIELD-ENCRYPTION": (
        _card_function(_CONTEXT, "HMAC_256", other_mac_role=False),
        _card_function(None, "HMAC_256", other_mac_role=False),
    ),
}


# rule id -> (compliant, non-compliant)
WAF_WITHOUT_LOGS: Resources = {
    "Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB),
    **WEB_ACL,
    "Assoc": r("AWS::WAFv2::WebACLAssociation", ResourceArn={"Ref": "Lb"}, WebACLArn={"Fn::GetAtt": ["Acl", "Arn"]}),
}
CASES: dict[str, tuple[Resources, Resources]] = {
    "PCI4-KMS-ROTATION": (KEY, {"Key": r("AWS::KMS::Key", EnableKeyRotation=False)}),
    "PCI4-KMS-NO-PUBLIC-PRINCIPAL": (
        {
            "Key": r(
                "AWS::KMS::Key",
                KeyPolicy={
                    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "kms:*"}]
                },
            )
        },
        {
            "Key": r(
                "AWS::KMS::Key",
                KeyPolicy={"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt"}]},
            )
        },
    ),
    "PCI4-KMS-DELETION-WINDOW": (
        {"Key": r("AWS::KMS::Key", PendingWindowInDays=30)},
        {"Key": r("AWS::KMS::Key", PendingWindowInDays=7)},
    ),
    "PCI4-LOGS-KMS-RETAINED": ({"Group": LOG_GROUP}, {"Group": r("AWS::Logs::LogGroup", RetentionInDays=30)}),
    "PCI4-TRAIL-LOGGING": (
        {"Trail": r("AWS::CloudTrail::Trail", IsLogging=True)},
        {"Trail": r("AWS::CloudTrail::Trail", IsLogging=False)},
    ),
    "PCI4-TRAIL-MULTI-REGION": (
        {"Trail": r("AWS::CloudTrail::Trail", **TRAIL_OK)},
        {"Trail": r("AWS::CloudTrail::Trail", **{**TRAIL_OK, "IsMultiRegionTrail": False})},
    ),
    "PCI4-TRAIL-MANAGEMENT-EVENTS": (
        _trail([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]),
        _trail(
            [
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
                    ]
                }
            ]
        ),
    ),
    "PCI4-TRAIL-VALIDATION": (
        {"Trail": r("AWS::CloudTrail::Trail", **TRAIL_OK)},
        {"Trail": r("AWS::CloudTrail::Trail", **{**TRAIL_OK, "EnableLogFileValidation": "false"})},
    ),
    "PCI4-TRAIL-KMS": (
        {"Trail": r("AWS::CloudTrail::Trail", **TRAIL_OK)},
        {"Trail": r("AWS::CloudTrail::Trail", **{k: v for k, v in TRAIL_OK.items() if k != "KMSKeyId"})},
    ),
    "PCI4-TRAIL-CLOUDWATCH": (
        {"Trail": r("AWS::CloudTrail::Trail", **TRAIL_OK)},
        {"Trail": r("AWS::CloudTrail::Trail", **{k: v for k, v in TRAIL_OK.items() if not k.startswith("CloudWatch")})},
    ),
    "PCI4-TRAIL-ARCHIVE-OBJECT-LOCK": (
        {"Trail": r("AWS::CloudTrail::Trail", **TRAIL_OK), "Archive": r("AWS::S3::Bucket", **LOCKED)},
        {"Trail": r("AWS::CloudTrail::Trail", **TRAIL_OK), "Archive": r("AWS::S3::Bucket")},
    ),
    "PCI4-ELB-HTTPS-TLS12": (
        _listener("HTTPS", SslPolicy="ELBSecurityPolicy-TLS13-1-2-Res-2021-06", Certificates=[{"CertificateArn": "a"}]),
        _listener("HTTPS", SslPolicy="ELBSecurityPolicy-2016-08", Certificates=[{"CertificateArn": "a"}]),
    ),
    "PCI4-ELB-HTTP-REDIRECT-ONLY": (
        _listener("HTTP", DefaultActions=REDIRECT),
        _listener("HTTP", DefaultActions=FORWARD),
    ),
    "PCI4-ELB-WAF": (
        {
            "Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB),
            **WEB_ACL,
            "Logging": r(
                "AWS::WAFv2::LoggingConfiguration",
                ResourceArn={"Fn::GetAtt": ["Acl", "Arn"]},
                LogDestinationConfigs=["arn:aws:logs:us-east-1:1:log-group:aws-waf-logs-x"],
            ),
            "Assoc": r(
                "AWS::WAFv2::WebACLAssociation", ResourceArn={"Ref": "Lb"}, WebACLArn={"Fn::GetAtt": ["Acl", "Arn"]}
            ),
        },
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB)},
    ),
    "PCI4-WAF-LOGGING": (
        {
            **WEB_ACL,
            "Logging": r(
                "AWS::WAFv2::LoggingConfiguration",
                ResourceArn={"Fn::GetAtt": ["Acl", "Arn"]},
                LogDestinationConfigs=["arn:aws:logs:us-east-1:1:log-group:aws-waf-logs-x"],
            ),
        },
        WEB_ACL,
    ),
    "PCI4-ELB-ACCESS-LOGS": (
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB)},
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **{**ALB, "LoadBalancerAttributes": []})},
    ),
    "PCI4-ELB-DROP-INVALID-HEADERS": (
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB)},
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **{**ALB, "LoadBalancerAttributes": []})},
    ),
    "PCI4-ELB-PUBLIC-SUBNETS-ONLY": (
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB), "Public": r("AWS::EC2::Subnet", VpcId="v")},
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB), "Public": CDE_SUBNET},
    ),
    "PCI4-ELB-DELETION-PROTECTION": (
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **ALB)},
        {"Lb": r("AWS::ElasticLoadBalancingV2::LoadBalancer", **{**ALB, "LoadBalancerAttributes": []})},
    ),
    "PCI4-EC2-SG-NO-OPEN-INGRESS": (
        _sg([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}], edge=True),
        _sg([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}], edge=True),
    ),
    "PCI4-EC2-SG-NO-ALLOW-ALL-EGRESS": (
        {
            "Sg": r(
                "AWS::EC2::SecurityGroup",
                GroupDescription="x",
                SecurityGroupEgress=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}],
            )
        },
        {
            "Sg": r(
                "AWS::EC2::SecurityGroup",
                GroupDescription="x",
                SecurityGroupEgress=[{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}],
            )
        },
    ),
    "PCI4-EC2-NACL-NO-OPEN-INGRESS": (_nacl_entry("0.0.0.0/0", 443), _nacl_entry("0.0.0.0/0", 22)),
    "PCI4-EC2-CDE-NO-INTERNET-ROUTE": (
        {k: v for k, v in _cde_route({}).items() if k != "Route"},
        _cde_route({"GatewayId": {"Ref": "Igw"}}),
    ),
    "PCI4-EC2-FLOW-LOGS": (
        {
            "Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
            "Flow": r("AWS::EC2::FlowLog", ResourceId={"Ref": "Vpc"}, ResourceType="VPC", TrafficType="ALL"),
        },
        {
            "Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
            "Flow": r("AWS::EC2::FlowLog", ResourceId={"Ref": "Vpc"}, ResourceType="VPC", TrafficType="REJECT"),
        },
    ),
    "PCI4-EC2-NO-AUTO-PUBLIC-IP": (
        {"Subnet": r("AWS::EC2::Subnet", VpcId="v", MapPublicIpOnLaunch=False)},
        {"Subnet": r("AWS::EC2::Subnet", VpcId="v", MapPublicIpOnLaunch=True)},
    ),
    "PCI4-EC2-DEFAULT-SG-RESTRICTED": (
        {
            "Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
            "Restrict": r(
                "Custom::VpcRestrictDefaultSG", DefaultSecurityGroupId={"Fn::GetAtt": ["Vpc", "DefaultSecurityGroup"]}
            ),
        },
        {"Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16")},
    ),
    "PCI4-EC2-EBS-DEFAULT-ENCRYPTION": (
        {
            "Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
            "Ebs": r("Custom::AWS", Create='{"action":"enableEbsEncryptionByDefault"}'),
        },
        {
            "Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
            "Ebs": r("Custom::AWS", Create='{"action":"disableEbsEncryptionByDefault"}'),
        },
    ),
    "PCI4-EC2-VOLUME-ENCRYPTED": (
        {"Volume": r("AWS::EC2::Volume", Encrypted=True, KmsKeyId=REF)},
        {"Volume": r("AWS::EC2::Volume", Encrypted=False)},
    ),
    "PCI4-RDS-STORAGE-ENCRYPTED": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK)},
        {"Db": r("AWS::RDS::DBInstance", **{**DB_OK, "StorageEncrypted": False})},
    ),
    "PCI4-RDS-INHERITED-ENCRYPTION": (
        {
            "Source": r("AWS::RDS::DBInstance", **DB_OK),
            "Replica": r(
                "AWS::RDS::DBInstance",
                **{k: v for k, v in DB_OK.items() if k != "StorageEncrypted"},
                SourceDBInstanceIdentifier={"Ref": "Source"},
            ),
        },
        {"Db": r("AWS::RDS::DBInstance", **{**DB_OK, "DBSnapshotIdentifier": "snap-1"})},
    ),
    "PCI4-RDS-CUSTOMER-KEY": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK)},
        {"Db": r("AWS::RDS::DBInstance", **{**DB_OK, "KmsKeyId": "alias/aws/rds"})},
    ),
    "PCI4-RDS-NOT-PUBLIC": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK)},
        {"Db": r("AWS::RDS::DBInstance", **{**DB_OK, "PubliclyAccessible": True})},
    ),
    "PCI4-RDS-DELETION-PROTECTION": (
        {"Db": r("AWS::RDS::DBCluster", **DB_OK)},
        {"Db": r("AWS::RDS::DBCluster", **{**DB_OK, "DeletionProtection": False})},
    ),
    "PCI4-RDS-TLS-FORCED": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK), **PARAMS},
        {
            "Db": r("AWS::RDS::DBInstance", **DB_OK),
            "Params": r("AWS::RDS::DBParameterGroup", Family="postgres17", Parameters={"rds.force_ssl": "0"}),
        },
    ),
    "PCI4-RDS-LOG-EXPORTS": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK)},
        {"Db": r("AWS::RDS::DBInstance", **{k: v for k, v in DB_OK.items() if k != "EnableCloudwatchLogsExports"})},
    ),
    "PCI4-RDS-BACKUPS": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK)},
        {"Db": r("AWS::RDS::DBInstance", **{**DB_OK, "BackupRetentionPeriod": 1})},
    ),
    "PCI4-RDS-PROXY-TLS": (
        {"Proxy": r("AWS::RDS::DBProxy", RequireTLS=True)},
        {"Proxy": r("AWS::RDS::DBProxy", RequireTLS=False)},
    ),
    "PCI4-RDS-MINOR-UPGRADES": (
        {"Db": r("AWS::RDS::DBInstance", **DB_OK), "Cluster": r("AWS::RDS::DBCluster", AutoMinorVersionUpgrade=True)},
        {
            "Db": r("AWS::RDS::DBInstance", **{**DB_OK, "AutoMinorVersionUpgrade": False}),
            "Cluster": r("AWS::RDS::DBCluster", AutoMinorVersionUpgrade=False),
        },
    ),
    "PCI4-SECRET-ROTATION": (_secret(ScheduleExpression="rate(30 days)"), _secret()),
    "PCI4-SECRET-CUSTOMER-KEY": (_secret(), {"Secret": r("AWS::SecretsManager::Secret")}),
    # S3 applies SSE-S3 to every new object of a bucket that declares none: the compliant case declares
    # nothing; only an algorithm S3 does not have fails (QSA reader r21c).
    "PCI4-S3-ENCRYPTION": (
        _bucket(),
        _bucket(
            BucketEncryption={
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:des"}}]
            }
        ),
    ),
    "PCI4-S3-CUSTOMER-KEY": (
        _bucket(
            BucketEncryption={
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}}
                ]
            }
        ),
        _bucket(),
    ),
    "PCI4-S3-PUBLIC-ACCESS-BLOCK": (
        _bucket(PublicAccessBlockConfiguration=BPA),
        _bucket(PublicAccessBlockConfiguration={**BPA, "RestrictPublicBuckets": False}),
    ),
    "PCI4-S3-TLS-ONLY": (_bucket([TLS_DENY]), _bucket([])),
    "PCI4-S3-VERSIONING": (
        _bucket(VersioningConfiguration={"Status": "Enabled"}),
        _bucket(VersioningConfiguration={"Status": "Suspended"}),
    ),
    "PCI4-S3-ACCESS-LOGGING": (
        {**_bucket(LoggingConfiguration={"DestinationBucketName": {"Ref": "Logs"}}), "Logs": r("AWS::S3::Bucket")},
        _bucket(),
    ),
    "PCI4-S3-ACLS-DISABLED": (
        _bucket(OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
        _bucket(OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}),
    ),
    "PCI4-LAMBDA-IN-VPC": (
        _function(VpcConfig={"SubnetIds": [{"Ref": "Cde"}], "SecurityGroupIds": ["sg-1"]}),
        _function(),
    ),
    "PCI4-LAMBDA-ENV-ENCRYPTED": (
        _function(Environment={"Variables": {"A": "b"}}, KmsKeyArn={"Fn::GetAtt": ["Key", "Arn"]}),
        _function(Environment={"Variables": {"A": "b"}}),
    ),
    "PCI4-LAMBDA-LOG-GROUP": (
        {**_function(LoggingConfig={"LogGroup": {"Ref": "Group"}}), "Group": LOG_GROUP},
        _function(),
    ),
    "PCI4-LAMBDA-SUPPORTED-RUNTIME": (_function(), {"Fn": r("AWS::Lambda::Function", Runtime="python3.7")}),
    "PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE": (
        {
            **_function(),
            "FromAlb": r(
                "AWS::Lambda::Permission",
                Action="lambda:InvokeFunction",
                FunctionName={"Fn::GetAtt": ["Fn", "Arn"]},
                Principal="elasticloadbalancing.amazonaws.com",
                SourceArn={
                    "Fn::Sub": "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:tg/*"
                },
                SourceAccount={"Ref": "AWS::AccountId"},
            ),
            "FromRole": r(
                "AWS::Lambda::Permission",
                Action="lambda:InvokeFunction",
                FunctionName={"Fn::GetAtt": ["Fn", "Arn"]},
                Principal="arn:aws:iam::111111111111:role/caller",
            ),
        },
        {
            **_function(),
            "FromAlb": r(
                "AWS::Lambda::Permission",
                Action="lambda:InvokeFunction",
                FunctionName={"Fn::GetAtt": ["Fn", "Arn"]},
                Principal="elasticloadbalancing.amazonaws.com",
            ),
        },
    ),
    "PCI4-IAM-NO-STAR-ACTIONS": (
        {
            "Policy": r(
                "AWS::IAM::Policy",
                PolicyDocument={"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
            )
        },
        {"Policy": r("AWS::IAM::ManagedPolicy", PolicyDocument=ALLOW_ALL_POLICY)},
    ),
    "PCI4-IAM-NO-ADMIN-POLICY": (
        {"Role": r("AWS::IAM::Role", AssumeRolePolicyDocument=LAMBDA_TRUST)},
        {
            "Role": r(
                "AWS::IAM::Role",
                AssumeRolePolicyDocument=LAMBDA_TRUST,
                ManagedPolicyArns=[{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"}],
            )
        },
    ),
    "PCI4-IAM-NO-AWS-MANAGED-POLICY": (
        {"Role": r("AWS::IAM::Role", AssumeRolePolicyDocument=LAMBDA_TRUST, ManagedPolicyArns=[{"Ref": "Mine"}])},
        {
            "Role": r(
                "AWS::IAM::Role",
                AssumeRolePolicyDocument=LAMBDA_TRUST,
                ManagedPolicyArns=["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            )
        },
    ),
    "PCI4-IAM-NO-USERS": ({"Group": r("AWS::IAM::Group")}, {"User": r("AWS::IAM::User")}),
    "PCI4-IAM-TRUST-SCOPED": (
        {"Role": r("AWS::IAM::Role", AssumeRolePolicyDocument=LAMBDA_TRUST)},
        {
            "Role": r(
                "AWS::IAM::Role",
                AssumeRolePolicyDocument={
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}]
                },
            )
        },
    ),
    "PCI4-STATEFUL-RETAINED": ({"Group": retained(LOG_GROUP)}, {"Group": LOG_GROUP}),
    "PCI4-GUARDDUTY-ENABLED": (
        {"Detector": r("AWS::GuardDuty::Detector", Enable=True)},
        {"Detector": r("AWS::GuardDuty::Detector", Enable=False)},
    ),
    "PCI4-CONFIG-ALL-RESOURCES": (
        {"Recorder": r("AWS::Config::ConfigurationRecorder", RoleARN="r", RecordingGroup={"AllSupported": True})},
        {
            "Recorder": r(
                "AWS::Config::ConfigurationRecorder",
                RoleARN="r",
                RecordingGroup={"AllSupported": False, "ResourceTypes": ["AWS::S3::Bucket"]},
            )
        },
    ),
    "PCI4-SNS-ENCRYPTED": ({"Topic": r("AWS::SNS::Topic", KmsMasterKeyId=REF)}, {"Topic": r("AWS::SNS::Topic")}),
    "PCI4-SNS-TLS-ONLY": (
        {
            "Topic": r("AWS::SNS::Topic", KmsMasterKeyId=REF),
            "Policy": r(
                "AWS::SNS::TopicPolicy",
                Topics=[{"Ref": "Topic"}],
                PolicyDocument={"Statement": [{**TLS_DENY, "Action": "sns:Publish"}]},
            ),
        },
        {"Topic": r("AWS::SNS::Topic", KmsMasterKeyId=REF)},
    ),
    "PCI4-ALARM-ACTIONS": (
        {"Alarm": r("AWS::CloudWatch::Alarm", AlarmActions=[TOPIC], InsufficientDataActions=[TOPIC])},
        {"Alarm": r("AWS::CloudWatch::Alarm", AlarmActions=[TOPIC])},
    ),
    # --- issue #18: the boundary on every role; no all-ports egress to the internet ---------------
    "PCI4-IAM-PERMISSIONS-BOUNDARY": (
        {"Role": r("AWS::IAM::Role", AssumeRolePolicyDocument={}, PermissionsBoundary={"Ref": "Boundary"})},
        {"Role": r("AWS::IAM::Role", AssumeRolePolicyDocument={})},
    ),
    "PCI4-EC2-SG-NO-ALL-PORTS-EGRESS": (
        {
            "Sg": r(
                "AWS::EC2::SecurityGroup",
                GroupDescription="x",
                SecurityGroupEgress=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}],
            )
        },
        {
            "Sg": r("AWS::EC2::SecurityGroup", GroupDescription="x"),
            "Out": r(
                "AWS::EC2::SecurityGroupEgress",
                GroupId={"Ref": "Sg"},
                IpProtocol="tcp",
                FromPort=0,
                ToPort=65535,
                CidrIp="0.0.0.0/0",
            ),
        },
    ),
    "PCI4-KMS-GRANTS-FOR-AWS-RESOURCES": (
        {
            "Key": r(
                "AWS::KMS::Key",
                KeyPolicy={
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*"},
                        {
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "kms:CreateGrant",
                            "Resource": "*",
                            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "false"}},
                        },
                    ]
                },
            )
        },
        {
            "Key": r(
                "AWS::KMS::Key",
                KeyPolicy={
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*"}
                    ]
                },
            )
        },
    ),
    **NEW_CASES,
    **CARD_DATA_CASES,
    **WORKLOAD_CASES,
    **EDGE_COMPUTE_CASES,
    **DATA_STORE_CASES,
    **PACK_REVIEW_CASES,
}
