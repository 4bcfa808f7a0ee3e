"""Named predicates an acknowledgment may use to say what a resource *is*, or when its reason holds.

An entry in compliance/acknowledgments.yaml (or an environment file's `acknowledgments`) is data,
reviewed by security owners; these functions are the few pieces of logic it may name:

- `RESOURCE_PREDICATES`: over one rendered CloudFormation resource (the L1 `CfnResource` the finding
  is raised on), used with `resource_type` so an entry matches "the public NACL's entry that admits
  ephemeral replies from anywhere" instead of its position (`PublicNacl/In140`), which the AZ count
  and the number of ingress CIDRs shift.
- `CONFIG_PREDICATES`: over the environment configuration, used with `when` so an entry applies only
  in the environments where its reason is true ("clients reach the database through RDS Proxy").

A name not in these registries is refused when the registry is loaded, naming the known ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_cdk import CfnResource, Token
from aws_cdk import aws_ec2 as ec2

if TYPE_CHECKING:
    from config import EnvironmentConfig

ANYWHERE = "0.0.0.0/0"
EPHEMERAL = (1024, 65535)
POSTGRES_DEFAULT_PORT = 5432


def _plain(value: Any) -> Any:
    """A property value, or None where it is a token (unknown until deployment)."""
    return None if Token.is_unresolved(value) else value


def _nacl_entry(resource: CfnResource) -> ec2.CfnNetworkAclEntry | None:
    return resource if isinstance(resource, ec2.CfnNetworkAclEntry) else None


def nacl_allows_ephemeral_ingress_from_anywhere(resource: CfnResource) -> bool:
    """An inbound ALLOW entry for TCP 1024-65535 from 0.0.0.0/0: the return path of outbound flows."""
    entry = _nacl_entry(resource)
    if entry is None or _plain(entry.egress) or str(_plain(entry.rule_action)).lower() != "allow":
        return False
    ports = _plain(entry.port_range)
    span = (getattr(ports, "from_", None), getattr(ports, "to", None))
    return _plain(entry.cidr_block) == ANYWHERE and span == EPHEMERAL and _plain(entry.protocol) == 6


RESOURCE_PREDICATES: dict[str, Callable[[CfnResource], bool]] = {
    "nacl_allows_ephemeral_ingress_from_anywhere": nacl_allows_ephemeral_ingress_from_anywhere,
}


def database_proxy_enabled(config: EnvironmentConfig) -> bool:
    return config.database.enable_proxy


def database_proxy_disabled(config: EnvironmentConfig) -> bool:
    return not config.database.enable_proxy


def database_on_engine_default_port(config: EnvironmentConfig) -> bool:
    """AwsSolutions-RDS11 is raised only while the instance listens on PostgreSQL's default port."""
    return config.db_port == POSTGRES_DEFAULT_PORT


def card_vault_enabled(config: EnvironmentConfig) -> bool:
    return config.card_vault is not None and config.card_vault.enabled


def ingress_open_to_the_internet(config: EnvironmentConfig) -> bool:
    """The public load balancer admits 0.0.0.0/0 (a public payment page)."""
    return ANYWHERE in config.allowed_ingress_cidrs


def egress_through_firewall(config: EnvironmentConfig) -> bool:
    return config.egress.mode == "firewall"


def config_recorder_created(config: EnvironmentConfig) -> bool:
    """The Config recorder, its role and delivery bucket exist only with `audit.config_mode: create`."""
    return config.audit.config_mode == "create"


def archive_replicated(config: EnvironmentConfig) -> bool:
    """The log archive has a cross-region replica (a second region, or `audit.replica_region`)."""
    return config.replica_region is not None


def administrator_role_configured(config: EnvironmentConfig) -> bool:
    return bool(config.identity.administrator_principals)


def auditor_role_configured(config: EnvironmentConfig) -> bool:
    return bool(config.identity.auditor_principals)


def break_glass_role_configured(config: EnvironmentConfig) -> bool:
    return bool(config.identity.break_glass_principals)


def operator_roles_configured(config: EnvironmentConfig) -> bool:
    """At least one operator role exists (each exists only with its `identity.*_principals` set)."""
    return (
        administrator_role_configured(config) or auditor_role_configured(config) or break_glass_role_configured(config)
    )


CONFIG_PREDICATES: dict[str, Callable[[EnvironmentConfig], bool]] = {
    "config_recorder_created": config_recorder_created,
    "archive_replicated": archive_replicated,
    "administrator_role_configured": administrator_role_configured,
    "auditor_role_configured": auditor_role_configured,
    "break_glass_role_configured": break_glass_role_configured,
    "operator_roles_configured": operator_roles_configured,
    "database_proxy_enabled": database_proxy_enabled,
    "database_proxy_disabled": database_proxy_disabled,
    "database_on_engine_default_port": database_on_engine_default_port,
    "card_vault_enabled": card_vault_enabled,
    "ingress_open_to_the_internet": ingress_open_to_the_internet,
    "egress_through_firewall": egress_through_firewall,
}
