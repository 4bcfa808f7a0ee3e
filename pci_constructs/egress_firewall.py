"""Egress allow-list: AWS Network Firewall between the application tier and NAT (PCI DSS 1.3.2, 1.4.1, 1.5).

Routing follows the "NAT gateway" deployment model of the AWS Network Firewall Developer Guide
("Architecture with an internet gateway and a NAT gateway"), per AZ, symmetric:

    application subnet  0.0.0.0/0            -> firewall endpoint (same AZ)
    firewall subnet     0.0.0.0/0            -> NAT gateway (same AZ)        (CDK's NAT route)
    egress subnet       0.0.0.0/0            -> internet gateway             (CDK's public route)
    egress subnet       <application subnet> -> firewall endpoint (same AZ)  (return path)

The NAT gateways live in their own egress subnets, not in the public tier, so the load balancer's
traffic to its targets never crosses the firewall (it would otherwise be routed through it one way
only, and a stateful firewall drops half-seen flows).

One firewall per AZ, each with a single subnet mapping: `Fn::GetAtt Firewall.EndpointIds` returns
"<az>:<vpce-id>" strings whose order CloudFormation does not document, so with several mappings an
`Fn::Select` by index could route a zone through another zone's endpoint (cross-AZ charges, and a
dead route when that zone fails). With one mapping the list has exactly one element. Endpoint-hours
are billed per AZ either way, so this costs nothing extra. All firewalls share one policy.

Policy: strict rule order; one stateful domain-list rule group (TLS SNI and HTTP Host allow-list);
stateful default actions `aws:drop_established` (lets the TCP handshake through so the SNI can be
read, then drops the flow unless a rule passed it) and `aws:alert_established` (logs the drop).
Alert and flow logs go to KMS-encrypted log groups kept like every log.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_networkfirewall as nfw
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup

# Capacity is fixed at creation (a change replaces the rule group): room for the configuration's
# ceiling of 500 domains, each matched as TLS SNI and as HTTP Host.
# The rule review's stated need of each route this construct makes or redirects (evidence/workpapers.py reads
# it from the route's `pci-lz:need` metadata: AWS::EC2::Route has no description property).
ROUTE_NEED_METADATA = "pci-lz:need"
EGRESS_ROUTE_NEED = (
    "The application tier's only way out: every outbound connection passes this zone's Network Firewall"
    " endpoint, whose allow-list drops any domain not listed"
)
RETURN_ROUTE_NEED = (
    "Replies to the application tier's egress return through the same firewall endpoint (symmetric routing,"
    " so the stateful rules see both directions)"
)
FIREWALL_ROUTE_NEED = (
    "Traffic the firewall endpoint allowed leaves through this zone's NAT gateway in the egress tier; nothing"
    " else runs in the firewall tier"
)
NAT_TIER_ROUTE_NEED = (
    "The NAT gateways' way to the internet: only the firewall-inspected egress of the application tier reaches"
    " them; no workload runs in the egress tier"
)
RULE_GROUP_CAPACITY = 1000
MAX_DOMAINS = RULE_GROUP_CAPACITY // 2
STATEFUL_DEFAULT_ACTIONS = ("aws:drop_established", "aws:alert_established")


def endpoint_id(firewall: nfw.CfnFirewall) -> str:
    """The VPC endpoint ID of a firewall with exactly one subnet mapping ("<az>:<vpce-id>" -> vpce-id)."""
    return Fn.select(1, Fn.split(":", Fn.select(0, firewall.attr_endpoint_ids)))


class EgressFirewall(Construct):
    """Network Firewall per AZ and the routes through it.

    `firewall_subnets`, `application_subnets`, `egress_subnets`: one per AZ each, matched by
    availability zone (ValueError when a zone lacks one). `allowed_domains`: 1..500 domains; a
    leading dot allows the domain and every subdomain.
    """

    policy: nfw.CfnFirewallPolicy
    rule_group: nfw.CfnRuleGroup
    firewalls: dict[str, nfw.CfnFirewall]
    endpoint_ids: dict[str, str]
    alert_log_group: EncryptedLogGroup
    flow_log_group: EncryptedLogGroup
    alert_log_group_name: str
    flow_log_group_name: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        vpc: ec2.IVpc,
        firewall_subnets: Sequence[ec2.ISubnet],
        application_subnets: Sequence[ec2.ISubnet],
        egress_subnets: Sequence[ec2.ISubnet],
        allowed_domains: Sequence[str],
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= len(allowed_domains) <= MAX_DOMAINS:
            raise ValueError(f"allowed_domains: give 1..{MAX_DOMAINS} domains")
        by_zone = self._by_zone(firewall_subnets, application_subnets, egress_subnets)

        self.rule_group = nfw.CfnRuleGroup(
            self,
            "DomainAllowList",
            rule_group_name=f"{name_prefix}-egress-domains",
            type="STATEFUL",
            capacity=RULE_GROUP_CAPACITY,
            description="Destination domains the application tier may reach (TLS SNI, HTTP Host)",
            rule_group=nfw.CfnRuleGroup.RuleGroupProperty(
                rules_source=nfw.CfnRuleGroup.RulesSourceProperty(
                    rules_source_list=nfw.CfnRuleGroup.RulesSourceListProperty(
                        generated_rules_type="ALLOWLIST",
                        target_types=["TLS_SNI", "HTTP_HOST"],
                        targets=list(allowed_domains),
                    )
                ),
                stateful_rule_options=nfw.CfnRuleGroup.StatefulRuleOptionsProperty(rule_order="STRICT_ORDER"),
            ),
        )
        self.policy = nfw.CfnFirewallPolicy(
            self,
            "Policy",
            firewall_policy_name=f"{name_prefix}-egress",
            description="Application-tier egress: allow-listed domains only, everything else dropped and alerted",
            firewall_policy=nfw.CfnFirewallPolicy.FirewallPolicyProperty(
                stateless_default_actions=["aws:forward_to_sfe"],
                stateless_fragment_default_actions=["aws:forward_to_sfe"],
                stateful_engine_options=nfw.CfnFirewallPolicy.StatefulEngineOptionsProperty(
                    rule_order="STRICT_ORDER", stream_exception_policy="DROP"
                ),
                stateful_default_actions=list(STATEFUL_DEFAULT_ACTIONS),
                stateful_rule_group_references=[
                    nfw.CfnFirewallPolicy.StatefulRuleGroupReferenceProperty(
                        resource_arn=self.rule_group.attr_rule_group_arn, priority=100
                    )
                ],
            ),
        )
        stack = Stack.of(self)
        # Under /aws/vendedlogs/: the prefix CloudWatch Logs recommends for vended-log destinations.
        self.alert_log_group_name = f"/aws/vendedlogs/{name_prefix}/network-firewall/alert"
        self.flow_log_group_name = f"/aws/vendedlogs/{name_prefix}/network-firewall/flow"
        self.alert_log_group = EncryptedLogGroup(
            self,
            "AlertLogs",
            encryption_key=log_key,
            retention_days=log_retention_days,
            log_group_name=self.alert_log_group_name,
        )
        self.flow_log_group = EncryptedLogGroup(
            self,
            "FlowLogs",
            encryption_key=log_key,
            retention_days=log_retention_days,
            log_group_name=self.flow_log_group_name,
        )
        delivery_policy = self._allow_log_delivery(stack, name_prefix)

        self.firewalls, self.endpoint_ids = {}, {}
        for zone, (firewall_subnet, application_subnet, egress_subnet) in by_zone.items():
            letter = zone[-1].upper()
            firewall = nfw.CfnFirewall(
                self,
                f"Firewall{letter}",
                firewall_name=f"{name_prefix}-egress-{zone}",
                description=f"Application-tier egress allow-list, {zone}",
                firewall_policy_arn=self.policy.attr_firewall_policy_arn,
                vpc_id=vpc.vpc_id,
                subnet_mappings=[nfw.CfnFirewall.SubnetMappingProperty(subnet_id=firewall_subnet.subnet_id)],
                delete_protection=True,
                subnet_change_protection=True,
            )
            logging = nfw.CfnLoggingConfiguration(
                self,
                f"Logging{letter}",
                firewall_arn=firewall.attr_firewall_arn,
                logging_configuration=nfw.CfnLoggingConfiguration.LoggingConfigurationProperty(
                    log_destination_configs=[
                        self._destination("ALERT", self.alert_log_group),
                        self._destination("FLOW", self.flow_log_group),
                    ]
                ),
            )
            logging.add_resource_dependency(delivery_policy)
            endpoint = endpoint_id(firewall)
            self._route_through(application_subnet, endpoint)
            for subnet, need in ((firewall_subnet, FIREWALL_ROUTE_NEED), (egress_subnet, NAT_TIER_ROUTE_NEED)):
                route = subnet.node.try_find_child("DefaultRoute")
                if isinstance(route, ec2.CfnRoute):  # CDK's routes of the firewall and egress tiers
                    route.add_metadata(ROUTE_NEED_METADATA, need)
            ec2.CfnRoute(
                self,
                f"ReturnRoute{letter}",
                route_table_id=egress_subnet.route_table.route_table_id,
                destination_cidr_block=application_subnet.ipv4_cidr_block,
                vpc_endpoint_id=endpoint,
            ).add_metadata(ROUTE_NEED_METADATA, RETURN_ROUTE_NEED)
            self.firewalls[zone] = firewall
            self.endpoint_ids[zone] = endpoint

    @staticmethod
    def _by_zone(
        firewall_subnets: Sequence[ec2.ISubnet],
        application_subnets: Sequence[ec2.ISubnet],
        egress_subnets: Sequence[ec2.ISubnet],
    ) -> dict[str, tuple[ec2.ISubnet, ec2.ISubnet, ec2.ISubnet]]:
        def index(name: str, subnets: Sequence[ec2.ISubnet]) -> dict[str, ec2.ISubnet]:
            found = {subnet.availability_zone: subnet for subnet in subnets}
            if len(found) != len(subnets):
                raise ValueError(f"{name}: give exactly one subnet per availability zone")
            return found

        firewall = index("firewall_subnets", firewall_subnets)
        application = index("application_subnets", application_subnets)
        egress = index("egress_subnets", egress_subnets)
        if not firewall or set(firewall) != set(application) or set(firewall) != set(egress):
            raise ValueError(
                "firewall_subnets, application_subnets and egress_subnets must cover the same availability zones"
            )
        return {zone: (firewall[zone], application[zone], egress[zone]) for zone in sorted(firewall)}

    @staticmethod
    def _destination(
        log_type: str, group: EncryptedLogGroup
    ) -> nfw.CfnLoggingConfiguration.LogDestinationConfigProperty:
        return nfw.CfnLoggingConfiguration.LogDestinationConfigProperty(
            log_type=log_type,
            log_destination_type="CloudWatchLogs",
            log_destination={"logGroup": group.log_group.log_group_name},
        )

    def _allow_log_delivery(self, stack: Stack, name_prefix: str) -> logs.CfnResourcePolicy:
        """The log groups' resource policy for vended-log delivery ("Logging from AWS services", CloudWatch Logs).

        Network Firewall publishes through the CloudWatch Logs delivery service. Written here
        rather than left to the service to append to the account's one shared policy, so the grant
        names only these two groups and only this account's deliveries.
        """
        document = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AwsLogDeliveryWrite",
                    principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[
                        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{name}:log-stream:*"
                        for name in (self.alert_log_group_name, self.flow_log_group_name)
                    ],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"},
                    },
                )
            ]
        )
        return logs.CfnResourcePolicy(
            self,
            "LogDeliveryPolicy",
            policy_name=f"{name_prefix}-network-firewall-logs",
            policy_document=stack.to_json_string(document.to_json()),
        )

    @staticmethod
    def _route_through(subnet: ec2.ISubnet, endpoint: str) -> None:
        """Point the subnet's CDK-made default route (to the NAT gateway) at the firewall endpoint instead."""
        route = subnet.node.try_find_child("DefaultRoute")
        if not isinstance(route, ec2.CfnRoute):
            raise ValueError(f"{subnet.node.path} has no default route to redirect through the firewall")
        route.add_property_deletion_override("NatGatewayId")
        route.add_property_override("VpcEndpointId", endpoint)
        route.add_metadata(ROUTE_NEED_METADATA, EGRESS_ROUTE_NEED)  # the rule review's stated need
