"""Assessor evidence for the landing zone, written on every synth into ``cdk.out/compliance/``.

One package, reading the PCI DSS v4.0.1 rule pack's parsed model (``pci_rules.model``) and its
results; the rule pack never imports it (one-way reference):

- ``evidence.report``: the per-requirement report (Markdown and self-contained HTML);
- ``evidence.catalog``: requirement texts, what each rule evidences, customer responsibilities;
- ``evidence.topology``: the network and data-flow topology derived from rendered templates;
- ``evidence.diagrams``: the 1.2.3 network and 1.2.4 data-flow diagrams (Mermaid, DOT, SVG/PNG);
- ``evidence.iam_eval``: the IAM Deny evaluator the keys paper and 4.2.1 apply to key and bucket policies.
"""
