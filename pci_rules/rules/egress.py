"""No security group lets everything out to the internet, whatever the protocol (PCI DSS v4.0.1 1.3.2).

`PCI4-EC2-SG-NO-ALLOW-ALL-EGRESS` catches IpProtocol -1; this rule catches the same opening written
per protocol: TCP or UDP 0-65535 (or 1-65535) to 0.0.0.0/0 or ::/0. A single port (the application
tier's HTTPS, filtered by the Network Firewall) passes.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import ANYWHERE, as_list

_PORT_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}


def _all_ports(entry: Mapping[str, Any]) -> bool:
    protocol = str(entry.get("IpProtocol", "")).lower()
    if protocol == "-1":
        return True
    if protocol not in _PORT_PROTOCOLS:
        return False
    low, high = entry.get("FromPort"), entry.get("ToPort")
    return low in (None, -1, 0, 1) and high in (None, -1, 65535)


def _to_anywhere(model: TemplateModel, stack: str, entry: Mapping[str, Any]) -> bool:
    return bool({model.literal(stack, entry.get("CidrIp")), model.literal(stack, entry.get("CidrIpv6"))} & ANYWHERE)


@rule(
    id="PCI4-EC2-SG-NO-ALL-PORTS-EGRESS",
    requirements=("1.3.2", "1.4.1"),
    description="No security group allows every port of any protocol out to 0.0.0.0/0 or ::/0.",
    fix="Allow out only the ports and peers the workload calls (CDK: allow_all_outbound=False, then"
    " add_egress_rule per destination).",
)
def sg_no_all_ports_egress(model: TemplateModel) -> Iterator[Check]:
    for group in model.resources("AWS::EC2::SecurityGroup"):
        bad = [
            f"{e.get('IpProtocol')} {e.get('FromPort')}-{e.get('ToPort')}"
            for e in as_list(group.prop("SecurityGroupEgress"))
            if isinstance(e, Mapping) and _all_ports(e) and _to_anywhere(model, group.stack, e)
        ]
        yield Check(group, not bad, f"every port out to the internet: {bad}" if bad else "")
    for egress in model.resources("AWS::EC2::SecurityGroupEgress"):
        entry = {k: egress.reference(k) for k in egress.properties}
        bad_one = _all_ports(entry) and _to_anywhere(model, egress.stack, entry)
        yield Check(egress, not bad_one, "every port out to the internet" if bad_one else "")
