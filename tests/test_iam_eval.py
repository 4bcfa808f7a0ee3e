"""The one IAM evaluator (evidence/iam_eval.py) on the operator shapes the security review r27 (L3) found it
misread: IAM wildcards are `*` and `?` only, ArnEquals matches like ArnLike, an ArnLike of `*` matches any ARN."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evidence.iam_eval import Request, denied_by

ARN = "arn:aws:iam::111111111111:role/app[ab]"


def _deny(operator: str, pattern: str) -> list[dict[str, object]]:
    return [
        {
            "Sid": "D",
            "Effect": "Deny",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {operator: {"aws:PrincipalArn": pattern}},
        }
    ]


def _denied(operator: str, pattern: str, principal: str) -> bool:
    return bool(denied_by(_deny(operator, pattern), Request("kms:Decrypt", context={"aws:PrincipalArn": principal})))


def test_brackets_are_literal_not_a_character_class() -> None:
    assert _denied("ArnLike", ARN, ARN)
    assert not _denied("ArnLike", ARN, "arn:aws:iam::111111111111:role/appa")
    assert _denied("StringLike", "role/a?c", "role/abc")


def test_arn_equals_takes_wildcards_and_star_alone_matches_any_arn() -> None:
    assert _denied("ArnEquals", "arn:aws:iam::*:role/x", "arn:aws:iam::222222222222:role/x")
    assert not _denied("ArnNotEquals", "arn:aws:iam::*:role/x", "arn:aws:iam::222222222222:role/x")
    assert _denied("ArnLike", "*", "arn:aws:iam::111111111111:role/anything")


@given(st.text(alphabet="ab[]*?.-/", min_size=0, max_size=12))
def test_a_pattern_without_wildcards_matches_only_itself(text: str) -> None:
    literal = text.replace("*", "").replace("?", "")
    assert _denied("StringLike", literal, literal)
    assert not _denied("StringLike", literal, literal + "x")
