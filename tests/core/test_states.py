import pytest

from nbexec.core.errors import InvalidTransition
from nbexec.core.states import OPEN, TERMINAL, TRANSITIONS, OrderStatus, check_transition, is_allowed

S = OrderStatus


def test_every_state_has_a_row_in_the_table():
    assert set(TRANSITIONS) == set(OrderStatus)


def test_terminal_states_have_no_way_out():
    assert TERMINAL == {S.RISK_REJECTED, S.REJECTED, S.FILLED, S.CANCELLED, S.EXPIRED}
    assert OPEN.isdisjoint(TERMINAL)


def test_every_state_is_reachable_from_new():
    seen, frontier = {S.NEW}, [S.NEW]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(OrderStatus)


def test_unknown_is_left_only_by_a_broker_verdict_or_a_proven_resend():
    assert TRANSITIONS[S.UNKNOWN] == {S.ACKED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.SENT}
    assert not is_allowed(S.UNKNOWN, S.PENDING_SEND)


def test_an_order_cannot_skip_the_wire():
    assert not is_allowed(S.NEW, S.SENT)
    assert not is_allowed(S.PENDING_SEND, S.ACKED)


def test_check_transition_names_both_states():
    with pytest.raises(InvalidTransition, match="FILLED -> CANCELLED"):
        check_transition("abc", S.FILLED, S.CANCELLED)
