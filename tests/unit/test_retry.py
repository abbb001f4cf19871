"""The adapters' one retry loop: it repeats only what the adapter calls retryable, within its budget."""

from __future__ import annotations

import logging

import pytest

from shared.adapters import retry

log = logging.getLogger("test")


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures, self.calls = list(failures), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def test_a_retryable_failure_is_repeated_after_the_wait_the_adapter_gives() -> None:
    slept: list[float] = []
    flaky = Flaky([TimeoutError("1"), TimeoutError("2")])

    result = retry.call(flaky, budget=retry.Budget(retries=3), wait_for=lambda exc, n: 0.5 * (n + 1),
                        sleep=slept.append, what="call", log=log)

    assert (result, flaky.calls, slept) == ("done", 3, [0.5, 1.0])


def test_a_failure_the_adapter_does_not_call_retryable_is_raised_at_once() -> None:
    flaky = Flaky([PermissionError("no")])

    with pytest.raises(PermissionError):
        retry.call(flaky, budget=retry.Budget(retries=5), wait_for=lambda exc, n: None, sleep=lambda s: None,
                   what="call", log=log)
    assert flaky.calls == 1


@pytest.mark.parametrize(("budget", "calls"), [
    (retry.Budget(retries=2, max_wait=100), 3),     # out of attempts
    (retry.Budget(retries=9, max_wait=25), 3),      # out of sleep: 10 + 10 fits, a third 10 does not
])
def test_the_last_failure_is_raised_when_the_budget_is_spent(budget: retry.Budget, calls: int) -> None:
    flaky = Flaky([TimeoutError(str(i)) for i in range(10)])

    with pytest.raises(TimeoutError, match=str(calls - 1)):
        retry.call(flaky, budget=budget, wait_for=lambda exc, n: 10.0, sleep=lambda s: None, what="call", log=log)
    assert flaky.calls == calls


def test_backoff_doubles_up_to_its_cap() -> None:
    budget = retry.Budget(retries=6, backoff=1.0, max_backoff=5.0)

    assert [budget.backoff_for(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
