"""A small CDK app that uses neither the landing zone's stacks nor its configuration (a fork's workload)."""
