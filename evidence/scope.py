"""The PCI DSS scope the templates support, and what they reference without creating it.

- `ScopeModel.category(resource)`: CDE (stores, processes or transmits PAN: the WAF, the load
  balancer and its listeners, the card-vault functions, the RDS Proxy, the database, the interface
  endpoints the vault sends PAN through, the cardholder-data key and the keyed-hash key, and every
  subnet that hosts one of them or is tagged pci-scope=cde), connected-to / security-impacting
  (everything else in the same accounts and networks: other keys, logs, monitoring, identity, the
  pipeline, the egress firewall) or out of scope (nothing connects it). Each with its basis.
  "PCI DSS v4.0.1 scoping" follows the standard's section 4, "Scope of PCI DSS Requirements": the
  CDE is the system components that store, process or transmit cardholder data (and those with
  unrestricted connectivity to them); systems that provide security services or facilitate
  segmentation (internal network security controls) are security-impacting.
- A subnet is CDE when a CDE component is placed in it (`ScopeModel.hosted`): the public tier hosts
  the load balancer that terminates card-data TLS, the application tier the vault's functions and the
  KMS interface endpoint. An AWS Network Firewall's endpoints are CDE only when a CDE component's
  security group lets traffic leave the VPC through them (`ScopeModel.firewall_carries_cde`); otherwise
  they filter the CDE tiers' egress and are security-impacting (they facilitate segmentation).
- An interface endpoint is CDE when a vault function sends PAN through it (`ScopeModel.pan_endpoints`):
  the function may call an action whose request carries the cleartext PAN (`PAN_ACTIONS`: KMS
  `GenerateMac` and `VerifyMac` take the PAN as their Message, AWS KMS API Reference "GenerateMac",
  "VerifyMac"), the endpoint serves that service in the function's VPC with private DNS (the regional
  host name the SDK calls resolves to the endpoint's network interfaces: Amazon EC2 API Reference,
  "CreateVpcEndpoint", PrivateDnsEnabled), and the function's security group may reach the endpoint's.
  Every other endpoint carries no PAN (`NO_PAN_SERVICES` says what each carries).
- `ScopeModel.keyed_hash_keys` / `envelope_keys`: read from what the vault's functions are given
  (an environment variable whose name says HMAC names the keyed-hash key, a Secrets Manager
  secret or a KMS HMAC key; `VAULT_KMS_KEY_ID` names the envelope-encryption key).
- `outside_templates(model, assembly)`: everything the templates reference but do not create,
  derived from the templates (parameters, imports of exports no template makes, literal ARNs of
  nothing the templates name, S3 objects in buckets no template creates, the Secrets Manager
  transform's hosted rotation function) and from the assembly manifest (the CDK bootstrap roles
  each stack is deployed with). Each row is "outside the templates: unverified".
- `wireless_statement(model)`: whether any wireless resource type is in the templates, with the
  basis (AWS's facilities are AWS's responsibility under its PCI DSS Attestation of Compliance).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from evidence.flows import invoke_grants as _invoke_grants
from evidence.topology import Topology, display_name
from pci_rules.model import Resource, StackTemplate, TemplateModel

CDE, CONNECTED, OUT = "CDE", "connected-to / security-impacting", "out of scope"
UNVERIFIED = "outside the templates: unverified"
# A system outside the templates that sends or receives PAN (the Payment API's callers, the detokenizer's caller
# roles): its category is CDE; that the templates do not show its controls is provenance, not a category.
CDE_OUTSIDE = "CDE, outside the templates: unverified"

# Types that process or transmit PAN whenever they front the vault (every request body passes them).
_PAN_PATH_TYPES = {
    # "Considerations for managing body inspection in AWS WAF", AWS WAF Developer Guide: 8 KB fixed for an ALB.
    "AWS::WAFv2::WebACL": "inspects the requests the load balancer sends it after ending TLS, the first 8 KB of"
    " each body (card numbers included)",
    "AWS::WAFv2::WebACLAssociation": "puts the web ACL in the card-data path",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "terminates TLS of card-data requests",
    "AWS::ElasticLoadBalancingV2::Listener": "terminates TLS of card-data requests",  # an HTTPS listener
    "AWS::ElasticLoadBalancingV2::ListenerRule": "routes card-data requests",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "forwards card-data requests to the vault",
    "AWS::ElasticLoadBalancingV2::TrustStore": "authenticates the callers that send card data (mTLS)",
    "AWS::RDS::DBInstance": "stores encrypted PAN and its keyed hash",
    "AWS::RDS::DBCluster": "stores encrypted PAN and its keyed hash",
    "AWS::RDS::DBProxy": "transmits card-data queries to the database",
    "AWS::RDS::DBProxyTargetGroup": "transmits card-data queries to the database",
}
# The HTTP listener that only redirects: it never terminates TLS (there is none) and forwards nothing.
REDIRECT_LISTENER_BASIS = (
    "HTTP listener of the CDE load balancer that answers every request with a redirect to HTTPS and forwards"
    " nothing; in scope as part of that load balancer, and because a client that sends card data to it sends"
    " it over the internet in clear before the redirect (4.2.1)"
)
# The AWS API calls whose request carries the cleartext PAN, by endpoint service name (the last part of the
# endpoint's ServiceName): KMS's GenerateMac and VerifyMac take the message to MAC, the PAN (AWS KMS API
# Reference, "GenerateMac" and "VerifyMac": Message, up to 4,096 bytes).
PAN_ACTIONS = {"kms": frozenset({"kms:GenerateMac", "kms:VerifyMac"})}
# What the vault sends each other service it reaches through an endpoint: no PAN.
NO_PAN_SERVICES = {
    "kms": "data keys and wrapped data keys only (the PAN is encrypted and decrypted in the function)",
    "secretsmanager": "database credentials only",
    "logs": "log lines with card numbers masked in the function before they are written",
    "xray": "trace segment names and timings only",
    "sts": "credentials only",
    "s3": "objects of the landing zone's buckets and package repositories",
}
# Wireless resource types CloudFormation knows (AWS IoT Wireless: LoRaWAN and Sidewalk devices and gateways).
_WIRELESS_PREFIXES = ("AWS::IoTWireless::",)
_ARN = re.compile(r"^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws|):(.+)$")
_VAULT = "/CardVault/"


def _vault_function(resource: Resource) -> bool:
    return resource.type == "AWS::Lambda::Function" and _VAULT in f"/{resource.path}"


def _redirects_only(listener: Resource) -> bool:
    """An HTTP listener whose every default action is a redirect (it forwards nothing)."""
    actions = listener.prop("DefaultActions", default=[]) or []
    return (
        listener.prop("Protocol") == "HTTP"
        and bool(actions)
        and all(isinstance(a, Mapping) and a.get("Type") == "redirect" for a in actions)
    )


def _env(resource: Resource) -> Mapping[str, Any]:
    variables = resource.prop("Environment", "Variables", default={})
    return variables if isinstance(variables, Mapping) else {}


def waf_log_destinations(model: TemplateModel, config: Resource) -> list[Resource]:
    """Log groups a WAF logging configuration names, by reference or by a literal ARN of a group
    the templates create (`...:log-group:<name>`)."""
    found = list(model.references(config.stack, config.prop("LogDestinationConfigs")))
    for dest in config.prop("LogDestinationConfigs", default=[]) or []:
        if isinstance(dest, str) and ":log-group:" in dest:
            name = dest.split(":log-group:", 1)[1].removesuffix(":*")
            region = dest.split(":")[3]
            found += [
                g
                for g in model.resources("AWS::Logs::LogGroup")
                if g.prop("LogGroupName") == name and model.stack_of(g).region in (region, None)
            ]
    return found


def _redacted(config: Resource) -> tuple[set[str], list[str]]:
    """(request-line parts, header names) a WAF logging configuration's RedactedFields name."""
    parts: set[str] = set()
    headers: list[str] = []
    for field in config.prop("RedactedFields", default=[]) or []:
        if not isinstance(field, Mapping):
            continue
        for name, value in field.items():
            if name == "SingleHeader" and isinstance(value, Mapping):
                headers.append(str(value.get("Name", "")).lower())
            else:
                parts.add(str(name))
    return parts, headers


def _data_protected(model: TemplateModel, config: Resource) -> set[str]:
    """The field types the logged web ACL's data protection substitutes or hashes in full (no FieldKeys: every
    key of the type, API Reference "FieldToProtect"). Web ACL data protection applies to the logs and to
    sampled requests (AWS WAF Developer Guide, "Data protection"; API Reference "DataProtectionConfig")."""
    found: set[str] = set()
    for acl in model.references(config.stack, config.prop("ResourceArn")):
        if acl.type != "AWS::WAFv2::WebACL":
            continue
        for protection in acl.prop("DataProtectionConfig", "DataProtections", default=[]) or []:
            field = protection.get("Field") if isinstance(protection, Mapping) else None
            if isinstance(field, Mapping) and not field.get("FieldKeys") and protection.get("Action"):
                found.add(str(field.get("FieldType")))
    return found


def _masking(group: Resource) -> str:
    """What a log group's data-protection policy does to a card number: detected at ingestion and shown
    masked, but kept recoverable: a principal with logs:Unmask reads it in clear (Amazon CloudWatch Logs
    API Reference, "PutDataProtectionPolicy")."""
    policy = json.dumps(group.prop("DataProtectionPolicy") or {})
    if "CreditCardNumber" in policy:
        return (
            "its CreditCardNumber data-protection policy shows it masked, but keeps it: logs:Unmask reads it in clear"
        )
    return "no data-protection policy masks it"


def _bucket_expiry(bucket: Resource) -> int | None:
    rules = bucket.prop("LifecycleConfiguration", "Rules", default=[]) or []
    days = [
        int(r["ExpirationInDays"])
        for r in rules
        if isinstance(r, Mapping) and r.get("Status", "Enabled") == "Enabled" and r.get("ExpirationInDays")
    ]
    return min(days) if days else None


def lb_access_log_buckets(model: TemplateModel) -> list[Resource]:
    """The buckets a load balancer's `access_logs.s3.bucket` attribute names, with access logging enabled
    (`access_logs.s3.enabled` true: "Access logs for your Application Load Balancer", ELB User Guide), by key."""
    found: dict[tuple[str, str], Resource] = {}
    for lb in model.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        attributes = {
            str(a.get("Key")): a.get("Value")
            for a in lb.prop("LoadBalancerAttributes", default=[]) or []
            if isinstance(a, Mapping)
        }
        if str(attributes.get("access_logs.s3.enabled")).lower() != "true":
            continue
        for bucket in model.references(lb.stack, attributes.get("access_logs.s3.bucket")):
            if bucket.type == "AWS::S3::Bucket":
                found[bucket.key] = bucket
    return [found[k] for k in sorted(found)]


def card_data_stores(model: TemplateModel) -> dict[tuple[str, str], tuple[bool, str]]:
    """The log stores a request to the load balancers reaches, by resource key: (may hold PAN, statement).

    Derived from the templates, one statement per store:
    - a load balancer's access-log bucket (the `access_logs.s3.bucket` attribute) may hold PAN: each entry
      records the request line as the client sent it (method, URL with its query string, HTTP version), so
      a card number a client puts in a URL is stored, in a request WAF blocked too, and Elastic Load
      Balancing cannot redact a field ("Access logs for your Application Load Balancer", Elastic Load
      Balancing User Guide). The statement gives the bucket's lifecycle expiry (3.2.1).
    - a WAF log group may hold PAN unless its logging configuration redacts both the URI path and the query
      string: AWS WAF logs the URI, the query string ("args") and the headers of each request, never the body,
      and redacts only what RedactedFields names (UriPath, QueryString, SingleHeader, Method: AWS WAF API
      Reference, "LoggingConfiguration"; "Log fields for protection pack (web ACL) traffic", AWS WAF
      Developer Guide). Headers it does not redact are logged as sent, unless the web ACL's data protection
      substitutes every header (`_data_protected`); the statement says which.
    """
    found: dict[tuple[str, str], tuple[bool, str]] = {}
    for bucket in lb_access_log_buckets(model):
        days = _bucket_expiry(bucket)
        kept = f"objects expire after {days} days (lifecycle rule)" if days else "never expire (no lifecycle expiry)"
        found[bucket.key] = (
            True,
            "may hold PAN: the load balancer's access log records each request line as the client sent it"
            " (method, URL and query string), so a card number a client puts in a URL is stored, in a request"
            f" WAF blocked too; Elastic Load Balancing cannot redact it; {kept}",
        )
    for config in model.resources("AWS::WAFv2::LoggingConfiguration"):
        parts, headers = _redacted(config)
        named = ", ".join(sorted(headers)) or "none"
        open_parts = [
            label for part, label in (("UriPath", "URI path"), ("QueryString", "query string")) if part not in parts
        ]
        for group in waf_log_destinations(model, config):
            if open_parts:
                found[group.key] = (
                    True,
                    f"may hold PAN: the WAF logging configuration does not redact the {' or '.join(open_parts)},"
                    f" so a card number a client puts in a URL is logged as sent; {_masking(group)}",
                )
            elif "SINGLE_HEADER" in _data_protected(model, config):
                found[group.key] = (
                    False,
                    "no PAN from a URL or a header: the WAF logging configuration redacts the URI path and query"
                    f" string (headers redacted: {named}), and the web ACL's data protection substitutes every"
                    " header (REDACTED), in the log and in sampled requests; WAF logs no body;"
                    f" {_masking(group)}",
                )
            else:
                found[group.key] = (
                    False,
                    "no PAN from a URL: the WAF logging configuration redacts the URI path and query string"
                    f" (headers redacted: {named}); WAF logs no body; other request headers are logged as sent,"
                    f" so a card number a client put in one would be stored; {_masking(group)}",
                )
    return found


class ScopeModel:
    """Scope categories of every resource of a model (see the module docstring)."""

    def __init__(self, model: TemplateModel, topology: Topology | None = None) -> None:
        self.model = model
        self.topology = Topology(model) if topology is None else topology

    @cached_property
    def vault_functions(self) -> list[Resource]:
        return [f for f in self.model.resources("AWS::Lambda::Function") if _vault_function(f)]

    def _named_by_vault(self, hmac: bool) -> dict[tuple[str, str], Resource]:
        found: dict[tuple[str, str], Resource] = {}
        for function in self.vault_functions:
            for name, value in _env(function).items():
                if ("HMAC" in name.upper()) != hmac or (not hmac and name != "VAULT_KMS_KEY_ID"):
                    continue
                for target in self.model.references(function.stack, value):
                    if target.type in ("AWS::KMS::Key", "AWS::SecretsManager::Secret"):
                        found[target.key] = target
        return found

    @cached_property
    def keyed_hash_keys(self) -> dict[tuple[str, str], Resource]:
        """The keyed-hash (HMAC) key of the vault: a secret or a KMS HMAC key."""
        return self._named_by_vault(hmac=True)

    @cached_property
    def envelope_keys(self) -> dict[tuple[str, str], Resource]:
        """The KMS key the vault's data keys are generated under (field-level envelope encryption)."""
        return self._named_by_vault(hmac=False)

    @cached_property
    def _database_keys(self) -> dict[tuple[str, str], Resource]:
        found: dict[tuple[str, str], Resource] = {}
        for db in self.model.resources("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
            for key in self.model.references(db.stack, db.prop("KmsKeyId")):
                if key.type == "AWS::KMS::Key":
                    found[key.key] = key
        return found

    @cached_property
    def cde_accounts(self) -> frozenset[str]:
        """The accounts of the stacks that create a CDE system component (a card-vault function, the card-data
        database); those not recorded are left out."""
        found = set()
        for resource in self.model.resources("AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::Lambda::Function"):
            account = self.model.stack_of(resource).account
            if account and (resource.type != "AWS::Lambda::Function" or _vault_function(resource)):
                found.add(account)
        return frozenset(found)

    def deployment_stack(self, stack: StackTemplate) -> bool:
        """A stack of the delivery tooling: the App's own (no nested assembly) in a synth whose environments
        are Stages (nested assemblies), so it is the pipeline, OIDC deploy roles or artifact store that deploys
        them (stacks.delivery)."""
        return not stack.assembly and any(s.assembly for s in self.model.stacks.values())

    def other_account_basis(self, stack: StackTemplate) -> str | None:
        """Why a resource in an account no CDE component is in is still connected-to or security-impacting; None
        when its account is one of the CDE's (or either is not recorded)."""
        if not stack.account or not self.cde_accounts or stack.account in self.cde_accounts:
            return None
        cde = ", ".join(sorted(self.cde_accounts))
        if self.deployment_stack(stack):
            return (
                f"security-impacting: the delivery tooling in account {stack.account} (not a CDE account: {cde}),"
                " which deploys the CDE's stacks: its pipeline, deploy roles and artifacts can change the CDE's"
                " configuration (PCI DSS v4.0.1 section 4: systems that can impact the CDE's configuration)"
            )
        return (
            f"security-impacting: a stack of these templates in account {stack.account} (not a CDE account: {cde});"
            " what it can affect in the CDE is not derived from the templates: an assessor confirms its category"
        )

    @cached_property
    def card_data_stores(self) -> dict[tuple[str, str], tuple[bool, str]]:
        """`card_data_stores(model)`: the log stores the load balancers' requests reach."""
        return card_data_stores(self.model)

    @cached_property
    def fronts_vault(self) -> bool:
        """Whether the load balancers carry card data: a vault function is one of their targets."""
        return bool(self.vault_functions) and any(
            t.type == "AWS::ElasticLoadBalancingV2::TargetGroup"
            for f in self.vault_functions
            for t in self.model.referrers(f)
        )

    def _vpc_of(self, resource: Resource) -> tuple[str, str] | None:
        """The VPC a resource is placed in (through its subnets), else None."""
        regional = self.topology.regions.get(self.model.stack_of(resource).region or "")
        if regional is None:
            return None
        for subnet in self.topology.subnets_of(resource):
            found = regional.subnet(subnet)
            if found is not None and found.vpc is not None:
                return found.vpc.key
        return None

    def _groups_of(self, resource: Resource) -> set[tuple[str, str]]:
        regional = self.topology.regions.get(self.model.stack_of(resource).region or "")
        if regional is None:
            return set()
        return {
            key for key, members in regional.members.items() if any(m.resource.key == resource.key for m in members)
        }

    def _reaches(self, source: Resource, target: Resource) -> bool:
        """Whether a security group of `source` may send to one of `target`'s on TCP 443 (an egress rule naming
        the target's group, or a CIDR, the VPC's own included)."""
        regional = self.topology.regions.get(self.model.stack_of(source).region or "")
        if regional is None:
            return False
        mine, theirs = self._groups_of(source), self._groups_of(target)
        for rule in regional.sg_rules:
            if not rule.egress or rule.allows_nothing or rule.group.key not in mine:
                continue
            if rule.protocol not in ("tcp 443", "tcp all ports", "all traffic"):
                continue
            if (rule.peer_group is not None and rule.peer_group.key in theirs) or rule.peer_cidr is not None:
                return True
        return False

    @cached_property
    def pan_endpoints(self) -> dict[tuple[str, str], str]:
        """Interface endpoints a vault function sends PAN through -> the basis (see the module docstring)."""
        from evidence.flows import grants, short_actions
        from evidence.topology import service_name

        found: dict[tuple[str, str], str] = {}
        for endpoint in self.model.resources("AWS::EC2::VPCEndpoint"):
            service = service_name(endpoint)
            if endpoint.prop("VpcEndpointType") != "Interface" or service not in PAN_ACTIONS:
                continue
            if endpoint.prop("PrivateDnsEnabled") is not True:
                continue
            vpc = self.model.references(endpoint.stack, endpoint.prop("VpcId"))
            for function in self.vault_functions:
                sent = {a for g in grants(self.model, function) for a in g.actions if a in PAN_ACTIONS[service]}
                if sent and vpc and self._vpc_of(function) == vpc[0].key and self._reaches(function, endpoint):
                    found.setdefault(
                        endpoint.key,
                        f"interface endpoint for {service}: the vault's functions send the cleartext PAN through it"
                        f" ({service}:{short_actions(sent)}, whose Message is the PAN; private DNS sends the SDK's"
                        f" regional {service} host name to it)",
                    )
        return found

    def endpoint_basis(self, endpoint: Resource) -> str:
        """Why an endpoint that carries no PAN is connected-to: what the vault sends through it."""
        from evidence.topology import service_name

        service = service_name(endpoint)
        carried = NO_PAN_SERVICES.get(service, "no card data by the templates' functions")
        return (
            f"{endpoint.prop('VpcEndpointType') or 'VPC'} endpoint for {service}: carries {carried}, no PAN;"
            " security-impacting: the CDE's functions reach the service through it"
        )

    @cached_property
    def hosted(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Subnet key -> (basis, what it hosts in a word or two) of a subnet that hosts a CDE component: the
        vault's functions first, then load balancers, endpoints, proxies, databases, firewalls, functions."""
        from evidence.topology import member_kind

        found: dict[tuple[str, str], tuple[str, str]] = {}
        for function in self.vault_functions:
            for subnet in self.topology.subnets_of(function):
                found.setdefault(subnet.key, ("hosts the card-vault functions", "vault functions"))
        placed = (
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "AWS::EC2::VPCEndpoint",
            "AWS::RDS::DBProxy",
            "AWS::RDS::DBInstance",
            "AWS::RDS::DBCluster",
            "AWS::NetworkFirewall::Firewall",
            "AWS::Lambda::Function",
        )
        for resource in self.model.resources(*placed):
            category, why = self._component(resource)
            if category != CDE:
                continue
            what = member_kind(resource).lower()
            if resource.type == "AWS::EC2::VPCEndpoint":
                what = f"{display_name(resource)} endpoint"
            for subnet in self.topology.subnets_of(resource):
                found.setdefault(subnet.key, (f"hosts {display_name(resource)}, which {why.split(': ', 1)[-1]}", what))
        return found

    def firewall_carries_cde(self, firewall: Resource) -> bool:
        """Whether a CDE component may send through this firewall: a security group with a CDE member allows
        egress to an address outside every VPC of its region, and the member's subnets route to the firewall."""
        from evidence.topology import in_cidr

        regional = self.topology.regions.get(self.model.stack_of(firewall).region or "")
        if regional is None:
            return False
        vpc_cidrs = [c for v in regional.vpcs if isinstance(c := v.prop("CidrBlock"), str)]
        routed = {r.route_table.key for r in regional.routes if r.target is not None and r.target.key == firewall.key}
        for key, members in regional.members.items():
            outward = any(
                rule.egress
                and not rule.allows_nothing
                and rule.group.key == key
                and rule.peer_cidr is not None
                and not any(in_cidr(rule.peer_cidr, c) for c in vpc_cidrs)
                for rule in regional.sg_rules
            )
            if not outward:
                continue
            for member in members:
                if (
                    member.resource.type == "AWS::NetworkFirewall::Firewall"
                    or self._component(member.resource)[0] != CDE
                ):
                    continue
                for subnet in member.subnets:
                    found = regional.subnet(subnet)
                    if found is not None and found.route_table is not None and found.route_table.key in routed:
                        return True
        return False

    def _in_cde_subnets(self, resource: Resource) -> bool:
        regional = self.topology.regions.get(self.model.stack_of(resource).region or "")
        if regional is None:
            return False
        found = [regional.subnet(subnet) for subnet in self.topology.subnets_of(resource)]
        return any(subnet is not None and subnet.cde for subnet in found)

    def category(self, resource: Resource) -> tuple[str, str]:
        """(category, basis) of one resource."""
        if resource.type == "AWS::EC2::Subnet":
            regional = self.topology.regions.get(self.model.stack_of(resource).region or "")
            found = regional.subnet(resource) if regional is not None else None
            if found is not None and found.cde:
                return CDE, f"{found.tier} tier subnet (tagged pci-scope=cde)"
            if resource.key in self.hosted:
                return CDE, self.hosted[resource.key][0]
        return self._component(resource)

    def _component(self, resource: Resource) -> tuple[str, str]:
        """(category, basis) of a resource, subnets apart (a subnet's follows what it hosts)."""
        if resource.key in self.keyed_hash_keys:
            return CDE, "keyed-hash (HMAC) key of the vault's PAN hashes (3.5.1.1)"
        if resource.key in self.envelope_keys:
            return CDE, "cardholder-data key: the vault's data keys are generated under it (3.5.1)"
        if resource.key in self._database_keys:
            return CDE, "encrypts the card-data database's storage, backups and snapshots"
        if resource.type == "AWS::ElasticLoadBalancingV2::Listener" and self.fronts_vault and _redirects_only(resource):
            return CDE, REDIRECT_LISTENER_BASIS
        if resource.type in _PAN_PATH_TYPES and (self.fronts_vault or resource.type.startswith("AWS::RDS::")):
            return CDE, _PAN_PATH_TYPES[resource.type]
        if _vault_function(resource):
            return CDE, "card-vault function: handles PAN or the card-data store"
        if resource.type == "AWS::Lambda::Function" and self._in_cde_subnets(resource):
            return CDE, "placed in a CDE subnet"
        if resource.key in self.pan_endpoints:
            return CDE, self.pan_endpoints[resource.key]
        stack = self.model.stack_of(resource)
        if resource.type == "AWS::EC2::VPCEndpoint" and (stack.account is not None or stack.region is not None):
            return CONNECTED, self.endpoint_basis(resource)
        if resource.type == "AWS::NetworkFirewall::Firewall" and self.vault_functions:
            if self.firewall_carries_cde(resource):
                return CDE, "its endpoints carry a CDE component's traffic out of the VPC (a security group allows it)"
            return CONNECTED, (
                "security-impacting: its endpoints filter the CDE tiers' egress (a system that facilitates"
                " segmentation, PCI DSS v4.0.1 section 4); no card data crosses it: no CDE component's security"
                " group allows traffic out of the VPC"
            )
        if resource.key in self.card_data_stores:
            holds, statement = self.card_data_stores[resource.key]
            if holds and self.fronts_vault:
                return CDE, f"stores cardholder data: {statement}"
            return CONNECTED, f"log store of the CDE's requests: {statement}"
        if (elsewhere := self.other_account_basis(stack)) is not None:
            return CONNECTED, elsewhere
        if stack.account is not None or stack.region is not None:
            return CONNECTED, self._connected_basis(resource)
        return OUT, "no account or region recorded and no reference to the CDE"

    def _connected_basis(self, resource: Resource) -> str:
        """Why a resource that is not CDE is connected-to or security-impacting, from what the templates give it
        to do (PCI DSS v4.0.1 section 4: systems with connectivity to the CDE, that provide security services to
        it or that can impact its configuration or security)."""
        kind = resource.type
        if kind == "AWS::EC2::Subnet":
            regional = self.topology.regions.get(self.model.stack_of(resource).region or "")
            found = regional.subnet(resource) if regional is not None else None
            tier = f"{found.tier} tier subnet" if found is not None else "subnet"
            if any(r.type == "AWS::EC2::NatGateway" for r in self.model.referrers(resource)):
                return f"connected-to: {tier} hosting a NAT gateway that carries the CDE tiers' outbound traffic"
            return f"connected-to: {tier} of the CDE's VPC, hosting no CDE component"
        if kind in ("AWS::EC2::NatGateway", "AWS::EC2::EIP"):
            return "connected-to: carries the CDE tiers' outbound traffic to the internet (connectivity to the CDE)"
        if kind in ("AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment"):
            return "connected-to: the VPC's internet gateway, which carries the public tier's (CDE) traffic"
        if kind in ("AWS::EC2::RouteTable", "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation"):
            return "security-impacting: routes the CDE's VPC traffic (segmentation)"
        if kind.startswith(("AWS::EC2::SecurityGroup", "AWS::EC2::NetworkAcl", "AWS::EC2::SubnetNetworkAclAssoc")):
            return "security-impacting: a network security control of the CDE's VPC (1.2, 1.3)"
        if kind in ("AWS::EC2::VPC", "AWS::EC2::FlowLog"):
            return "security-impacting: the CDE's network or its flow logs"
        if kind.startswith("AWS::IAM::") or kind.startswith("AWS::SSO::"):
            return "security-impacting: identity that can grant or use access to the account's resources (7, 8)"
        if kind.startswith("AWS::KMS::"):
            return "security-impacting: a key of the CDE's account (logs, secrets, alerts, storage) (3.6, 3.7)"
        if kind.startswith(("AWS::Logs::", "AWS::CloudTrail::", "AWS::S3::")):
            return "security-impacting: holds or delivers the account's audit logs or data (10)"
        if kind.startswith(("AWS::Config::", "AWS::GuardDuty::", "AWS::SecurityHub::", "AWS::CloudWatch::")):
            return "security-impacting: a security service monitoring the CDE's account (10, 11)"
        if kind == "AWS::Lambda::Permission":
            # The resource policy of a vault function (the load balancer's invoke, the detokenize callers'): it
            # decides who sends card data to the function or receives it back (QSA reader r20c LOW).
            vault = {f.key for f in self.vault_functions}
            targets = []
            for target in self.model.references(resource.stack, resource.prop("FunctionName")):
                if target.type == "AWS::Lambda::Alias":  # a permission on the function's alias (the callers')
                    targets += self.model.references(target.stack, target.prop("FunctionName"))
                else:
                    targets.append(target)
            targets = [t for t in targets if t.key in vault]
            if targets:
                named = ", ".join(sorted(display_name(t) for t in targets))
                return (
                    f"security-impacting: the resource policy that lets {resource.prop('Principal')} invoke the vault"
                    f" function {named}, a path card data takes (1.2.4, 7.2.1)"
                )
        if kind.startswith(("AWS::Lambda::", "AWS::Events::", "AWS::SNS::", "AWS::Scheduler::")):
            return "security-impacting: a function, schedule or topic of the CDE's account (monitoring, alerting)"
        return "same account as the CDE: can affect its security (network, keys, logs, identity)"

    def kind_of(self, resource: Resource) -> str:
        """The diagram shading class: cde, connected or out."""
        category = self.category(resource)[0]
        return {CDE: "cde", CONNECTED: "connected"}.get(category, "out")


# -- CDE, outside the templates ---------------------------------------------------------------------------
def cde_outside_templates(model: TemplateModel, scope: ScopeModel) -> list[tuple[str, str, str]]:
    """(system, referenced by, basis) of each system the templates do not create that sends or receives PAN.

    Its category is CDE (`CDE_OUTSIDE`: PCI DSS v4.0.1 section 4, the CDE includes the system components
    that store, process or transmit cardholder data): the Payment API's callers, which send the PAN to a load
    balancer that fronts the vault, and every principal a vault function's resource policy lets invoke it
    (`AWS::Lambda::Permission`), whose response may carry the PAN. A third party among them is a service
    provider whose PCI DSS compliance 12.8.1-12.8.5 manage. Raises nothing; empty when no vault is fronted.
    """
    rows: list[tuple[str, str, str]] = []
    if scope.fronts_vault:
        for listener in model.resources("AWS::ElasticLoadBalancingV2::Listener"):
            if listener.prop("Protocol") != "HTTPS":
                continue
            mode = listener.prop("MutualAuthentication", "Mode")
            rows.append(
                (
                    "Payment API callers (clients of the HTTPS listener)",
                    listener.path,
                    "send the PAN in the request body"
                    + (f"; authenticated by mutual TLS ({mode})" if mode else "; no client certificate required")
                    + "; a third party among them: 12.8",
                )
            )
    for function in scope.vault_functions:
        for principal, alias in _invoke_grants(model, function):
            if principal.startswith("arn:"):
                rows.append(
                    (
                        f"caller role {principal.rsplit(':', 1)[-1]}",
                        function.path + (f" (alias {alias})" if alias else ""),
                        "lambda:InvokeFunction on a card-vault function (AWS::Lambda::Permission); its response"
                        " may carry the PAN; a third party's role: 12.8",
                    )
                )
    return sorted(set(rows))


# -- outside the templates ---------------------------------------------------------------------------
@dataclass(frozen=True)
class External:
    kind: str
    reference: str
    used_by: tuple[str, ...]  # construct paths (or stack names) that reference it
    basis: str  # how the templates reference it

    @property
    def status(self) -> str:
        return UNVERIFIED


_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def _render(value: Any, stack_region: str | None, stack_account: str | None) -> str | None:
    """A string built only from literals and pseudo parameters, else None (it names a resource)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return None
    pseudo = {**_PSEUDO, "AWS::Region": stack_region or "${AWS::Region}", "AWS::AccountId": stack_account or "?"}
    if isinstance(value, Mapping) and "Ref" in value and value["Ref"] in pseudo:
        return pseudo[value["Ref"]]
    if isinstance(value, Mapping) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        rendered = [_render(p, stack_region, stack_account) for p in parts]
        return None if any(r is None for r in rendered) else str(sep).join(str(r) for r in rendered)
    if isinstance(value, Mapping) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        names = re.findall(r"\$\{([^}]+)\}", text)
        if all(n in pseudo for n in names):
            for n in names:
                text = text.replace("${" + n + "}", pseudo[n])
            return text
    return None


def _walk(value: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(property path, value, the mapping holding it) for every node under `value`, depth first in
    document order. Collected into one list (nested generators handed each node up every level)."""
    nodes: list[tuple[str, Any, Any]] = []
    _collect(value, path, nodes)
    return nodes


def _collect(value: Any, path: str, nodes: list[tuple[str, Any, Any]]) -> None:
    if type(value) is dict or isinstance(value, Mapping):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            nodes.append((sub, v, value))
            if type(v) is str:
                continue  # a leaf: nothing under it
            if not (isinstance(v, Mapping) and any(str(key).startswith("Fn::") or key == "Ref" for key in v)):
                _collect(v, sub, nodes)
            elif "Fn::Join" in v:
                _collect(v["Fn::Join"][1], sub, nodes)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            sub = f"{path}[{i}]"
            if not isinstance(item, Mapping | list):
                nodes.append((sub, item, value))
            if type(item) is not str:
                _collect(item, sub, nodes)


def _arn_kind(arn: str) -> str:
    match = _ARN.match(arn)
    if match is None:
        return "ARN"
    service, account, rest = match.group(2), match.group(4), match.group(5)
    if service == "iam" and account == "aws":
        return "AWS managed policy"
    if service == "iam" and rest == "root":
        return "account root principal"
    if service == "iam" and rest.startswith("role/"):
        name = rest.rsplit("/", 1)[-1]
        return "CDK bootstrap role" if name.startswith("cdk-") else "IAM role"
    if service == "iam":
        return f"IAM {rest.split('/', 1)[0]}"
    if service == "acm":
        return "ACM certificate"
    return f"{service} {rest.split('/', 1)[0].split(':', 1)[0]}"


def _created_names(model: TemplateModel) -> set[str]:
    """Names the templates give the resources they create (role, bucket, parameter, function names)."""
    names: set[str] = set()
    props = (
        "RoleName",
        "BucketName",
        "Name",
        "FunctionName",
        "TopicName",
        "LogGroupName",
        "AliasName",
        "ManagedPolicyName",
        "TrailName",
    )
    for resource in model.resources():
        for prop in props:
            value = resource.prop(prop)
            if isinstance(value, str):
                names.add(value)
                names.add(value.removeprefix("alias/"))
    return names


def outside_templates(model: TemplateModel, assembly: Path | None = None) -> list[External]:
    """Everything the templates reference but no template creates (see the module docstring)."""
    found: dict[tuple[str, str], tuple[set[str], str]] = {}

    def add(kind: str, reference: str, user: str, basis: str) -> None:
        users, _ = found.setdefault((kind, reference), (set(), basis))
        users.add(user)

    created = _created_names(model)
    exports = {name for stack in model.stacks.values() for name in stack.exports}
    for stack in model.stacks.values():
        for name, body in (stack.template.get("Parameters") or {}).items():
            default = body.get("Default")
            if str(body.get("Type", "")).startswith("AWS::SSM::Parameter"):
                if default in created:
                    continue  # a parameter another template of this synth writes
                kind = "CDK bootstrap version parameter" if name == "BootstrapVersion" else "SSM parameter"
                add(kind, str(default), stack.name, f"template parameter {name}")
            else:
                add("template parameter", f"{stack.name}.{name}", stack.name, "value supplied at deploy")
        transform = stack.template.get("Transform")
        transforms = transform if isinstance(transform, list) else [transform] if transform else []
        for resource in stack.resources.values():
            if (
                resource.type == "AWS::SecretsManager::RotationSchedule"
                and resource.prop("HostedRotationLambda") is not None
                and any(str(t).startswith("AWS::SecretsManager") for t in transforms)
            ):
                name = resource.prop("HostedRotationLambda", "RotationLambdaName") or "hosted rotation function"
                add(
                    "hosted rotation function and its IAM role",
                    str(name),
                    resource.path,
                    "created at deploy by the AWS::SecretsManager transform (no permissions boundary)",
                )
            for path, value, holder in _walk(dict(resource.properties)):
                if type(value) is str:
                    text = value  # most nodes: a literal (what _render returns for a string)
                else:
                    if isinstance(value, Mapping) and "Fn::ImportValue" in value:
                        export = value["Fn::ImportValue"]
                        if isinstance(export, str) and export not in exports:
                            add("CloudFormation export", export, resource.path, f"Fn::ImportValue in {path}")
                        continue
                    rendered = _render(value, stack.region, stack.account) if not isinstance(value, list) else None
                    if rendered is None:
                        continue
                    text = rendered
                if text.startswith("arn:") and _ARN.match(text):
                    if "*" in text or text.endswith((":", "/")):
                        continue  # a pattern in a policy or condition, not a reference to one thing
                    resource_part = text.split(":", 5)[-1]
                    names = {resource_part, resource_part.split("/", 1)[-1], resource_part.rsplit("/", 1)[-1]}
                    names.add(resource_part.rsplit(":", 1)[-1])
                    if names & created and _arn_kind(text) != "account root principal":
                        continue
                    add(_arn_kind(text), text, resource.path, f"literal ARN in {path}")
                elif (
                    path.endswith("S3Bucket")
                    and isinstance(holder, Mapping)
                    and text not in created
                    and not isinstance(value, list)
                ):
                    prefix = path[: -len("S3Bucket")]
                    key = holder.get(prefix.rsplit(".", 1)[-1] + "S3Key") or holder.get("S3Key")
                    key_text = _render(key, stack.region, stack.account) if key is not None else None
                    what = "CDK asset object (bootstrap bucket)" if text.startswith("cdk-") else "S3 object"
                    add(
                        what,
                        f"s3://{text}/{key_text or '*'}",
                        resource.path,
                        f"{path} names a bucket no template creates",
                    )
    if assembly is not None:
        for kind, arn, stack_name in _bootstrap_roles(assembly):
            add(kind, arn, stack_name, "the assembly manifest: the CDK CLI deploys the stack with it")
    rows = [External(kind, ref, tuple(sorted(users)), basis) for (kind, ref), (users, basis) in found.items()]
    return sorted(rows, key=lambda e: (e.kind, e.reference))


def _bootstrap_roles(assembly: Path) -> Iterator[tuple[str, str, str]]:
    """(kind, role ARN, stack) from the assembly manifest and each nested (Stage) assembly's."""
    manifest = assembly / "manifest.json"
    try:
        artifacts = json.loads(manifest.read_text(encoding="utf-8")).get("artifacts") or {}
    except (OSError, ValueError):
        return
    for name, artifact in sorted(artifacts.items()):
        props = artifact.get("properties") or {}
        if artifact.get("type") == "cdk:cloud-assembly" and props.get("directoryName"):
            yield from _bootstrap_roles(assembly / str(props["directoryName"]))
        if artifact.get("type") == "aws:cloudformation:stack":
            for field, kind in (
                ("assumeRoleArn", "CDK bootstrap deploy role"),
                ("cloudFormationExecutionRoleArn", "CDK bootstrap CloudFormation execution role"),
            ):
                if props.get(field):
                    yield kind, str(props[field]).replace("${AWS::Partition}", "aws"), name
        elif artifact.get("type") == "cdk:asset-manifest":
            assets = manifest.parent / str(props.get("file", ""))
            try:
                data = json.loads(assets.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for body in (data.get("files") or {}).values():
                for destination in (body.get("destinations") or {}).values():
                    role = destination.get("assumeRoleArn")
                    if role:
                        arn = str(role).replace("${AWS::Partition}", "aws")
                        yield "CDK bootstrap file-publishing role", arn, name.removesuffix(".assets")


def wireless_statement(model: TemplateModel) -> str:
    """Wireless presence, stated with its basis (1.2.3 asks the diagram to show wireless networks)."""
    wireless = sorted({r.type for r in model.resources() if r.type.startswith(_WIRELESS_PREFIXES)})
    if wireless:
        return f"Wireless resources in the templates: {', '.join(wireless)}; connect them only through NSCs (1.3.3)."
    return (
        "Wireless: none in the templates (no AWS::IoTWireless::* resource, and no other CloudFormation type"
        " creates a wireless network). The data centres' physical and wireless networks are AWS's"
        " responsibility under the AWS PCI DSS Attestation of Compliance (see the responsibility work paper);"
        " wireless networks of the customer's own offices are outside these templates: unverified."
    )


def display(resource: Resource) -> str:
    return display_name(resource)


def payment_channels(model: TemplateModel, scope: ScopeModel) -> list[tuple[str, str, str]]:
    """(channel, present or N/A, basis) for each payment channel, from what the templates create."""
    routes: list[str] = []
    for rule in model.resources("AWS::ElasticLoadBalancingV2::ListenerRule"):
        targets = [t for t in model.references(rule.stack, rule.prop("Actions")) if t.type.endswith("TargetGroup")]
        if any(
            f.key in {v.key for v in scope.vault_functions}
            for t in targets
            for f in model.references(t.stack, t.prop("Targets"))
        ):
            for condition in rule.prop("Conditions", default=[]) or []:
                values = (condition.get("PathPatternConfig") or {}).get("Values") or condition.get("Values") or []
                routes += [str(v) for v in values]
    api = (
        ("present", f"the vault's API behind the internet-facing ALB (mTLS), routes {', '.join(sorted(set(routes)))}")
        if routes
        else ("N/A", "no load balancer route reaches a card-vault function")
    )
    pages = [
        r
        for r in model.resources("AWS::CloudFront::Distribution", "AWS::Amplify::App", "AWS::S3::Bucket")
        if r.prop("WebsiteConfiguration") is not None or r.type != "AWS::S3::Bucket"
    ]
    return [
        ("Card-not-present API (server to server)", *api),
        (
            "E-commerce payment page (browser)",
            "present" if pages else "N/A",
            "a web-hosting resource is in the templates: its scripts fall under 6.4.3 and 11.6.1"
            if pages
            else "no web page is served: no CloudFront distribution, website bucket or Amplify app, and the ALB"
            " answers 404 outside the vault's routes",
        ),
        (
            "Card-present (POS terminals, kiosks)",
            "N/A",
            "no device, terminal or IoT resource in the templates",
        ),
        (
            "Mail order / telephone order",
            "N/A",
            "no telephony or contact-centre resource (Amazon Connect, Chime) in the templates",
        ),
    ]
