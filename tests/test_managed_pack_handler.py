"""The managed conformance pack's deploy-time function (lambda/managed_pack/handler.py), through botocore's
Stubber on the very botocore model the function's bundle carries: nothing calls AWS.

What is proved: the pinned botocore models `PutConformancePack.Source` (so the source reaches AWS Config,
which the AWS SDK for JavaScript v3 would drop); the function answers CloudFormation exactly once on
every path; it waits for CREATE_COMPLETE/UPDATE_COMPLETE after its own put and fails the deploy on
CREATE_FAILED/UPDATE_FAILED/DELETE_FAILED with AWS Config's reason, or on running out of time.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from managed_pack import handler as pack_handler

NAME = "pci-lz-test-aws-pci-dss-v4"
SOURCE = "PCI-DSS_V4"
ARN = f"arn:aws:config:us-east-1:111111111111:conformance-pack/{NAME}/conformance-pack-abc123"
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CONSTRAINTS = Path(__file__).resolve().parent.parent / "lambda" / "constraints.txt"


class _Context:
    def __init__(self, millis: int = 900_000) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def _client() -> Any:
    return boto3.client("config", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def _event(request_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=y",
        "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/PciLz-test-Detection-use1/guid",
        "RequestId": "request-1",
        "LogicalResourceId": "AwsManagedConformancePackPack",
        "ResourceType": "Custom::ConfigManagedConformancePack",
        "ResourceProperties": {"ServiceToken": "arn", "ConformancePackName": NAME, "SourceIdentifier": SOURCE},
        **extra,
    }


def _status(
    state: str, *, completed: datetime | None = T0, requested: datetime = T0, reason: str = ""
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "ConformancePackName": NAME,
        "ConformancePackId": "conformance-pack-abc123",
        "ConformancePackArn": ARN,
        "ConformancePackState": state,
        "StackArn": "arn:aws:cloudformation:us-east-1:111111111111:stack/awsconfigconforms-x/guid",
        "LastUpdateRequestedTime": requested,
    }
    if completed is not None:
        detail["LastUpdateCompletedTime"] = completed
    if reason:
        detail["ConformancePackStatusReason"] = reason
    return {"ConformancePackStatusDetails": [detail]}


def _run(event: dict[str, Any], stub: Any, client: Any, millis: int = 900_000) -> tuple[dict[str, Any], list[float]]:
    answers: list[tuple[str, bytes]] = []
    sleeps: list[float] = []
    with stub:
        pack_handler.handler(
            event,
            _Context(millis),
            client=client,
            send=lambda url, body: answers.append((url, body)),
            sleep=sleeps.append,
        )
        stub.assert_no_pending_responses()
    assert len(answers) == 1, "CloudFormation gets exactly one answer"
    url, body = answers[0]
    assert url == event["ResponseURL"]
    answer = json.loads(body)
    assert len(body) < 4096  # "Custom resource response objects": the response must stay under 4 KB
    assert {answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]} == {
        event["StackId"],
        event["RequestId"],
        event["LogicalResourceId"],
    }
    return answer, sleeps


def _stubbed() -> tuple[Any, Stubber]:
    client = _client()
    return client, Stubber(client)


# --- The SDK the function runs with knows the source ----------------------------------------------------


def test_the_bundled_botocore_models_the_managed_source_of_put_conformance_pack() -> None:
    """The function's bundle pins botocore (lambda/constraints.txt) at the version installed here, and that
    model has PutConformancePack.Source (ConformancePackSource.SourceIdentifier, required)."""
    pins = dict(
        line.split("==") for line in CONSTRAINTS.read_text().splitlines() if "==" in line and not line.startswith("#")
    )
    assert pins["botocore"] == botocore.__version__
    model = botocore.session.get_session().get_service_model("config")
    put = model.operation_model("PutConformancePack").input_shape
    assert "Source" in put.members
    source = put.members["Source"]
    assert source.name == "ConformancePackSource"
    assert "SourceIdentifier" in source.required_members
    status = model.operation_model("DescribeConformancePackStatus").output_shape
    detail = status.members["ConformancePackStatusDetails"].member
    assert {"CREATE_COMPLETE", "CREATE_FAILED", "DELETE_FAILED"} <= set(detail.members["ConformancePackState"].enum)


def test_the_bundle_itself_carries_a_config_model_with_the_source() -> None:
    """The model in the function's bundle (the cached pip install synth links in), not only this venv's."""
    from pci_constructs import lambda_bundling
    from pci_constructs.card_vault import RUNTIME
    from pci_constructs.detective_controls import MANAGED_PACK_REQUIREMENTS

    site = lambda_bundling.install_dependencies(MANAGED_PACK_REQUIREMENTS, RUNTIME.name.removeprefix("python"))
    models = sorted((site / "botocore" / "data" / "config").glob("*/service-2.json.gz"))
    assert models, "the bundle has no AWS Config model"
    model = json.loads(gzip.decompress(models[-1].read_bytes()))
    assert "Source" in model["shapes"]["PutConformancePackRequest"]["members"]
    assert model["shapes"]["ConformancePackSource"]["required"] == ["SourceIdentifier"]


def test_the_handler_creates_only_a_config_client() -> None:
    """The bundle keeps only the config model (aws-services.txt): the handler creates no other client."""
    source = Path(pack_handler.__file__).read_text()
    assert re.findall(r"boto3\.client\(\"([a-z-]+)\"", source) == ["config"]


# --- Create, update, delete ---------------------------------------------------------------------------------


def test_create_puts_the_source_and_waits_for_create_complete() -> None:
    client, stub = _stubbed()
    stub.add_response(
        "put_conformance_pack",
        {"ConformancePackArn": ARN},
        {"ConformancePackName": NAME, "Source": {"SourceIdentifier": SOURCE}},
    )
    stub.add_response(
        "describe_conformance_pack_status", {"ConformancePackStatusDetails": []}, {"ConformancePackNames": [NAME]}
    )
    stub.add_response("describe_conformance_pack_status", _status("CREATE_IN_PROGRESS", completed=None))
    stub.add_response("describe_conformance_pack_status", _status("CREATE_COMPLETE"))
    answer, sleeps = _run(_event("Create"), stub, client)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == NAME
    assert answer["Data"] == {"ConformancePackArn": ARN, "ConformancePackState": "CREATE_COMPLETE"}
    assert sleeps == [pack_handler.POLL_SECONDS] * 2


def test_create_failed_fails_the_deploy_with_aws_configs_reason() -> None:
    client, stub = _stubbed()
    stub.add_response("put_conformance_pack", {"ConformancePackArn": ARN})
    reason = "Rule s3-bucket-versioning-enabled is not available in this Region"
    stub.add_response("describe_conformance_pack_status", _status("CREATE_FAILED", completed=None, reason=reason))
    answer, _ = _run(_event("Create"), stub, client)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == f"conformance pack {NAME}: CREATE_FAILED: {reason}"
    # The rollback's Delete names this pack, so a failed pack is deleted with the stack.
    assert answer["PhysicalResourceId"] == NAME


def test_an_update_waits_past_the_previous_completion() -> None:
    """UPDATE_COMPLETE from the previous put (completed before this request) is not this update's end."""
    client, stub = _stubbed()
    stub.add_response("put_conformance_pack", {"ConformancePackArn": ARN})
    later = T0 + timedelta(minutes=1)
    stub.add_response("describe_conformance_pack_status", _status("UPDATE_COMPLETE", completed=T0, requested=later))
    stub.add_response("describe_conformance_pack_status", _status("UPDATE_IN_PROGRESS", completed=T0, requested=later))
    stub.add_response("describe_conformance_pack_status", _status("UPDATE_COMPLETE", completed=later, requested=later))
    answer, sleeps = _run(_event("Update", PhysicalResourceId=NAME), stub, client)
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"]["ConformancePackState"] == "UPDATE_COMPLETE"
    assert len(sleeps) == 2


def test_update_failed_fails_the_deploy() -> None:
    client, stub = _stubbed()
    stub.add_response("put_conformance_pack", {"ConformancePackArn": ARN})
    stub.add_response("describe_conformance_pack_status", _status("UPDATE_FAILED", reason="quota of rules reached"))
    answer, _ = _run(_event("Update", PhysicalResourceId=NAME), stub, client)
    assert answer["Status"] == "FAILED"
    assert "UPDATE_FAILED: quota of rules reached" in answer["Reason"]


def test_a_pack_still_in_progress_when_time_runs_out_is_answered_failed_before_the_timeout() -> None:
    client, stub = _stubbed()
    stub.add_response("put_conformance_pack", {"ConformancePackArn": ARN})
    stub.add_response("describe_conformance_pack_status", _status("CREATE_IN_PROGRESS", completed=None))
    millis = (pack_handler.POLL_SECONDS + pack_handler.ANSWER_MARGIN_SECONDS) * 1000 - 1
    answer, sleeps = _run(_event("Create"), stub, client, millis=millis)
    assert answer["Status"] == "FAILED"
    assert "still CREATE_IN_PROGRESS" in answer["Reason"]
    assert not sleeps


def test_a_refused_put_is_a_failed_answer_not_a_silent_success() -> None:
    client, stub = _stubbed()
    stub.add_client_error("put_conformance_pack", "ValidationException", "Source identifier PCI-DSS_V4 is unknown")
    answer, _ = _run(_event("Create"), stub, client)
    assert answer["Status"] == "FAILED"
    assert "ValidationException" in answer["Reason"]


def test_delete_waits_until_the_pack_is_gone() -> None:
    client, stub = _stubbed()
    stub.add_response("delete_conformance_pack", {}, {"ConformancePackName": NAME})
    stub.add_response("describe_conformance_pack_status", _status("DELETE_IN_PROGRESS"))
    stub.add_client_error("describe_conformance_pack_status", pack_handler.NO_SUCH_PACK)
    answer, sleeps = _run(_event("Delete", PhysicalResourceId=NAME), stub, client)
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"ConformancePackState": "DELETED"}
    assert len(sleeps) == 1


def test_delete_of_a_pack_already_gone_succeeds() -> None:
    client, stub = _stubbed()
    stub.add_client_error("delete_conformance_pack", pack_handler.NO_SUCH_PACK)
    stub.add_response("describe_conformance_pack_status", {"ConformancePackStatusDetails": []})
    answer, _ = _run(_event("Delete", PhysicalResourceId=NAME), stub, client)
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"ConformancePackState": "DELETED"}


def test_delete_failed_fails_the_stack_deletion_with_the_reason() -> None:
    client, stub = _stubbed()
    stub.add_response("delete_conformance_pack", {})
    stub.add_response("describe_conformance_pack_status", _status("DELETE_FAILED", reason="remediation in progress"))
    answer, _ = _run(_event("Delete", PhysicalResourceId=NAME), stub, client)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].endswith("DELETE_FAILED: remediation in progress")


def test_a_renamed_pack_deletes_the_old_name() -> None:
    """After a rename CloudFormation sends Delete with the old physical ID and old properties."""
    client, stub = _stubbed()
    stub.add_response("delete_conformance_pack", {}, {"ConformancePackName": "pci-lz-old-aws-pci-dss-v4"})
    stub.add_client_error("describe_conformance_pack_status", pack_handler.NO_SUCH_PACK)
    event = _event("Delete", PhysicalResourceId="pci-lz-old-aws-pci-dss-v4")
    answer, _ = _run(event, stub, client)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "pci-lz-old-aws-pci-dss-v4"


def test_the_answer_goes_only_to_an_https_url() -> None:
    with pytest.raises(ValueError, match="not an HTTPS URL"):
        pack_handler.send_response("http://example.com/x", b"{}")
    with pytest.raises(ValueError, match="not an HTTPS URL"):
        pack_handler.send_response("file:///etc/passwd", b"{}")


# --- Property: whatever AWS Config reports in between, one answer, and it says how the pack ended ----------

_IN_PROGRESS = st.sampled_from(["CREATE_IN_PROGRESS", "not listed"])
_TERMINAL = st.sampled_from(["CREATE_COMPLETE", "CREATE_FAILED"])


@settings(max_examples=40, deadline=None)
@given(st.lists(_IN_PROGRESS, max_size=6), _TERMINAL, st.integers(min_value=0, max_value=8))
def test_the_answer_follows_the_final_state(progress: list[str], terminal: str, polls_allowed: int) -> None:
    client, stub = _stubbed()
    stub.add_response("put_conformance_pack", {"ConformancePackArn": ARN})
    states = [*progress, terminal]
    # Time for `polls_allowed` sleeps: poll j comes after j sleeps with budget + (allowed - j) * POLL seconds
    # left, so polls 0..allowed+1 happen and the handler answers FAILED after the last if still in progress.
    budget = pack_handler.POLL_SECONDS + pack_handler.ANSWER_MARGIN_SECONDS
    clock: dict[str, float] = {"left": float(budget + polls_allowed * pack_handler.POLL_SECONDS)}

    class _Clock:
        def get_remaining_time_in_millis(self) -> int:
            return int(clock["left"] * 1000)

    for state in states[: polls_allowed + 2]:
        if state == "not listed":
            stub.add_response("describe_conformance_pack_status", {"ConformancePackStatusDetails": []})
        else:
            completed = T0 if state == "CREATE_COMPLETE" else None
            stub.add_response("describe_conformance_pack_status", _status(state, completed=completed))
    answers: list[dict[str, Any]] = []

    def sleep(seconds: float) -> None:
        clock["left"] -= seconds

    with stub:
        pack_handler.handler(
            _event("Create"), _Clock(), client=client, send=lambda _u, b: answers.append(json.loads(b)), sleep=sleep
        )
    assert len(answers) == 1
    reached_end = len(progress) <= polls_allowed + 1
    if reached_end and terminal == "CREATE_COMPLETE":
        assert answers[0]["Status"] == "SUCCESS"
    else:
        assert answers[0]["Status"] == "FAILED"
        expected = "CREATE_FAILED" if reached_end else "still "
        assert expected in answers[0]["Reason"]
