"""Builds every stack of one environment in any scope (the App, or a pipeline's Stage)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from aws_cdk import Annotations, Aspects, CfnResource, Stack, Tags
from constructs import Construct, IConstruct

from config import ConfigError, EnvironmentConfig
from pci_constructs.permissions_boundary import PermissionsBoundaryAspect
from stacks.audit_stack import AuditReplicaStack, AuditStack, archive_replication
from stacks.data_stack import DataStack
from stacks.detection_stack import GUARDDUTY_EXISTING_NOTE, DetectionStack, detection_enabled
from stacks.edge_stack import EdgeStack
from stacks.identity_stack import AccountGuardsStack, IdentityStack, OrgGuardrailsStack
from stacks.keys_stack import KeysStack
from stacks.network_stack import NetworkStack
from stacks.workload_stack import WorkloadStack, card_vault_enabled


@dataclass
class RegionalStacks:
    keys: KeysStack
    network: NetworkStack
    data: DataStack
    edge: EdgeStack
    workload: WorkloadStack | None = None


@dataclass
class AuditStacks:
    trail: AuditStack
    replica: AuditReplicaStack | None
    detection: dict[str, DetectionStack]


@dataclass
class LandingZone:
    config: EnvironmentConfig
    regions: dict[str, RegionalStacks] = field(default_factory=dict)
    audit: AuditStacks | None = None
    identity: IdentityStack | None = None
    account_guards: dict[str, AccountGuardsStack] = field(default_factory=dict)
    guardrails: OrgGuardrailsStack | None = None
    # Full construct path of the App ("") or Stage the environment was built in: its own
    # acknowledgments apply to every stack under it (a fork's own stacks included).
    scope_path: str = ""

    @property
    def stack_names(self) -> list[str]:
        """Every stack this landing zone builds (a fork's own stacks in the same scope are not listed)."""
        stacks: list[Stack] = [s for r in self.regions.values() for s in (r.keys, r.network, r.data, r.edge)]
        stacks += [r.workload for r in self.regions.values() if r.workload is not None]
        if self.audit is not None:
            stacks += [self.audit.trail, *([self.audit.replica] if self.audit.replica else [])]
            stacks += list(self.audit.detection.values())
        stacks += [*([self.identity] if self.identity else []), *self.account_guards.values()]
        stacks += [self.guardrails] if self.guardrails else []
        return [s.stack_name for s in stacks]


def stack_name(config: EnvironmentConfig, part: str, region: str | None = None) -> str:
    return "-".join(p for p in ("PciLz", config.name, part, region) if p)


def build_landing_zone(scope: Construct, config: EnvironmentConfig) -> LandingZone:
    """Regional stacks per configured region; references flow keys -> network -> data -> edge -> workload.

    `scope` is the App (`cdk deploy`) or a `Stage` (CDK Pipelines). Each stack's
    CloudFormation name is its construct ID, `PciLz-<env>-<Part>-<region>`, in both:
    inside a Stage only the cloud-assembly artifact ID takes the stage's prefix, so moving
    an environment from `cdk deploy` to the pipeline updates its stacks instead of
    creating new ones beside them. Aspects (tags, and any environment-wide Aspect) go on
    `scope`, never on the App: an Aspect added to the App does not enter a Stage.
    """
    zone = LandingZone(config=config, scope_path=scope.node.path)
    for region in config.regions:
        keys = KeysStack(scope, stack_name(config, "Keys", region), config=config, region=region)
        network = NetworkStack(
            scope,
            stack_name(config, "Network", region),
            config=config,
            region=region,
            log_key=keys.keys.logs,
        )
        data = DataStack(
            scope,
            stack_name(config, "Data", region),
            config=config,
            region=region,
            keys=keys.keys,
            network=network.network,
        )
        edge = EdgeStack(
            scope,
            stack_name(config, "Edge", region),
            config=config,
            region=region,
            keys=keys.keys,
            network=network.network,
            access_logs_bucket=data.access_logs.bucket,
        )
        workload = None
        if card_vault_enabled(config):
            workload = WorkloadStack(
                scope,
                stack_name(config, "Workload", region),
                config=config,
                region=region,
                keys=keys.keys,
                network=network.network,
                database=data.database,
                alb=edge.alb,
            )
        zone.regions[region] = RegionalStacks(keys=keys, network=network, data=data, edge=edge, workload=workload)
    zone.audit = _build_audit(scope, config, zone.regions)
    home_workload = zone.regions[config.home_region].workload
    if home_workload is not None:  # its alarms read the alerts topic's ARN from the audit stack's parameter
        home_workload.add_stack_dependency(zone.audit.trail, "the alerts topic's SSM parameter must exist first")
    _build_identity(scope, config, zone)
    if config.audit.guardduty_mode == "existing":
        for region in config.regions:
            if zone.audit is None or region not in zone.audit.detection:  # no Detection stack for the note
                Annotations.of(zone.account_guards[region]).add_info(GUARDDUTY_EXISTING_NOTE)
    # Every IAM role and user of every stack of this environment, CDK-generated ones and those
    # added later, gets its region's permissions boundary. On `scope`, once: an Aspect on the App
    # would not reach the stacks of a Stage.
    Aspects.of(scope).add(
        PermissionsBoundaryAspect(boundaries={region: stacks.keys.boundary for region, stacks in zone.regions.items()})
    )
    Tags.of(scope).add("project", "pci-dss-landing-zone")
    Tags.of(scope).add("environment", config.name)
    for add_stacks in extra_stacks(scope):  # a fork's own stacks, in this environment's scope
        add_stacks(scope, zone)
    leave_out_empty_stacks(scope)
    return zone


def _creates_something(construct: IConstruct) -> bool:
    return any(isinstance(child, CfnResource) for child in construct.node.find_all())


def leave_out_empty_stacks(scope: Construct) -> list[str]:
    """Removes from `scope` every stack that would create no resource, and returns their names.

    CloudFormation refuses a template without resources (cfn-lint F0001), so a stack whose every
    part a configuration switched off must not reach the assembly, nor a pipeline stage (which
    deploys what the stage holds). An empty stack exports nothing (an export needs a resource or
    a parameter to name), so its producers keep theirs pinned and no consumer loses an import; a
    stack another stack depends on is kept (removing it would drop that ordering), and the scan
    `tests/template_scan.py:empty_templates` then fails on it.
    """
    stacks = [child for child in scope.node.children if isinstance(child, Stack)]
    needed = {id(dependency) for stack in stacks for dependency in stack.dependencies}
    removed = []
    for stack in stacks:
        if id(stack) not in needed and not _creates_something(stack):
            scope.node.try_remove_child(stack.node.id)
            removed.append(stack.stack_name)
    return removed


EXTRA_STACKS_CONTEXT = "extra_stacks"


def extra_stacks(scope: Construct) -> list[Callable[[Construct, LandingZone], None]]:
    """The functions named by the `extra_stacks` context key ("module:function", or a list of them):
    each adds a fork's own stacks to every environment, in its scope (the App, or its Stage in a
    delivery), so they get the permissions boundary, the tags, the gate and the environment's own
    acknowledgments like the landing zone's stacks. Raises ConfigError for a name that does not import."""
    value = scope.node.try_get_context(EXTRA_STACKS_CONTEXT)
    names = [value] if isinstance(value, str) else list(value or [])
    found = []
    for name in names:
        module_name, _, function = str(name).partition(":")
        try:
            add = getattr(importlib.import_module(module_name), function) if function else None
        except ModuleNotFoundError as err:
            if err.name is None or not (module_name == err.name or module_name.startswith(f"{err.name}.")):
                # The fork's module was found but imports something missing: say what, not that it is absent.
                raise ConfigError(
                    f"{EXTRA_STACKS_CONTEXT}: {name!r} could not be imported: {err} (an import inside {module_name})"
                ) from err
            add = None
        except ImportError as err:
            raise ConfigError(f"{EXTRA_STACKS_CONTEXT}: {name!r} could not be imported: {err}") from err
        except AttributeError:
            add = None
        if not callable(add):
            raise ConfigError(
                f"{EXTRA_STACKS_CONTEXT}: {name!r} is not 'module:function' naming an importable function"
                " (it is called with the environment's scope and its LandingZone)"
            )
        found.append(add)
    return found


def _build_audit(scope: Construct, config: EnvironmentConfig, regions: dict[str, RegionalStacks]) -> AuditStacks:
    """Once per environment: the archive's replica (second region), then the trail (home); detection per region."""
    replication = archive_replication(config)
    replica = None
    if replication is not None:
        replica_region = regions[replication.replica_region]
        replica = AuditReplicaStack(
            scope,
            stack_name(config, "AuditReplica", replication.replica_region),
            config=config,
            replication=replication,
            keys=replica_region.keys.keys,
            access_logs_bucket=replica_region.data.access_logs.bucket,
        )
    home = regions[config.home_region]
    trail = AuditStack(
        scope,
        stack_name(config, "Audit", config.home_region),
        config=config,
        keys=home.keys.keys,
        access_logs_bucket=home.data.access_logs.bucket,
        replication=replication,
    )
    if replica is not None:
        trail.add_stack_dependency(replica, "the replication role and replica bucket must exist first")
    detection = {}
    if detection_enabled(config):
        for region, regional in regions.items():
            detection[region] = DetectionStack(
                scope,
                stack_name(config, "Detection", region),
                config=config,
                region=region,
                keys=regional.keys.keys,
                access_logs_bucket=regional.data.access_logs.bucket,
            )
    return AuditStacks(trail=trail, replica=replica, detection=detection)


def _build_identity(scope: Construct, config: EnvironmentConfig, zone: LandingZone) -> None:
    """Once per account: the identity stack (home region); per region: the account guards."""
    home = zone.regions[config.home_region]
    zone.identity = IdentityStack(
        scope, stack_name(config, "Identity", config.home_region), config=config, keys=home.keys.keys
    )
    for region, regional in zone.regions.items():
        zone.account_guards[region] = AccountGuardsStack(
            scope, stack_name(config, "AccountGuards", region), config=config, region=region, keys=regional.keys.keys
        )
    if config.guardrails.enabled:
        zone.guardrails = OrgGuardrailsStack(
            scope, stack_name(config, "OrgGuardrails", config.home_region), config=config
        )
