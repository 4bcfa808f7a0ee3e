"""X-Ray subsegments that record timing and outcome, never data (PCI DSS v4.0.1 3.3, 3.4.1, 10.2).

Powertools' `capture_lambda_handler` / `capture_method` record a function's return value as
segment metadata by default, and the X-Ray SDK's own `in_subsegment` context manager records
any exception that leaves it, message and stack included, whatever Powertools was told. A
detokenize answer holds a card number, and an exception message might. `traced` opens the
subsegment itself: the return value is never added, and an exception is re-raised only after
the subsegment has closed, marked as a fault with the exception's type name as an annotation
(a type name is code, not data).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from aws_lambda_powertools import Tracer

P = ParamSpec("P")
R = TypeVar("R")

SERVICE = "card-vault"
# Only the AWS SDK is patched (its subsegments carry the service, operation and status, not
# the payload); Powertools would otherwise patch every library it knows.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))


def traced(function: Callable[P, R]) -> Callable[..., R]:
    """Run `function` in a subsegment `## <name>` that records no return value and no exception text.

    Typed `Callable[..., R]` as Powertools' decorators are: a handler's context may be any object
    with the Lambda context's attributes (the local server's, the tests').
    """
    name = f"## {function.__name__}"

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        failure: BaseException | None = None
        with tracer.provider.in_subsegment(name=name) as subsegment:
            subsegment.put_annotation(key="Service", value=SERVICE)
            try:
                return function(*args, **kwargs)
            except Exception as err:  # recorded by type only, raised once the subsegment is closed
                failure = err
                subsegment.put_annotation(key="ErrorType", value=type(err).__name__)
                _mark_fault(subsegment)
        assert failure is not None
        raise failure

    return wrapper


def _mark_fault(subsegment: Any) -> None:
    if hasattr(subsegment, "add_fault_flag"):
        subsegment.add_fault_flag()
