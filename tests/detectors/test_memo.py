from __future__ import annotations

from detectors.memo import Memo


def test_count_bound_keeps_two_generations():
    memo: Memo[int, str] = Memo(size=3)
    for i in range(10):
        memo.put(i, str(i))
    assert len(memo) <= 6
    assert memo.get(9) == "9" and memo.get(0) is None


def test_byte_bound_rotates_generations():
    memo: Memo[str, str] = Memo(size=1_000_000, max_bytes=1000,
                                weigh=lambda key, value: len(key) + len(value))
    for i in range(1000):
        memo.put(f"{i:050d}", "v" * 50)
    assert len(memo) <= 2 * (1000 // 100 + 1)
    assert memo.bytes_estimate <= 1000 + 100
    assert memo.get(f"{999:050d}") == "v" * 50


def test_old_generation_hits_are_promoted():
    memo: Memo[int, int] = Memo(size=2)
    memo.put(1, 10)
    memo.put(2, 20)
    memo.put(3, 30)
    assert memo.get(1) == 10
    memo.put(4, 40)
    memo.put(5, 50)
    assert memo.get(1) == 10
    assert memo.hits == 2
