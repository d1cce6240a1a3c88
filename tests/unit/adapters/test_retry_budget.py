"""The retry budget: a tenth of the calls, a reserve that refills, deposits that fade."""

import threading

from churnlab.adapters.retry_budget import RetryBudget
from tests.unit.adapters.fakes import FakeClock


def retries_allowed(budget: RetryBudget, asked: int) -> int:
    return sum(budget.withdraw() for _ in range(asked))


def test_each_call_earns_a_tenth_of_a_retry_beside_the_reserve():
    budget = RetryBudget(0.1, 3, clock=FakeClock())
    for _ in range(1000):
        budget.deposit()
    assert retries_allowed(budget, 1000) == 100 + 3


def test_ten_calls_buy_one_retry_despite_rounding():
    budget = RetryBudget(0.1, 0, clock=FakeClock())
    for _ in range(9):
        budget.deposit()
    assert not budget.withdraw()
    budget.deposit()
    assert budget.withdraw()


def test_the_reserve_refills_with_time_up_to_one_second_of_it():
    clock = FakeClock()
    budget = RetryBudget(0.1, 3, clock=clock)
    assert retries_allowed(budget, 10) == 3
    clock.now += 0.5
    assert retries_allowed(budget, 10) == 1  # 1.5 refilled: one whole retry
    clock.now += 60
    assert retries_allowed(budget, 10) == 3


def test_deposits_fade_so_a_quiet_spell_of_successes_is_not_banked():
    clock = FakeClock()
    budget = RetryBudget(0.1, 0, clock=clock)
    for _ in range(1000):
        budget.deposit()
    clock.now += 60  # six time constants: a quarter of a percent of the 100 retries is left
    assert not budget.withdraw()


def test_threads_together_never_spend_more_than_was_earned():
    budget = RetryBudget(0.1, 3, clock=FakeClock())
    allowed = []

    def calls() -> None:
        for _ in range(1000):
            budget.deposit()
            allowed.append(budget.withdraw())

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 790 <= sum(allowed) <= 800 + 3
