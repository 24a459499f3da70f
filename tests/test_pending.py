import threading
import time

import pytest

from bittap_ws.errors import ConnectionClosed
from bittap_ws.pending import Pending

from .conftest import MS


def test_resolve_wakes_the_waiter_with_the_value():
    """resolve() stores the value, then sets the slot."""
    pending = Pending()
    slot = pending.add("a")
    assert pending.resolve("a", 42)
    assert slot.is_set()
    assert slot.value == 42
    assert len(pending) == 0


def test_resolve_ignores_unknown_ids(caplog):
    """An answer nobody waits for is logged and dropped."""
    pending = Pending()
    with caplog.at_level("DEBUG", logger="bittap_ws"):
        assert not pending.resolve("nobody", 1)
    assert "nobody" in caplog.text


def test_resolve_ignores_duplicates():
    """A second answer to the same id is dropped."""
    pending = Pending()
    slot = pending.add("a")
    assert pending.resolve("a", 1)
    assert not pending.resolve("a", 2)
    assert slot.value == 1


def test_discard_removes_the_slot():
    """A discarded slot is never resolved."""
    pending = Pending()
    slot = pending.add("a")
    pending.discard("a")
    assert not pending.resolve("a", 1)
    assert not slot.is_set()
    pending.discard("a")  # idempotent


def test_add_rejects_a_pending_id():
    """The same id cannot wait twice."""
    pending = Pending()
    pending.add("a")
    with pytest.raises(ValueError):
        pending.add("a")


def test_fail_all_wakes_everyone():
    """fail_all() sets every slot with its own copy of the exception."""
    pending = Pending()
    slots = [pending.add(str(n)) for n in range(3)]
    cause = OSError("boom")
    exc = ConnectionClosed("gone", code=1001, reason="bye")
    exc.__cause__ = cause
    pending.fail_all(exc)
    assert len(pending) == 0
    for slot in slots:
        assert slot.is_set()
        assert isinstance(slot.exc, ConnectionClosed)
        assert slot.exc is not exc
        assert (slot.exc.code, slot.exc.reason) == (1001, "bye")
        assert slot.exc.__cause__ is cause
    assert len({id(slot.exc) for slot in slots}) == 3


def test_add_after_fail_all_raises():
    """A closed table accepts no new slot."""
    pending = Pending()
    pending.fail_all(ConnectionClosed("gone"))
    with pytest.raises(ConnectionClosed):
        pending.add("a")


def test_concurrent_add_and_resolve():
    """Slots added and resolved from many threads all get their value."""
    pending = Pending()
    results = {}

    def work(n):
        for i in range(200):
            key = f"{n}-{i}"
            slot = pending.add(key)
            threading.Thread(target=pending.resolve, args=(key, key)).start()
            assert slot.wait(5)
            results[key] = slot.value

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 800
    assert all(key == value for key, value in results.items())
    assert len(pending) == 0


def test_slot_wait_times_out_and_stays_set():
    """A slot not set times out; once set, every wait returns at once."""
    pending = Pending()
    slot = pending.add("a")
    assert not slot.wait(0.001)
    assert pending.resolve("a", 1)
    assert slot.wait(0) and slot.wait(0)
    slot.set()  # idempotent
    assert slot.is_set()


def test_resolve_can_defer_the_wake_up():
    """With a woken list, resolve() fills the slot and leaves waking to the caller."""
    pending = Pending()
    slot = pending.add("a")
    woken = []
    assert pending.resolve("a", 1, woken)
    assert woken == [slot]
    assert slot.filled and slot.value == 1
    assert not slot.is_set()
    assert not slot.wait(0)
    woken[0].set()
    assert slot.wait(0)


def test_a_late_wake_up_does_not_end_a_later_wait():
    """A slot set after its waiter gave up does not end the same thread's next wait."""
    pending = Pending()
    first = pending.add("a")
    assert not first.wait(MS)
    woken = []
    assert pending.resolve("a", 1, woken)  # filled now, woken later
    second = pending.add("b")
    woken[0].set()  # the late wake-up reaches the thread's lock
    start = time.monotonic()
    assert not second.wait(50 * MS)
    assert time.monotonic() - start >= 45 * MS
    threading.Timer(10 * MS, pending.resolve, args=("b", 2)).start()
    assert second.wait(2000 * MS)
    assert second.value == 2


def test_slots_of_one_thread_share_its_lock_and_others_do_not():
    """A thread's slots wait on one lock of its own; another thread's wait on another."""
    pending = Pending()
    a, b = pending.add("a"), pending.add("b")
    other = []
    thread = threading.Thread(target=lambda: other.append(pending.add("c")))
    thread.start()
    thread.join()
    assert a._lock is b._lock
    assert other[0]._lock is not a._lock
