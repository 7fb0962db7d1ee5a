"""Every trigger rule against every combination of up to three upstream states, as a
table written out from Airflow's semantics (its ``TriggerRuleDep``), not derived here.

Upstream states: ``s`` succeeded, ``f`` failed, ``u`` upstream_failed, ``k`` skipped,
``p`` pending (still to end). Decisions: ``R`` run now, ``W`` wait, ``S`` skipped,
``U`` upstream_failed. Each row is checked in every order of its upstream; ``cached``
is checked to behave as ``succeeded`` and ``cancelled`` as ``failed``.
"""

from __future__ import annotations

import itertools

import pytest

from headwater.engine._triggers import Decision, decide
from headwater.spec import TriggerRule
from headwater.states import TaskStatus

T = TaskStatus

STATE = {"s": T.SUCCEEDED, "f": T.FAILED, "u": T.UPSTREAM_FAILED, "k": T.SKIPPED, "p": None}
DECISION = {
    "R": Decision.RUN,
    "W": Decision.WAIT,
    "S": Decision.SKIP,
    "U": Decision.UPSTREAM_FAILED,
}

# Columns, in the order of the table below.
RULES = [
    "all_success",
    "all_failed",
    "all_done",
    "one_success",
    "one_failed",
    "one_done",
    "none_failed",
    "none_failed_min_one_success",
    "none_skipped",
    "all_skipped",
    "all_done_min_one_success",
    "always",
]

TABLE = """
# up   AS AF AD OS OF OD NF NM NS AK AM AL
s      R  S  R  R  S  R  R  R  R  S  R  R
f      U  R  R  U  R  R  U  U  R  S  U  R
u      U  R  R  U  R  S  U  U  R  S  U  R
k      S  S  R  S  S  S  R  S  S  R  S  R
p      W  W  W  W  W  W  W  W  W  W  W  R
ss     R  S  R  R  S  R  R  R  R  S  R  R
sf     U  S  R  R  R  R  U  U  R  S  R  R
su     U  S  R  R  R  R  U  U  R  S  R  R
sk     S  S  R  R  S  R  R  R  S  S  S  R
sp     W  S  W  R  W  R  W  W  W  S  W  R
ff     U  R  R  U  R  R  U  U  R  S  U  R
fu     U  R  R  U  R  R  U  U  R  S  U  R
fk     U  S  R  U  R  R  U  U  S  S  S  R
fp     U  W  W  W  R  R  U  U  W  S  W  R
uu     U  R  R  U  R  S  U  U  R  S  U  R
uk     U  S  R  U  R  S  U  U  S  S  S  R
up     U  W  W  W  R  W  U  U  W  S  W  R
kk     S  S  R  S  S  S  R  S  S  R  S  R
kp     S  S  W  W  W  W  W  W  S  W  S  R
pp     W  W  W  W  W  W  W  W  W  W  W  R
sss    R  S  R  R  S  R  R  R  R  S  R  R
ssf    U  S  R  R  R  R  U  U  R  S  R  R
ssu    U  S  R  R  R  R  U  U  R  S  R  R
ssk    S  S  R  R  S  R  R  R  S  S  S  R
ssp    W  S  W  R  W  R  W  W  W  S  W  R
sff    U  S  R  R  R  R  U  U  R  S  R  R
sfu    U  S  R  R  R  R  U  U  R  S  R  R
sfk    U  S  R  R  R  R  U  U  S  S  S  R
sfp    U  S  W  R  R  R  U  U  W  S  W  R
suu    U  S  R  R  R  R  U  U  R  S  R  R
suk    U  S  R  R  R  R  U  U  S  S  S  R
sup    U  S  W  R  R  R  U  U  W  S  W  R
skk    S  S  R  R  S  R  R  R  S  S  S  R
skp    S  S  W  R  W  R  W  W  S  S  S  R
spp    W  S  W  R  W  R  W  W  W  S  W  R
fff    U  R  R  U  R  R  U  U  R  S  U  R
ffu    U  R  R  U  R  R  U  U  R  S  U  R
ffk    U  S  R  U  R  R  U  U  S  S  S  R
ffp    U  W  W  W  R  R  U  U  W  S  W  R
fuu    U  R  R  U  R  R  U  U  R  S  U  R
fuk    U  S  R  U  R  R  U  U  S  S  S  R
fup    U  W  W  W  R  R  U  U  W  S  W  R
fkk    U  S  R  U  R  R  U  U  S  S  S  R
fkp    U  S  W  W  R  R  U  U  S  S  S  R
fpp    U  W  W  W  R  R  U  U  W  S  W  R
uuu    U  R  R  U  R  S  U  U  R  S  U  R
uuk    U  S  R  U  R  S  U  U  S  S  S  R
uup    U  W  W  W  R  W  U  U  W  S  W  R
ukk    U  S  R  U  R  S  U  U  S  S  S  R
ukp    U  S  W  W  R  W  U  U  S  S  S  R
upp    U  W  W  W  R  W  U  U  W  S  W  R
kkk    S  S  R  S  S  S  R  S  S  R  S  R
kkp    S  S  W  W  W  W  W  W  S  W  S  R
kpp    S  S  W  W  W  W  W  W  S  W  S  R
ppp    W  W  W  W  W  W  W  W  W  W  W  R
"""

# all_done_setup_success (a teardown's default) reads which upstream are setups:
# "setups | others" -> decision. With no setup upstream it is all_done.
SETUP_TABLE = """
s   |       R
s   | s     R
s   | f     R
s   | u     R
s   | k     R
s   | p     W
p   | s     W
f   |       U
f   | s     U
f   | u     U
f   | p     W
u   | f     U
k   |       S
k   | k     S
k   | u     S
k   | s     S
sf  | f     R
su  |       R
sk  | u     R
fk  |       U
kk  | s     S
kp  |       W
    | s     R
    | f     R
    | ku    R
    | p     W
"""


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in TABLE.strip().splitlines():
        if line.startswith("#"):
            continue
        up, *decisions = line.split()
        assert len(decisions) == len(RULES), line
        rows.extend((up, rule, d) for rule, d in zip(RULES, decisions, strict=True))
    return rows


ROWS = _rows()


def _states(codes: str) -> list[TaskStatus | None]:
    return [STATE[c] for c in codes]


def test_the_table_covers_every_combination_of_up_to_three_upstream_states() -> None:
    combos = {
        "".join(c) for n in (1, 2, 3) for c in itertools.combinations_with_replacement("sfukp", n)
    }
    assert {up for up, _, _ in ROWS} == combos
    assert {*RULES, "all_done_setup_success"} == {r.value for r in TriggerRule}


@pytest.mark.parametrize(("up", "rule", "expected"), ROWS, ids=[f"{r}-{u}" for u, r, _ in ROWS])
def test_decide_follows_airflow(up: str, rule: str, expected: str) -> None:
    for order in set(itertools.permutations(up)):
        got = decide(TriggerRule(rule), _states("".join(order)))
        assert got is DECISION[expected], f"{rule} with upstream {''.join(order)}: {got}"


@pytest.mark.parametrize(("up", "rule", "expected"), ROWS, ids=[f"{r}-{u}" for u, r, _ in ROWS])
def test_cached_is_a_success_and_cancelled_a_failure(up: str, rule: str, expected: str) -> None:
    states = [
        T.CACHED if s is T.SUCCEEDED else T.CANCELLED if s is T.FAILED else s for s in _states(up)
    ]
    assert decide(TriggerRule(rule), states) is DECISION[expected]


def _setup_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in SETUP_TABLE.strip().splitlines():
        left, right = line.split("|")
        others, expected = right.split() if len(right.split()) == 2 else ("", right.strip())
        rows.append((left.strip(), others, expected))
    return rows


SETUP_ROWS = _setup_rows()


@pytest.mark.parametrize(
    ("setups", "others", "expected"), SETUP_ROWS, ids=[f"{s}|{o}" for s, o, _ in SETUP_ROWS]
)
def test_all_done_setup_success_follows_airflow(setups: str, others: str, expected: str) -> None:
    setup_states = _states(setups)
    upstream = [*setup_states, *_states(others)]
    got = decide(TriggerRule.ALL_DONE_SETUP_SUCCESS, upstream, setup_states)
    assert got is DECISION[expected], f"setups {setups!r}, others {others!r}: {got}"


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_a_task_without_upstream_runs_whatever_its_rule(rule: TriggerRule) -> None:
    assert decide(rule, []) is Decision.RUN
