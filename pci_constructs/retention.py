"""One decision for every stateful resource: it outlives `cdk destroy` and a replacement, not a failed create.

`RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE` renders DeletionPolicy `RetainExceptOnCreate` and
UpdateReplacePolicy `Retain` ("DeletionPolicy attribute", CloudFormation Template Reference:
RetainExceptOnCreate behaves like Retain for every stack operation except the one that created the
resource; when that create is rolled back, CloudFormation deletes it). With plain `Retain`, a first
deploy that rolls back leaves every resource it had created behind; a fixed-name one (a log group,
a bucket, the database identifier) then fails the retry with "already exists". UpdateReplacePolicy has
no RetainExceptOnCreate value (it takes Delete, Retain or Snapshot: "UpdateReplacePolicy attribute"),
so a replacement keeps the old resource as before.

Changing an existing stack's resources from Retain to RetainExceptOnCreate is an attribute-only
change: CloudFormation shows it as Modify with Replacement False and calls no resource handler (the
same holds for every attribute-only edit; until 2023 a change set with only policy edits was a no-op,
aws-cloudformation/cloudformation-coverage-roadmap#1543, closed).
"""

from aws_cdk import CfnResource, IResource, RemovalPolicy

# What `retain` renders, for the scans and the rule pack's tests to compare with.
DELETION_POLICY = "RetainExceptOnCreate"
UPDATE_REPLACE_POLICY = "Retain"


def retain(*resources: IResource | CfnResource) -> None:
    """Keep keys, buckets, databases, log groups, secrets and account guards when a stack is deleted
    or the resource replaced; delete them only when the deploy that created them rolls back."""
    for resource in resources:
        resource.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
