"""One decision for every stateful resource: it outlives `cdk destroy`."""

from aws_cdk import CfnResource, IResource, RemovalPolicy


def retain(*resources: IResource | CfnResource) -> None:
    """Keep keys, buckets, databases, log groups and secrets when a stack is deleted."""
    for resource in resources:
        resource.apply_removal_policy(RemovalPolicy.RETAIN)
