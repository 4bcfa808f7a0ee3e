"""The IAM Deny evaluator for tests: `evidence.iam_eval` (the keys work paper evaluates key policies with it at run
time, so there is one evaluator), and `roles_granted_a_key`, which only the tests use."""

from __future__ import annotations

from typing import Any

from evidence.iam_eval import UNRESOLVED, Request, condition_holds, denied_by, render

__all__ = ["UNRESOLVED", "Request", "condition_holds", "denied_by", "render", "roles_granted_a_key"]

_KEY_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt", "kms:*")


def roles_granted_a_key(templates: list[dict[str, Any]], key_logical_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(role logical ID, role properties) of every role whose inline or attached policy allows a use of the key,
    by Ref, GetAtt or an import of its export (the export's name carries the key's logical ID)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for template in templates:
        resources = template["Resources"]
        for logical_id, body in resources.items():
            kind, properties = body["Type"], body.get("Properties", {})
            if kind == "AWS::IAM::Role":
                documents, roles = [p["PolicyDocument"] for p in properties.get("Policies", [])], [logical_id]
            elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                documents = [properties["PolicyDocument"]]
                attached = properties.get("Roles", [])
                roles = [role["Ref"] for role in attached if isinstance(role, dict) and "Ref" in role]
            else:
                continue
            for statement in (s for d in documents for s in d["Statement"] if s.get("Effect") == "Allow"):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(a.startswith(_KEY_USE) for a in actions) and key_logical_id in str(statement.get("Resource")):
                    found.extend((role, resources[role]["Properties"]) for role in roles)
    return found
