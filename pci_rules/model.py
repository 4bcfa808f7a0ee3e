"""One parsed model of a set of rendered CloudFormation templates.

Rules and diagrams read this model, never the CDK construct tree: what is
checked is what CloudFormation will receive, escape-hatch overrides and raw
`CfnResource`s included.

References are followed the way CloudFormation resolves them: `Ref` and
`Fn::GetAtt` inside one template, `Fn::ImportValue` across templates through
the producing stack's `Outputs.*.Export.Name` (CloudFormation User Guide,
"Fn::ImportValue" and "Get exported outputs from a deployed CloudFormation stack").

Nested stacks (`AWS::CloudFormation::Stack`) are read too: each one's template asset in the cloud
assembly is a stack of the model, named `<parent>/<logical id>`.

Intrinsics a rule could be evaded with are resolved by ONE policy, `TemplateModel.variants()`, which
`rule.evaluate` runs every rule over: a `Ref` to a template Parameter with AllowedValues becomes its Default
(and, in further variants, each of its AllowedValues); every `Fn::If` takes the branch its condition gives
under each truth assignment of the atoms its conditions rest on (an `Fn::Equals` unknown at synth, a
condition with no readable definition), so a condition defined by `Fn::Equals`/`Fn::And`/`Fn::Or`/`Fn::Not`
over other conditions stays consistent with them; `Fn::Equals` on `AWS::Region`, `AWS::AccountId` and
`AWS::Partition` is evaluated against the stack's environment when the assembly names it (unknown in an
environment-agnostic stack: both ways), and on a Parameter with AllowedValues at each value. All assignments
of a stack's atoms are enumerated when they are at most `MAX_CONDITIONS` (6), else each resource's own; a
resource whose `Fn::If`s rest on more than that is left undecided, and a rule's read of it is "could not
resolve". A resource-level `Condition` attribute is decided the same way: a resource whose condition is false
is left out of the variant (CloudFormation User Guide, "Conditions": it is not created), one whose condition is
undecided (over a Parameter without AllowedValues) stays in. `AWS::NoValue` removes the key, `Fn::FindInMap`
and `Fn::Select` of literals are looked up (a `Fn::FindInMap` keyed by a pseudo parameter the stack's
environment leaves unknown takes each row of the mapping in a variant of its own), and
`Fn::Join`/`Fn::Sub` whose every part is then a literal become the string CloudFormation makes of them. A
resource failing in any variant fails. A Parameter that no variant can give a value (no AllowedValues: no
Default, or a Default a deployer may replace with anything, CloudFormation User Guide "Parameters"; not
supplied by a parent stack, not an SSM parameter) is itself a finding: PCI4-TEMPLATE-PARAMETERS-RESOLVED; and
a `Ref` to it, a `Fn::Select` index or `Fn::FindInMap` key over it and an `Fn::If` on a condition over it are
left undecided: a rule that reads one (`Resource.prop` or `Resource.reference`, at any depth) reports "could
not resolve <property>" on the resource, even where it then skipped the resource.

What stays an intrinsic after that (a `Fn::Join` or `Fn::Sub` over a resource attribute, an import or a pseudo
parameter) is unknown until deploy. A rule reads a property with `Resource.prop`; when the value it gets is
such an unresolved `Fn::Join`/`Fn::Sub`, `rule.evaluate` turns a pass on that resource into the finding
"could not resolve <property>": the rule decided on a value it never saw. A rule that reads a property as a
reference (an ARN it only follows or matches a suffix of) or parses the intrinsic itself reads it with
`Resource.reference` instead.

A list or object `prop` returns (a security group's ingress entries, a policy document) is walked too: a
`Fn::Join`/`Fn::Sub` nested anywhere inside it is reported the same way, at its path under the property
(`SecurityGroupIngress[0].CidrIp`), when it is *unresolvable*: one of its parts, at any depth, is a `Ref`
(or a `Fn::Sub` `${Name}`) to a Parameter of the resource's stack that no variant can give a value (the
Parameters PCI4-TEMPLATE-PARAMETERS-RESOLVED reports: no Default or AllowedValues, not supplied by a parent
stack, not an SSM parameter). A nested `Fn::Join`/`Fn::Sub` whose unknown parts are only resource attributes
(`Fn::GetAtt`, a `Ref` to a resource), pseudo parameters (`AWS::Partition`, `AWS::Region`...) or imports is
not reported: those are the ARNs and names CloudFormation makes of resources, which the rules follow or
match as references (CDK renders every policy document's resource ARNs that way), and what they name
is fixed by the templates, not by whoever deploys them. A read is charged to the resource it was made on.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

CDK_PATH_METADATA = "aws:cdk:path"
TEMPLATE_SUFFIX = ".template.json"
STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"
NESTED_STACK = "AWS::CloudFormation::Stack"
ASSET_PATH_METADATA = "aws:asset:path"
# A parameter of one of these types holds the name of an SSM parameter; its value is read at deploy.
SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::"
# Intrinsics that make a string ("Fn::Join", "Fn::Sub"): resolved when every part is literal, else unknown.
STRING_INTRINSICS = ("Fn::Join", "Fn::Sub")

# Reads of unresolved string intrinsics while `rule.evaluate` runs a rule: (resource key, property path, function).
UnresolvedRead = tuple[tuple[str, str], tuple[str | int, ...], str]
_UNRESOLVED_READS: ContextVar[list[UnresolvedRead] | None] = ContextVar("unresolved_reads", default=None)


def unresolved_function(value: Any) -> str | None:
    """ "Fn::Join" or "Fn::Sub" when `value` is one of them (left unresolved by the intrinsics policy), else None."""
    if isinstance(value, Mapping) and len(value) == 1:
        key = next(iter(value))
        if key in STRING_INTRINSICS:
            return str(key)
    return None


# Every property path a rule reads with `Resource.prop`/`reference` while `rule.evaluate` runs it: what a
# finding's variant text names the conditions of (only those the read value depended on).
PropertyRead = tuple[tuple[str, str], tuple[str | int, ...]]
_PROPERTY_READS: ContextVar[list[PropertyRead] | None] = ContextVar("property_reads", default=None)


def record_property_reads(reads: list[PropertyRead]) -> Token[list[PropertyRead] | None]:
    """Start recording the property paths `Resource.prop`/`reference` read into `reads`."""
    return _PROPERTY_READS.set(reads)


def reset_property_reads(token: Token[list[PropertyRead] | None]) -> None:
    _PROPERTY_READS.reset(token)


def record_unresolved_reads(reads: list[UnresolvedRead]) -> Token[list[UnresolvedRead] | None]:
    """Start recording `Resource.prop` reads of unresolved string intrinsics into `reads`."""
    return _UNRESOLVED_READS.set(reads)


def reset_unresolved_reads(token: Token[list[UnresolvedRead] | None]) -> None:
    """Stop the recording `record_unresolved_reads` started."""
    _UNRESOLVED_READS.reset(token)


@dataclass(frozen=True)
class Resource:
    """One resource of one template.

    `path` is the construct path CDK recorded in `Metadata["aws:cdk:path"]`, or
    `<stack>/<logical id>` for a template written by hand.
    """

    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    path: str
    deletion_policy: str | None = None
    update_replace_policy: str | None = None
    depends_on: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # the Parameters of its stack no variant can give a value (see the module doc), for nested reads
    unresolvable_parameters: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # in a variant: how many condition atoms its Fn::Ifs depend on when more than MAX_CONDITIONS (left undecided)
    conditions_over_cap: int = field(default=0, compare=False, repr=False)
    # its resource-level `Condition` attribute (CloudFormation User Guide, "Conditions": created only when true)
    condition: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack, self.logical_id)

    def prop(self, *keys: str | int, default: Any = None) -> Any:
        """A nested property: `prop("BucketEncryption", "ServerSideEncryptionConfiguration")`.

        A value that is an unresolved `Fn::Join`/`Fn::Sub`, or one the intrinsics policy left undecided
        (see `reference`), is recorded as read (see the module doc): the rule's pass on this resource becomes
        "could not resolve" the property."""
        value = self._lookup(keys, default)
        reads = _UNRESOLVED_READS.get()
        if reads is not None:
            function = unresolved_function(value) or _undecided(value, self.unresolvable_parameters)
            if function is not None:
                reads.append((self.key, keys, self._over_cap(function)))
            elif (self.unresolvable_parameters or self.conditions_over_cap) and isinstance(value, Mapping | list):
                reads.extend(
                    (self.key, (*keys, *path), self._over_cap(name))
                    for path, name in _nested_unresolvable(value, self.unresolvable_parameters)
                )
        return value

    def reference(self, *keys: str | int, default: Any = None) -> Any:
        """Like `prop`, for a property the rule reads as a reference or whose intrinsic it parses itself:
        an unresolved `Fn::Join`/`Fn::Sub` here is no "could not resolve". A value the policy left undecided
        still is, at any depth: a `Ref` to a Parameter without AllowedValues, a `Fn::Select` index or
        `Fn::FindInMap` key over one, an `Fn::If` it could not decide (a deployer chooses what it names)."""
        value = self._lookup(keys, default)
        reads = _UNRESOLVED_READS.get()
        if reads is not None and (self.unresolvable_parameters or self.conditions_over_cap):
            function = _undecided(value, self.unresolvable_parameters)
            if function is not None:
                reads.append((self.key, keys, self._over_cap(function)))
            elif isinstance(value, Mapping | list):
                reads.extend(
                    (self.key, (*keys, *path), self._over_cap(name))
                    for path, name in _nested_unresolvable(value, self.unresolvable_parameters)
                    if name not in STRING_INTRINSICS
                )
        return value

    def _lookup(self, keys: tuple[str | int, ...], default: Any) -> Any:
        paths = _PROPERTY_READS.get()
        if paths is not None:
            paths.append((self.key, keys))
        value: Any = self.properties
        for key in keys:
            if isinstance(key, int):
                if not isinstance(value, list) or not -len(value) <= key < len(value):
                    return default
                value = value[key]
            elif isinstance(value, Mapping) and key in value:
                value = value[key]
            else:
                return default
        return value

    def _over_cap(self, function: str) -> str:
        if function == "Fn::If" and self.conditions_over_cap:
            return f"Fn::If over {self.conditions_over_cap} conditions"
        return function


@dataclass(frozen=True)
class StackTemplate:
    """A stack's template with its environment when the assembly manifest names it."""

    name: str
    template: Mapping[str, Any]
    account: str | None = None
    region: str | None = None
    assembly: str = ""  # "" for the app's own assembly, else the nested assembly (a Stage) directory name
    template_path: str | None = None  # the file it was read from, when it was read from one
    # the parameter values a parent stack's AWS::CloudFormation::Stack passes this nested stack
    supplied: Mapping[str, Any] = field(default_factory=dict)
    # for a variant (`TemplateModel.variants()`): the template as written, before its intrinsics were resolved
    written: Mapping[str, Any] | None = None
    # for a variant: resources left undecided (more condition atoms than MAX_CONDITIONS), and the variant in words
    conditions_over_cap: Mapping[str, int] = field(default_factory=dict)
    labels: str = ""
    # for a variant: its choice, the Parameter index and the truth of each condition atom
    choice: tuple[int, Mapping[str, bool]] | None = None

    @cached_property
    def resources(self) -> dict[str, Resource]:
        out: dict[str, Resource] = {}
        for logical_id, body in (self.template.get("Resources") or {}).items():
            metadata = body.get("Metadata") or {}
            depends = body.get("DependsOn") or ()
            out[logical_id] = Resource(
                stack=self.name,
                logical_id=logical_id,
                type=body.get("Type", ""),
                properties=body.get("Properties") or {},
                path=metadata.get(CDK_PATH_METADATA) or f"{self.name}/{logical_id}",
                deletion_policy=body.get("DeletionPolicy"),
                update_replace_policy=body.get("UpdateReplacePolicy"),
                depends_on=(depends,) if isinstance(depends, str) else tuple(depends),
                metadata=metadata,
                unresolvable_parameters=self.unresolvable_parameters,
                conditions_over_cap=self.conditions_over_cap.get(logical_id, 0),
                condition=resource_condition(body),
            )
        return out

    @cached_property
    def unresolvable_parameters(self) -> frozenset[str]:
        """Parameters no variant can give a value: no AllowedValues (no Default, or a Default a deployer may
        override with anything), not supplied by a parent stack, not an SSM parameter (whose value
        CloudFormation reads at deploy)."""
        options = _parameter_options(self)
        declared = self.template.get("Parameters") or {}
        return frozenset(
            name
            for name in declared
            if name not in options
            and not str((declared[name] or {}).get("Type", "")).startswith(SSM_PARAMETER_TYPE_PREFIX)
            and name not in self.supplied
        )

    @cached_property
    def exports(self) -> dict[str, Any]:
        """Export name -> the output's value (still in this stack's terms)."""
        found = {}
        for output in (self.template.get("Outputs") or {}).values():
            name = (output.get("Export") or {}).get("Name")
            if isinstance(name, str):
                found[name] = output.get("Value")
        return found


def _environment(env: str | None) -> tuple[str | None, str | None]:
    """`aws://123456789012/us-east-1` -> (account, region); unknown parts are None."""
    if not env or not env.startswith("aws://"):
        return None, None
    account, _, region = env.removeprefix("aws://").partition("/")
    unknown = ("unknown-account", "unknown-region")
    return (None if account in unknown else account), (None if region in unknown else region)


class TemplateModel:
    """Every stack of a synthesis, with references resolved across templates."""

    def __init__(self, stacks: Iterable[StackTemplate]) -> None:
        self.stacks: dict[str, StackTemplate] = {}
        for stack in stacks:
            if stack.name in self.stacks:
                raise ValueError(f"two templates for stack {stack.name!r}")
            self.stacks[stack.name] = stack
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack in self.stacks.values():
            for name, value in stack.exports.items():
                self._exports[name] = (stack.name, value)

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_templates(cls, templates: Mapping[str, Mapping[str, Any]]) -> TemplateModel:
        """From `{stack name: template dict}` (no environments known)."""
        return cls(StackTemplate(name=name, template=t) for name, t in templates.items())

    @classmethod
    def from_assembly(cls, outdir: str | Path) -> TemplateModel:
        """From a cloud assembly directory (`cdk.out`), nested assemblies (Stages) included.

        Stack names are the artifacts' IDs, which are unique across the assembly tree.
        """
        return cls(_with_nested(_read_assembly(Path(outdir), "")))

    @classmethod
    def from_template_paths(cls, paths: Iterable[str | Path]) -> TemplateModel:
        """From the template files a policy-validation plugin is handed (`context.template_paths`).

        Environments come from the `manifest.json` beside each template when there is one.
        """
        files = [Path(p) for p in paths]
        environments: dict[Path, tuple[str, str | None, str | None, str]] = {}
        for directory in {p.parent for p in files}:
            assembly = _nested_assembly_name(directory)
            for artifact_id, artifact in _manifest_artifacts(directory):
                if artifact.get("type") == STACK_ARTIFACT:
                    template_file = (artifact.get("properties") or {}).get("templateFile", "")
                    environments[(directory / template_file).resolve()] = (
                        artifact_id,
                        *_environment(artifact.get("environment")),
                        assembly,
                    )
        stacks = []
        for path in files:
            template = json.loads(path.read_text(encoding="utf-8"))
            name, account, region, assembly = environments.get(
                path.resolve(), (path.name.removesuffix(TEMPLATE_SUFFIX), None, None, "")
            )
            stacks.append(
                StackTemplate(
                    name=name,
                    template=template,
                    account=account,
                    region=region,
                    assembly=assembly,
                    template_path=str(path),
                )
            )
        return cls(_with_nested(stacks))

    # -- the intrinsics policy -------------------------------------------------------------------
    def variants(self) -> list[tuple[str, TemplateModel]]:
        """The models every rule runs over: `[("", self)]` when no template has a choice (Fn::If, a
        resolvable Parameter, Fn::FindInMap...), else one model per choice (see the module doc); a stack
        with fewer choices than the most repeats its last. Each variant stack's `labels` says its choice."""
        spaces = {name: _space(stack) for name, stack in self.stacks.items()}
        count = max((len(space.choices) for space in spaces.values()), default=0)
        if count == 0:
            return [("", self)]
        out = []
        for number in range(count):
            stacks = []
            for name, stack in self.stacks.items():
                space = spaces[name]
                if not space.choices:
                    stacks.append(stack)
                    continue
                index, assignment = space.choices[min(number, len(space.choices) - 1)]
                stacks.append(_resolved(stack, index, assignment, space))
            label = "; ".join(dict.fromkeys(s.labels for s in stacks if s.labels)) or "as written"
            out.append((label, TemplateModel(stacks)))
        return out

    def unresolved_parameters(self, stack: str) -> list[str]:
        """Parameters of `stack` the resources use that no variant can give a value."""
        template = self.stacks[stack]
        unresolvable = template.unresolvable_parameters
        return [name for name in template.template.get("Parameters") or {} if name in unresolvable]

    # -- queries ---------------------------------------------------------------------------------
    def resources(self, *types: str) -> Iterator[Resource]:
        """Every resource, or those of the given CloudFormation types, in stack order."""
        for stack in self.stacks.values():
            for resource in stack.resources.values():
                if not types or resource.type in types:
                    yield resource

    def resource(self, stack: str, logical_id: str) -> Resource | None:
        template = self.stacks.get(stack)
        return None if template is None else template.resources.get(logical_id)

    def stack_of(self, resource: Resource) -> StackTemplate:
        return self.stacks[resource.stack]

    def target(self, stack: str, value: Any) -> Resource | None:
        """The resource a `Ref`, `Fn::GetAtt` or `Fn::ImportValue` points at, else None."""
        if not isinstance(value, Mapping) or len(value) != 1:
            return None
        if "Ref" in value and isinstance(value["Ref"], str):
            return self.resource(stack, value["Ref"])
        if "Fn::GetAtt" in value:
            ref = value["Fn::GetAtt"]
            logical_id = ref.split(".", 1)[0] if isinstance(ref, str) else ref[0]
            return self.resource(stack, logical_id) if isinstance(logical_id, str) else None
        if "Fn::ImportValue" in value and isinstance(value["Fn::ImportValue"], str):
            producer = self._exports.get(value["Fn::ImportValue"])
            return None if producer is None else self.target(producer[0], producer[1])
        return None

    def references(self, stack: str, value: Any) -> list[Resource]:
        """Every resource referenced anywhere inside `value` (deep), in order, without repeats."""
        seen: dict[tuple[str, str], Resource] = {}
        stack_of_value = [(stack, value)]
        while stack_of_value:
            where, item = stack_of_value.pop()
            found = self.target(where, item)
            if found is not None:
                seen.setdefault(found.key, found)
                continue
            if isinstance(item, Mapping):
                stack_of_value.extend((where, v) for v in reversed(list(item.values())))
            elif isinstance(item, list):
                stack_of_value.extend((where, v) for v in reversed(item))
        return list(seen.values())

    @cached_property
    def _referrers(self) -> dict[tuple[str, str], list[Resource]]:
        index: dict[tuple[str, str], list[Resource]] = {}
        for resource in self.resources():
            for target in self.references(resource.stack, dict(resource.properties)):
                index.setdefault(target.key, []).append(resource)
        return index

    def referrers(self, resource: Resource, *types: str) -> list[Resource]:
        """Resources (of the given types, or any) whose properties reference `resource`, across stacks."""
        return [r for r in self._referrers.get(resource.key, []) if not types or r.type in types]

    def attached(self, resource: Resource, type_: str, prop: str) -> list[Resource]:
        """Resources of `type_` whose property `prop` points at `resource` (a flow log's ResourceId,
        a bucket policy's Bucket, a web ACL association's ResourceArn...), across stacks."""
        return [r for r in self.referrers(resource, type_) if self.target(r.stack, r.prop(prop)) == resource]

    def literal(self, stack: str, value: Any) -> Any:
        """`value` when it holds no intrinsic function, the import's literal value when it is a plain
        `Fn::ImportValue` of a literal export, else None (unknown until deploy)."""
        if isinstance(value, Mapping) and len(value) == 1 and "Fn::ImportValue" in value:
            name = value["Fn::ImportValue"]
            producer = self._exports.get(name) if isinstance(name, str) else None
            return None if producer is None else self.literal(*producer)
        if _has_intrinsic(value):
            return None
        return value


# -- nested stacks ------------------------------------------------------------------------------------
def _nested_template_file(parent: StackTemplate, stack: Resource) -> Path | None:
    """The template asset a nested stack resource deploys, in the parent's assembly directory."""
    if parent.template_path is None:
        return None
    directory = Path(parent.template_path).parent
    asset = stack.metadata.get(ASSET_PATH_METADATA)
    if isinstance(asset, str) and (directory / asset).is_file():
        return directory / asset
    # without asset metadata: the file asset whose hash the TemplateURL names
    url = json.dumps(stack.prop("TemplateURL"))
    for manifest in directory.glob("*.assets.json"):
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files") or {}
        for asset_hash, entry in files.items():
            source = (entry.get("source") or {}).get("path")
            if asset_hash in url and isinstance(source, str) and (directory / source).is_file():
                return directory / source
    return None


def _with_nested(stacks: Iterable[StackTemplate]) -> Iterator[StackTemplate]:
    """The stacks and, depth first, every nested stack their templates deploy."""
    pending = list(stacks)
    # a nested template handed in beside its parent is read once, as the parent's nested stack
    nested_files = set()
    for stack in pending:
        for resource in stack.resources.values():
            if resource.type == NESTED_STACK and (found := _nested_template_file(stack, resource)) is not None:
                nested_files.add(found.resolve())
    pending = [s for s in pending if s.template_path is None or Path(s.template_path).resolve() not in nested_files]
    while pending:
        stack = pending.pop(0)
        yield stack
        nested = []
        for resource in stack.resources.values():
            if resource.type != NESTED_STACK:
                continue
            found = _nested_template_file(stack, resource)
            if found is None:
                continue
            supplied = resource.prop("Parameters")
            nested.append(
                StackTemplate(
                    name=f"{stack.name}/{resource.logical_id}",
                    template=json.loads(found.read_text(encoding="utf-8")),
                    account=stack.account,
                    region=stack.region,
                    assembly=stack.assembly,
                    template_path=str(found),
                    supplied=supplied if isinstance(supplied, Mapping) else {},
                )
            )
        pending[:0] = nested


# -- the intrinsics policy -----------------------------------------------------------------------------
_NO_VALUE = object()


def _parameter_options(stack: StackTemplate) -> dict[str, list[Any]]:
    """Each Parameter with a value known at synth -> its possible values (Default first, then AllowedValues;
    a value a parent stack passes as a literal). A Parameter with a Default and no AllowedValues is a free
    value, not listed: a deployer can pass anything (CloudFormation User Guide, "Parameters")."""
    out: dict[str, list[Any]] = {}
    for name, declared in (stack.template.get("Parameters") or {}).items():
        declared = declared or {}
        type_ = str(declared.get("Type", ""))
        if type_.startswith(SSM_PARAMETER_TYPE_PREFIX):
            continue  # its Default names an SSM parameter, not a value
        listed = type_ == "CommaDelimitedList" or type_.startswith("List<")
        if name in stack.supplied:
            given = stack.supplied[name]
            values = [] if _has_intrinsic(given) else [given]
        elif not declared.get("AllowedValues"):
            values = []  # no Default (unknown until deploy) or a Default without AllowedValues (a free value)
        else:
            values = [declared["Default"]] if "Default" in declared else []
            values += [v for v in declared.get("AllowedValues") or () if v not in values]
        if values:
            out[name] = [v.split(",") if listed and isinstance(v, str) else v for v in values]
    return out


# The pseudo parameters a condition is evaluated against when the stack's environment names them.
_PSEUDO_ACCOUNT, _PSEUDO_REGION, _PSEUDO_PARTITION = "AWS::AccountId", "AWS::Region", "AWS::Partition"


def _partition(region: str) -> str | None:
    """The partition of a region (AWS General Reference, "Amazon Resource Names (ARNs)": aws, aws-cn,
    aws-us-gov); None for the isolated and sovereign partitions, which stay unknown."""
    if "iso" in region or region.startswith("eusc-"):
        return None
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws" if re.fullmatch(r"[a-z]{2}-[a-z]+-\d+", region) else None


def _pseudo_values(stack: StackTemplate) -> dict[str, str]:
    """`AWS::AccountId`, `AWS::Region` and `AWS::Partition` where the assembly's environment fixes them."""
    out = {}
    if stack.account:
        out[_PSEUDO_ACCOUNT] = stack.account
    if stack.region:
        out[_PSEUDO_REGION] = stack.region
        if (partition := _partition(stack.region)) is not None:
            out[_PSEUDO_PARTITION] = partition
    return out


# A decision (a condition, a Fn::Select index, a Fn::FindInMap key) made by a Parameter without a fixed value.
_FREE = object()
# A condition operand that stays unknown at synth (a pseudo parameter of an environment-agnostic stack).
_UNKNOWN = object()
# More conditions than this under one resource's properties are not enumerated: its reads "could not resolve".
MAX_CONDITIONS = 6


@dataclass
class _Resolver:
    """Resolves one stack's intrinsics at one choice: a Parameter index and a truth assignment of the
    conditions' atoms (an `Fn::Equals` unknown at synth, keyed by its JSON; a condition name with no readable
    definition). `enumerate_if` False leaves every `Fn::If` as written (a resource over `MAX_CONDITIONS`)."""

    options: Mapping[str, list[Any]]
    mappings: Mapping[str, Any]
    conditions: Mapping[str, Any]
    free: frozenset[str]
    pseudo: Mapping[str, str]
    index: int = 0
    assignment: Mapping[str, bool] = field(default_factory=dict)
    enumerate_if: bool = True
    _deciding: set[str] = field(default_factory=set)

    def pick(self, choices: list[Any]) -> Any:
        return choices[min(self.index, len(choices) - 1)]

    # -- conditions ------------------------------------------------------------------------------------
    def atoms(self, name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        """The atoms condition `name` depends on."""
        definition = self.conditions.get(name)
        if name in seen:
            return frozenset()
        if not isinstance(definition, Mapping) or not self._known_form(definition):
            return frozenset({f"condition {name}"})
        return self._expression_atoms(definition, seen | {name})

    @staticmethod
    def _known_form(expression: Any) -> bool:
        if not (isinstance(expression, Mapping) and len(expression) == 1):
            return False
        ((key, inner),) = expression.items()
        if key == "Condition":
            return isinstance(inner, str)
        if key == "Fn::Equals":
            return isinstance(inner, list) and len(inner) == 2
        if key in ("Fn::And", "Fn::Or"):
            return isinstance(inner, list) and all(_Resolver._known_form(i) for i in inner)
        if key == "Fn::Not":
            return isinstance(inner, list) and len(inner) == 1 and _Resolver._known_form(inner[0])
        return False

    def _expression_atoms(self, expression: Mapping[str, Any], seen: frozenset[str]) -> frozenset[str]:
        ((key, inner),) = expression.items()
        if key == "Condition":
            return self.atoms(inner, seen)
        if key == "Fn::Equals":
            a, b = (self.operand(v) for v in inner)
            if a is _FREE or b is _FREE or (a is not _UNKNOWN and b is not _UNKNOWN):
                return frozenset()
            return frozenset({_atom_key(expression)})
        found: frozenset[str] = frozenset()
        for item in inner:
            found |= self._expression_atoms(item, seen)
        return found

    def operand(self, value: Any) -> Any:
        """A condition operand's value: a literal, `_FREE` or `_UNKNOWN`."""
        if _names_a_parameter(value, self.free):
            return _FREE
        resolved = self.resolve(value, decision=True)
        return _UNKNOWN if _has_intrinsic(resolved) else resolved

    def decide(self, name: str) -> Any:
        """Condition `name` under this choice: True, False or `_FREE` (decided by a free Parameter)."""
        definition = self.conditions.get(name)
        if not isinstance(definition, Mapping) or not self._known_form(definition) or name in self._deciding:
            return self.assignment.get(f"condition {name}", True)
        self._deciding.add(name)
        try:
            return self._truth(definition)
        finally:
            self._deciding.discard(name)

    def _truth(self, expression: Mapping[str, Any]) -> Any:
        ((key, inner),) = expression.items()
        if key == "Condition":
            return self.decide(inner)
        if key == "Fn::Equals":
            a, b = (self.operand(v) for v in inner)
            if a is _FREE or b is _FREE:
                return _FREE
            if a is _UNKNOWN or b is _UNKNOWN:
                return self.assignment.get(_atom_key(expression), True)
            return _equal(a, b)
        values = [self._truth(item) for item in inner]
        if key == "Fn::Not":
            return values[0] if values[0] is _FREE else not values[0]
        decisive = key == "Fn::Or"  # Or is True when any is True, And False when any is False
        if decisive in values:
            return decisive
        return _FREE if _FREE in values else not decisive

    # -- values ----------------------------------------------------------------------------------------
    def resolve(self, value: Any, *, decision: bool = False) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, inner),) = value.items()
                if key == "Ref" and isinstance(inner, str):
                    if inner == "AWS::NoValue":
                        return _NO_VALUE
                    if inner in self.options:
                        return copy.deepcopy(self.pick(self.options[inner]))
                    if decision and inner in self.pseudo:
                        return self.pseudo[inner]
                    return value
                if key == "Fn::If" and isinstance(inner, list) and len(inner) == 3:
                    truth = self.decide(inner[0]) if self.enumerate_if and isinstance(inner[0], str) else _FREE
                    if truth is _FREE:
                        return value  # undecided: a read of it "could not resolve"
                    return self.resolve(inner[1] if truth else inner[2], decision=decision)
                if key == "Fn::FindInMap" and isinstance(inner, list) and len(inner) >= 3:
                    if _names_a_parameter(inner[:3], self.free):
                        return value
                    names = [self.resolve(v, decision=True) for v in inner[:3]]
                    table = self.mappings.get(names[0]) if isinstance(names[0], str) else None
                    if isinstance(table, Mapping) and isinstance(names[2], str):
                        rows = (
                            [table[names[1]]]
                            if isinstance(names[1], str) and names[1] in table
                            else list(table.values())
                        )
                        found = [row[names[2]] for row in rows if isinstance(row, Mapping) and names[2] in row]
                        if found:
                            return copy.deepcopy(self.pick(found))
                if key in STRING_INTRINSICS:
                    resolved = self.resolve(inner, decision=decision)
                    text = _string_intrinsic(key, resolved, self.options, self.index)
                    if text is not None:
                        return text
                if key == "Fn::Select" and isinstance(inner, list) and len(inner) == 2:
                    if _names_a_parameter(inner[0], self.free):
                        return value
                    position = self.resolve(inner[0], decision=True)
                    items = self.resolve(inner[1], decision=decision)
                    if isinstance(items, list) and str(position).isdigit() and int(str(position)) < len(items):
                        return items[int(str(position))]
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item, decision=decision)
                if resolved is not _NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            return [r for item in value if (r := self.resolve(item, decision=decision)) is not _NO_VALUE]
        return value


def _atom_key(expression: Mapping[str, Any]) -> str:
    return json.dumps(expression, sort_keys=True, separators=(",", ":"))


def _equal(a: Any, b: Any) -> bool:
    """`Fn::Equals` of two literals: strings compared as CloudFormation renders scalars."""
    left, right = _scalar_text(a), _scalar_text(b)
    return left == right if left is not None and right is not None else bool(a == b)


def resource_condition(body: Any) -> str | None:
    """A resource's `Condition` attribute: the name of the condition it is created under, else None
    ("Conditions" and "Resources", CloudFormation User Guide: a resource with a false condition is not created)."""
    condition = body.get("Condition") if isinstance(body, Mapping) else None
    return condition if isinstance(condition, str) else None


def _decided_condition(resolver: _Resolver, body: Any) -> str | None:
    """A resource's `Condition` when its existence is enumerated: it rests on at most `MAX_CONDITIONS` atoms
    (CDK's `CDKMetadataAvailable`, an `Fn::Or` over dozens of regions, is not: such a resource is examined as
    created, never left out on a guess)."""
    condition = resource_condition(body)
    if condition is None or len(resolver.atoms(condition)) > MAX_CONDITIONS:
        return None
    return condition


def _resource_conditions(resolver: _Resolver, body: Any) -> set[str]:
    """The conditions a resource's properties' `Fn::If`s and (when enumerated) its existence rest on."""
    names = set(_if_conditions((body or {}).get("Properties")))
    condition = _decided_condition(resolver, body)
    return names | {condition} if condition else names


def _pseudo_keyed_maps(stack: StackTemplate) -> dict[str, list[str]]:
    """Mapping name -> its top-level keys, for every `Fn::FindInMap` of the stack's resources whose top-level key
    is a pseudo parameter the stack's environment does not fix (`AWS::Region` of an environment-agnostic
    stack): each row is a value the deploy may take, so each is examined in a variant of its own."""
    known = _pseudo_values(stack)
    mappings = stack.template.get("Mappings") or {}
    found: dict[str, list[str]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            inner = value.get("Fn::FindInMap") if len(value) == 1 else None
            if isinstance(inner, list) and len(inner) >= 3 and isinstance(inner[0], str):
                key = inner[1].get("Ref") if isinstance(inner[1], Mapping) and len(inner[1]) == 1 else None
                table = mappings.get(inner[0])
                pseudo = isinstance(key, str) and key.startswith("AWS::") and key not in known
                if pseudo and isinstance(table, Mapping) and len(table) > 1:
                    found[inner[0]] = [str(k) for k in table]
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for body in (stack.template.get("Resources") or {}).values():
        walk((body or {}).get("Properties"))
    return found


def _if_conditions(value: Any) -> Iterator[str]:
    """The condition names of every `Fn::If` inside `value`."""
    if isinstance(value, Mapping):
        inner = value.get("Fn::If") if len(value) == 1 else None
        if isinstance(inner, list) and len(inner) == 3 and isinstance(inner[0], str):
            yield inner[0]
        for item in value.values():
            yield from _if_conditions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _if_conditions(item)


@dataclass(frozen=True)
class _Space:
    """A stack's choices: (Parameter index, truth assignment) pairs every variant takes one of, and the
    resources whose conditions are too many to enumerate (logical ID -> how many)."""

    choices: tuple[tuple[int, Mapping[str, bool]], ...]
    over_cap: Mapping[str, int]
    # resources whose Condition each variant decides (`_decided_condition`); any other one is examined as created
    decided: frozenset[str] = frozenset()


def _space(stack: StackTemplate) -> _Space:
    """Every truth assignment of the atoms each resource's `Fn::If`s depend on (all of the stack's atoms
    together when they are at most `MAX_CONDITIONS`, else each resource's own set with the others false),
    crossed with the Parameter indexes; a resource depending on more atoms than that is left undecided."""
    count = _choice_count(stack)
    resolver = _resolver(stack)
    per_resource: dict[str, frozenset[str]] = {}
    for logical_id, body in (stack.template.get("Resources") or {}).items():
        names = _resource_conditions(resolver, body)
        if names:
            atoms: frozenset[str] = frozenset()
            for name in sorted(names):
                atoms |= resolver.atoms(name)
            per_resource[logical_id] = atoms
    over_cap = {lid: len(atoms) for lid, atoms in per_resource.items() if len(atoms) > MAX_CONDITIONS}
    sets = sorted({atoms for lid, atoms in per_resource.items() if lid not in over_cap}, key=sorted)
    every = sorted(frozenset().union(*sets)) if sets else []
    groups = [every] if len(every) <= MAX_CONDITIONS else [sorted(s) for s in sets]
    assignments: list[dict[str, bool]] = []
    for group in groups:
        for truths in itertools.product((True, False), repeat=len(group)):
            assignment = dict(zip(group, truths, strict=True))
            if assignment not in assignments:
                assignments.append(assignment)
    choices = tuple((index, assignment) for assignment in assignments or [{}] for index in range(count))
    decided = frozenset(
        lid
        for lid, body in (stack.template.get("Resources") or {}).items()
        if lid not in over_cap and _decided_condition(resolver, body) is not None
    )
    return _Space(choices=choices, over_cap=over_cap, decided=decided)


def _resolver(stack: StackTemplate, index: int = 0, assignment: Mapping[str, bool] | None = None) -> _Resolver:
    return _Resolver(
        options=_parameter_options(stack),
        mappings=stack.template.get("Mappings") or {},
        conditions=stack.template.get("Conditions") or {},
        free=stack.unresolvable_parameters,
        pseudo=_pseudo_values(stack),
        index=index,
        assignment=assignment or {},
    )


def _choice_count(stack: StackTemplate) -> int:
    """0 when nothing in the stack's resources is a choice, else how many Parameter indexes cover every option."""
    options = _parameter_options(stack)
    count = 0

    def walk(value: Any) -> None:
        nonlocal count
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, inner),) = value.items()
                if key in ("Fn::If", "Fn::FindInMap", "Fn::Select") or (
                    key in STRING_INTRINSICS and _resolvable_text(key, inner, options)
                ):
                    count = max(count, 1)
                elif key == "Ref" and isinstance(inner, str):
                    if inner in options:
                        count = max(count, len(options[inner]))
                    elif inner == "AWS::NoValue":
                        count = max(count, 1)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    resolver = _resolver(stack)
    for body in (stack.template.get("Resources") or {}).values():
        walk((body or {}).get("Properties"))
        if _decided_condition(resolver, body) is not None:
            count = max(count, 1)
    # a Fn::FindInMap keyed by a pseudo parameter the environment leaves unknown: one index per row
    for keys in _pseudo_keyed_maps(stack).values():
        count = max(count, len(keys))
    # a condition over a Parameter with options is decided by it: every option is an index
    for definition in (stack.template.get("Conditions") or {}).values():
        for name in _referenced_parameters(definition, options):
            count = max(count, len(options[name]))
    return count


def _referenced_parameters(value: Any, options: Mapping[str, list[Any]]) -> set[str]:
    if isinstance(value, Mapping):
        ref = value.get("Ref")
        found = {ref} if isinstance(ref, str) and ref in options else set()
        for item in value.values():
            found |= _referenced_parameters(item, options)
        return found
    if isinstance(value, list):
        out: set[str] = set()
        for item in value:
            out |= _referenced_parameters(item, options)
        return out
    return set()


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _string_intrinsic(key: str, inner: Any, options: Mapping[str, list[Any]], index: int) -> str | None:
    """The string `Fn::Join`/`Fn::Sub` makes when every part is literal (CloudFormation User Guide,
    "Fn::Join" and "Fn::Sub"), else None. `${Name}` of a Parameter takes the variant's value of it; `${!x}`
    is the literal `${x}`; a pseudo parameter or `${Resource.Attribute}` stays unknown."""
    if key == "Fn::Join":
        if not (isinstance(inner, list) and len(inner) == 2 and isinstance(inner[0], str)):
            return None
        parts = inner[1]
        if not isinstance(parts, list):
            return None
        texts = [_scalar_text(p) for p in parts]
        return None if any(t is None for t in texts) else inner[0].join(t for t in texts if t is not None)
    body, variables = (inner[0], inner[1]) if isinstance(inner, list) and len(inner) == 2 else (inner, {})
    if not isinstance(body, str) or not isinstance(variables, Mapping):
        return None
    unknown = False

    def value_of(match: re.Match[str]) -> str:
        nonlocal unknown
        name = match.group(1).strip()
        if name in variables:
            text = _scalar_text(variables[name])
        elif name in options:
            choices = options[name]
            text = _scalar_text(choices[min(index, len(choices) - 1)])
        else:
            text = None
        if text is None:
            unknown = True
            return ""
        return text

    out = _SUB_VARIABLE.sub(value_of, body)
    return None if unknown else out.replace("${!", "${")


def _resolvable_text(key: str, inner: Any, options: Mapping[str, list[Any]]) -> bool:
    """Whether a `Fn::Join`/`Fn::Sub` could become a string (a cheap look before resolving a variant)."""
    if key == "Fn::Join":
        parts = inner[1] if isinstance(inner, list) and len(inner) == 2 else None
        return isinstance(parts, list) and all(
            _scalar_text(p) is not None or (isinstance(p, Mapping) and p.get("Ref") in options) for p in parts
        )
    body, variables = (inner[0], inner[1]) if isinstance(inner, list) and len(inner) == 2 else (inner, {})
    if not isinstance(body, str) or not isinstance(variables, Mapping):
        return False
    names = [m.strip() for m in _SUB_VARIABLE.findall(body)]
    return all(n in options or _scalar_text(variables.get(n)) is not None for n in names)


def _resolved(stack: StackTemplate, index: int, assignment: Mapping[str, bool], space: _Space) -> StackTemplate:
    """The stack with its resources' properties resolved at one choice (a Parameter index, a truth assignment)."""
    resolver = _resolver(stack, index, assignment)
    undecided = replace(resolver, enumerate_if=False, _deciding=set())
    resources = {}
    for logical_id, body in (stack.template.get("Resources") or {}).items():
        body = dict(body or {})
        if logical_id in space.decided and resolver.decide(str(resource_condition(body))) is False:
            continue  # not created under this choice: not examined in this variant
        if "Properties" in body:
            chosen = undecided if logical_id in space.over_cap else resolver
            body["Properties"] = chosen.resolve(body["Properties"])
        resources[logical_id] = body
    return StackTemplate(
        name=stack.name,
        template={**stack.template, "Resources": resources},
        account=stack.account,
        region=stack.region,
        assembly=stack.assembly,
        template_path=stack.template_path,
        supplied=stack.supplied,
        written=stack.template,
        conditions_over_cap=space.over_cap,
        labels=_label(stack, index, assignment),
        choice=(index, assignment),
    )


def _label(stack: StackTemplate, index: int, assignment: Mapping[str, bool]) -> str:
    """The variant in words: each `Fn::If` condition's truth and the Parameters' index."""
    resolver = _resolver(stack, index, assignment)
    resources = (stack.template.get("Resources") or {}).values()
    names = sorted({n for body in resources for n in _resource_conditions(resolver, body)})
    truths = []
    for name in names:
        truth = resolver.decide(name)
        truths.append(f"{name} {'undecided' if truth is _FREE else str(bool(truth)).lower()}")
    parameters = (
        "every Parameter at its Default" if index == 0 else f"every Parameter at its allowed value #{index + 1}"
    )
    rows = [f"{name} row {keys[min(index, len(keys) - 1)]}" for name, keys in sorted(_pseudo_keyed_maps(stack).items())]
    if rows:  # a mapping's row, chosen by a pseudo parameter the environment leaves unknown
        parameters = ", ".join(rows) if not _parameter_options(stack) else f"{parameters}, {', '.join(rows)}"
    return f"with {', '.join(truths)}; {parameters}" if truths else f"with {parameters}"


def variant_label(stack: StackTemplate, logical_id: str, paths: Iterable[tuple[str | int, ...]] = ()) -> str:
    """The variant of `stack` in words for one resource's finding: only the conditions the value read depended
    on (the `Fn::If`s on and under each property path read, `paths`; every `Fn::If` of the resource when none
    was recorded) and its resource-level `Condition`, and the Parameters (or mapping rows) only where that value
    or those conditions read one; "" when the value depended on no choice. `stack` is a variant's."""
    if stack.choice is None or stack.written is None:
        return stack.labels
    index, assignment = stack.choice
    source = replace(stack, template=stack.written, written=None, labels="", choice=None)
    body = (source.template.get("Resources") or {}).get(logical_id) or {}
    properties = body.get("Properties")
    resolver = _resolver(source, index, assignment)
    read = list(paths)
    if read:
        names: set[str] = set()
        values: list[Any] = []
        for keys in read:
            names |= _conditions_on_path(properties, keys, values)
    else:
        names, values = set(_if_conditions(properties)), [properties]
    condition = _decided_condition(resolver, body)
    if condition:
        names.add(condition)
    truths = []
    for name in sorted(names):
        truth = resolver.decide(name)
        truths.append(f"{name} {'undecided' if truth is _FREE else str(bool(truth)).lower()}")
    options = _parameter_options(source)
    definitions = source.template.get("Conditions") or {}
    reads_parameter = any(_names_a_parameter(v, frozenset(options)) for v in values) or any(
        _referenced_parameters(definitions.get(n), options) for n in _with_nested_conditions(names, definitions)
    )
    maps = _pseudo_keyed_maps(source)
    rows = [
        f"{name} row {keys[min(index, len(keys) - 1)]}"
        for name, keys in sorted(maps.items())
        if any(_finds_in_map(v, name) for v in values)
    ]
    parameters = ""
    if reads_parameter:
        parameters = (
            "every Parameter at its Default" if index == 0 else f"every Parameter at its allowed value #{index + 1}"
        )
    chosen = ", ".join(p for p in (parameters, ", ".join(rows)) if p)
    if truths:
        return f"with {', '.join(truths)}; {chosen}" if chosen else f"with {', '.join(truths)}"
    return f"with {chosen}" if chosen else ""


def _conditions_on_path(value: Any, keys: tuple[str | int, ...], values: list[Any]) -> set[str]:
    """The conditions of the `Fn::If`s the written `value` passes through on the way to `keys`, and of those
    under the value found there (appended to `values`); a list index takes every element, as an
    `AWS::NoValue` may shift the positions."""
    found: set[str] = set()

    def descend(item: Any, rest: tuple[str | int, ...]) -> None:
        if isinstance(item, Mapping) and len(item) == 1 and "Fn::If" in item:
            inner = item["Fn::If"]
            if isinstance(inner, list) and len(inner) == 3 and isinstance(inner[0], str):
                found.add(inner[0])
                descend(inner[1], rest)
                descend(inner[2], rest)
                return
        if not rest:
            values.append(item)
            found.update(_if_conditions(item))
            return
        key, tail = rest[0], rest[1:]
        if isinstance(key, int) and isinstance(item, list):
            for element in item:
                descend(element, tail)
        elif isinstance(key, str) and isinstance(item, Mapping) and key in item:
            descend(item[key], tail)

    descend(value, keys)
    return found


def _with_nested_conditions(names: Iterable[str], definitions: Mapping[str, Any]) -> set[str]:
    """`names` and every condition their definitions name (`{"Condition": ...}`), transitively."""
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        todo.extend(_condition_references(definitions.get(name)))
    return out


def _condition_references(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        inner = value.get("Condition")
        if len(value) == 1 and isinstance(inner, str):
            yield inner
        for item in value.values():
            yield from _condition_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _condition_references(item)


def _finds_in_map(value: Any, name: str) -> bool:
    if isinstance(value, Mapping):
        inner = value.get("Fn::FindInMap") if len(value) == 1 else None
        if isinstance(inner, list) and inner and inner[0] == name:
            return True
        return any(_finds_in_map(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_finds_in_map(v, name) for v in value)
    return False


def _names_a_parameter(value: Any, parameters: frozenset[str]) -> bool:
    """Whether a `Ref` (or a `Fn::Sub` `${Name}`) to one of `parameters` is anywhere inside `value`."""
    if isinstance(value, Mapping):
        if value.get("Ref") in parameters:
            return True
        body = value.get("Fn::Sub")
        text = body[0] if isinstance(body, list) and body else body
        if isinstance(text, str) and any(m.strip() in parameters for m in _SUB_VARIABLE.findall(text)):
            return True
        return any(_names_a_parameter(v, parameters) for v in value.values())
    if isinstance(value, list):
        return any(_names_a_parameter(v, parameters) for v in value)
    return False


def _undecided(value: Any, parameters: frozenset[str]) -> str | None:
    """ "Ref", "Fn::Select", "Fn::FindInMap" or "Fn::If" when `value` is one the intrinsics policy left
    undecided: a `Ref` to one of `parameters` (no fixed value), a `Fn::Select` index or `Fn::FindInMap` key
    over one, or any `Fn::If` (every other one is resolved in a variant); else None."""
    if not (isinstance(value, Mapping) and len(value) == 1):
        return None
    ((key, inner),) = value.items()
    if key == "Fn::If":
        return "Fn::If"
    if key == "Ref":
        return "Ref" if inner in parameters else None
    if key in ("Fn::Select", "Fn::FindInMap") and _names_a_parameter(inner, parameters):
        return str(key)
    return None


def _nested_unresolvable(value: Any, parameters: frozenset[str]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path under `value`, function) of each unresolvable intrinsic nested in `value` (see the module doc):
    a `Fn::Join`/`Fn::Sub` over one of `parameters`, or one `_undecided` names; outermost first; a reported
    intrinsic is not searched further."""
    items: Iterable[tuple[str | int, Any]]
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        function = unresolved_function(item)
        if function is not None and _names_a_parameter(item, parameters):
            yield (key,), function
        elif (undecided := _undecided(item, parameters)) is not None:
            yield (key,), undecided
        else:
            for path, found in _nested_unresolvable(item, parameters):
                yield (key, *path), found


def _has_intrinsic(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(k == "Ref" or k.startswith("Fn::") for k in value) or any(map(_has_intrinsic, value.values()))
    if isinstance(value, list):
        return any(map(_has_intrinsic, value))
    return False


def _manifest_artifacts(directory: Path) -> list[tuple[str, Mapping[str, Any]]]:
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        return []
    return list((json.loads(manifest.read_text(encoding="utf-8")).get("artifacts") or {}).items())


def _nested_assembly_name(directory: Path) -> str:
    """The Stage a template directory is the nested assembly of, as `_read_assembly` names it (the
    `directoryName` its parent's manifest gives it), or "" for the app's own assembly: the policy-validation
    plugin is handed every Stage's templates by path, and their Stage is only in the parent's manifest."""
    for _, artifact in _manifest_artifacts(directory.parent):
        properties = artifact.get("properties") or {}
        if artifact.get("type") == NESTED_ASSEMBLY_ARTIFACT and properties.get("directoryName") == directory.name:
            return directory.name
    return ""


def _read_assembly(directory: Path, assembly: str) -> Iterator[StackTemplate]:
    for artifact_id, artifact in _manifest_artifacts(directory):
        properties = artifact.get("properties") or {}
        if artifact.get("type") == STACK_ARTIFACT:
            template_file = directory / properties["templateFile"]
            template = json.loads(template_file.read_text(encoding="utf-8"))
            account, region = _environment(artifact.get("environment"))
            yield StackTemplate(artifact_id, template, account, region, assembly, str(template_file))
        elif artifact.get("type") == NESTED_ASSEMBLY_ARTIFACT:
            nested = properties["directoryName"]
            yield from _read_assembly(directory / nested, nested)
