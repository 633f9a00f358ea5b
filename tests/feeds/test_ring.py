"""Tick rings: fixed memory per instrument, whole batches appended, newest ticks kept, gaps marked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbexec.core.errors import ValidationError
from nbexec.core.ticks import TICK_DTYPE, empty_ticks
from nbexec.feeds.ring import RING_DTYPE, TickRings
from tests.fixtures.examples import examples

A, B, C = (256 * 1594 + 1, 1), (256 * 2885 + 1, 1), (1333, 1)


def batch(ids, prices) -> np.ndarray:
    ticks = empty_ticks(len(ids))
    ticks["token"] = [t for t, _ in ids]
    ticks["segment"] = [s for _, s in ids]
    ticks["last_price"] = prices
    return ticks


def test_ring_rows_extend_the_tick_dtype_field_for_field():
    for name in TICK_DTYPE.names:
        assert RING_DTYPE.fields[name] == TICK_DTYPE.fields[name]
    assert {"received_ns", "gap"} <= set(RING_DTYPE.names)


def test_a_batch_lands_in_each_instruments_own_ring_in_order():
    rings = TickRings([A, B], capacity=8)
    rings.append(batch([A, B, A, A, B], [1, 2, 3, 4, 5]), received_ns=10)
    assert rings.ticks(A)["last_price"].tolist() == [1, 3, 4]
    assert rings.ticks(B)["last_price"].tolist() == [2, 5]
    assert set(rings.ticks(A)["received_ns"]) == {10}


def test_a_full_ring_keeps_the_newest_ticks():
    rings = TickRings([A], capacity=4)
    for i in range(3):
        rings.append(batch([A, A, A], [3 * i, 3 * i + 1, 3 * i + 2]), received_ns=i)
    assert rings.ticks(A)["last_price"].tolist() == [5, 6, 7, 8]
    assert rings.count(A) == 9 and len(rings) == 4


def test_a_batch_larger_than_the_ring_keeps_its_last_ticks():
    rings = TickRings([A, B], capacity=3)
    rings.append(batch([A] * 7 + [B], list(range(8))), received_ns=1)
    assert rings.ticks(A)["last_price"].tolist() == [4, 5, 6]
    assert rings.ticks(B)["last_price"].tolist() == [7]


def test_ticks_of_instruments_without_a_ring_are_ignored():
    rings = TickRings([A], capacity=4)
    slots = rings.append(batch([C, A, C], [1, 2, 3]), received_ns=1)
    assert len(slots) == 1 and rings.ticks(A)["last_price"].tolist() == [2]


def test_after_a_gap_only_each_instruments_next_tick_is_marked():
    rings = TickRings([A, B], capacity=8)
    rings.append(batch([A, B], [1, 2]), received_ns=1)
    rings.mark_gap()
    rings.append(batch([A, A], [3, 4]), received_ns=2)
    rings.append(batch([B, A], [5, 6]), received_ns=3)
    assert rings.ticks(A)["gap"].tolist() == [False, True, False, False]
    assert rings.ticks(B)["gap"].tolist() == [False, True]


def test_all_instruments_read_merged_by_receive_time_and_last_n_per_instrument():
    rings = TickRings([A, B], capacity=8)
    rings.append(batch([A], [1]), received_ns=1)
    rings.append(batch([B], [2]), received_ns=2)
    rings.append(batch([A], [3]), received_ns=3)
    assert rings.ticks()["last_price"].tolist() == [1, 2, 3]
    assert rings.ticks(last=1)["last_price"].tolist() == [2, 3]


def test_reads_are_copies_that_later_appends_do_not_change():
    rings = TickRings([A], capacity=2)
    rings.append(batch([A, A], [1, 2]), received_ns=1)
    held = rings.ticks(A)
    rings.append(batch([A, A], [3, 4]), received_ns=2)
    assert held["last_price"].tolist() == [1, 2]


def test_last_is_the_newest_tick_or_none():
    rings = TickRings([A, B], capacity=2)
    assert rings.last(A) is None
    rings.append(batch([A, A, A], [1, 2, 3]), received_ns=1)
    assert rings.last(A)["last_price"] == 3


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([A, B]), st.floats(0.05, 1e6), st.floats(0, 1e6), st.floats(0, 1e6)),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 4),
    st.booleans(),
)
def test_quote_reads_the_newest_ticks_prices_and_arrival(ticks, capacity, one_at_a_time):
    rings = TickRings([A, B], capacity=capacity)
    assert rings.quote(A) is None
    for n, (ident, last, bid, ask) in enumerate(ticks):
        one = batch([ident], [last])
        one["bid_price"][0, 0], one["ask_price"][0, 0], one["bid_price"][0, 1] = bid, ask, bid - 1
        rings.append(one if one_at_a_time else np.concatenate([one, batch([C], [9.0])]), received_ns=100 + n)
    for ident in (A, B):
        newest = rings.last(ident)
        if newest is None:
            assert rings.quote(ident) is None
        else:
            assert rings.quote(ident) == (
                newest["last_price"],
                newest["bid_price"][0],
                newest["ask_price"][0],
                newest["received_ns"],
            )


def test_take_returns_the_rows_an_append_wrote():
    rings = TickRings([A, B], capacity=4)
    rings.mark_gap()
    rows = rings.take(rings.append(batch([B, A], [7, 8]), received_ns=5))
    assert rows["last_price"].tolist() == [7, 8] and rows["gap"].all() and (rows["received_ns"] == 5).all()


@pytest.mark.parametrize("ids", [[A], [C], [B, A, B], [C, C], [B, C, A, A]])
def test_rows_name_each_ring_an_append_wrote_once(ids):
    rings = TickRings([A, B], capacity=2)
    slots = rings.append(batch(ids, [1.0] * len(ids)), received_ns=1)
    assert sorted(rings.rows(slots)) == sorted({rings.row(i) for i in ids if i != C})
    for ident in {i for i in ids if i != C}:
        assert rings.quote_at(rings.row(ident)) == rings.quote(ident)


def test_adding_instruments_keeps_what_the_rings_hold():
    rings = TickRings([A], capacity=4)
    rings.append(batch([A, A], [1, 2]), received_ns=1)
    rings.add([B, A])
    rings.append(batch([B, A], [3, 4]), received_ns=2)
    assert rings.ids == [A, B]
    assert rings.ticks(A)["last_price"].tolist() == [1, 2, 4]
    assert rings.ticks(B)["last_price"].tolist() == [3]


def test_same_token_in_another_segment_is_another_instrument():
    rings = TickRings([(1333, 1), (1333, 4)], capacity=4)
    rings.append(batch([(1333, 4), (1333, 1)], [1, 2]), received_ns=1)
    assert rings.ticks((1333, 4))["last_price"].tolist() == [1]


def test_unknown_instrument_and_bad_capacity_are_named_errors():
    with pytest.raises(ValidationError, match="capacity"):
        TickRings([A], capacity=0)
    with pytest.raises(ValidationError, match="instrument"):
        TickRings([A]).ticks(B)


@settings(max_examples=examples(200), deadline=None)
@given(capacity=st.integers(1, 6), batches=st.lists(st.lists(st.sampled_from([0, 1, 2]), max_size=12), max_size=8))
def test_each_ring_equals_the_newest_capacity_ticks_of_its_instrument(capacity, batches):
    ids = [A, B, C]
    rings = TickRings(ids[:2], capacity=capacity)  # C has no ring
    model: dict = {A: [], B: []}
    price = 0
    for n, picks in enumerate(batches):
        prices = list(range(price, price + len(picks)))
        price += len(picks)
        rings.append(batch([ids[p] for p in picks], prices), received_ns=n)
        for p, value in zip(picks, prices, strict=True):
            if ids[p] in model:
                model[ids[p]].append(value)
    for key, values in model.items():
        assert rings.ticks(key)["last_price"].tolist() == values[-capacity:]
        assert rings.count(key) == len(values)


def test_one_tick_batches_follow_the_same_rules():
    # Dhan sends one packet per message: this is the feed's most common batch size.
    rings = TickRings([A, B], capacity=2)
    for price in (1, 2, 3):
        rings.append(batch([A], [price]), received_ns=price)
    assert len(rings.append(batch([C], [9]), received_ns=4)) == 0
    rings.mark_gap()
    slots = rings.append(batch([B], [5]), received_ns=5)
    assert rings.take(slots)["gap"].tolist() == [True]
    rings.append(batch([A], [6]), received_ns=6)
    assert rings.ticks(A)[["last_price", "gap"]].tolist() == [(3.0, False), (6.0, True)]
    assert rings.count(A) == 4 and rings.last(B)["received_ns"] == 5


def test_one_tick_appends_write_the_same_rows_as_one_batch_append():
    ticks = batch([A, B, A], [1.5, 2.5, 3.5])
    ticks["volume"], ticks["mode"] = [10, 20, 30], 3
    ticks["bid_price"][:, 4] = [7.25, 8.5, 9.75]
    ticks["ask_orders"][:, 0] = [1, 2, 3]
    one, whole = TickRings([A, B], capacity=4), TickRings([A, B], capacity=4)
    one.mark_gap()
    whole.mark_gap()
    for i in range(len(ticks)):  # as a one-row array, or as its row bytes (the lone-packet path)
        one.append(ticks[i : i + 1] if i % 2 else ticks[i : i + 1].tobytes(), received_ns=100)
    whole.append(ticks, received_ns=100)
    for key in (A, B):
        assert all(np.array_equal(one.ticks(key)[name], whole.ticks(key)[name]) for name in RING_DTYPE.names)


def test_one_tick_appends_reach_instruments_added_later():
    rings = TickRings([A], capacity=4)
    rings.append(batch([A], [1]), received_ns=1)
    rings.add([B])
    rings.append(batch([B], [2]), received_ns=2)
    rings.append(batch([A], [3]), received_ns=3)
    assert rings.ticks(A)["last_price"].tolist() == [1, 3] and rings.ticks(B)["last_price"].tolist() == [2]
