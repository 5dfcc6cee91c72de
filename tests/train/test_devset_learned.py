"""The learned-swap builder's planning: pairs stay inside one footage group, every segment of both clips is
swapped once each way with the rows the development set's manifest uses (nothing here trains a model)."""

from __future__ import annotations

import pytest

from dflab.errors import UsageError
from dflab.train import devset
from dflab.train.devset_fakes import DEGRADATIONS
from dflab.train.devset_learned import DEFAULT_PAIRS, SECOND_PAIRS, main, plan_pairs, plan_swaps

CLIPS = ["d0", "d10", "d11", "d12", "d13", "d14", "d18", "d19", "d20", "d3", "d6", "d9", "short_hamilton_clip"]


def test_default_pairs_cover_every_group_twice_and_stay_inside_it():
    groups = devset.assign_groups(CLIPS)
    pairs = plan_pairs(CLIPS, list(DEFAULT_PAIRS + SECOND_PAIRS))
    assert sorted(p.group for p in pairs[:4]) == ["g0", "g1", "g2", "g3"]  # the default: one pair per group
    assert sorted(p.group for p in pairs) == ["g0", "g0", "g1", "g1", "g2", "g2", "g3", "g3"]
    assert all(groups[p.a] == groups[p.b] == p.group for p in pairs)
    assert {c for p in pairs for c in (p.a, p.b)} == set(CLIPS)  # every clip's face is swapped


@pytest.mark.parametrize("pairs, message", [
    ([("d10", "d6")], "different footage groups"),  # g1 with g2: a face would cross a held-out split
    ([("d10", "d10")], "two clips"),
    ([("d10", "d14"), ("d14", "d10")], "twice"),
    ([("d10", "nobody")], "no source clip"),
])  # fmt: skip
def test_bad_pairs_are_refused(pairs, message):
    with pytest.raises(UsageError, match=message):
        plan_pairs(CLIPS, pairs)


def test_every_segment_is_swapped_both_ways_with_devset_rows():
    pairs = plan_pairs(CLIPS, [("d10", "d14"), ("d9", "d19")])
    segments = {"d10": [(0, 150), (150, 300), (300, 448)], "d14": [(0, 150)], "d9": [(0, 150), (150, 300)],
                "d19": [(0, 150)], "d6": [(0, 150)]}  # d6 is in no pair: never swapped
    jobs = plan_swaps(pairs, segments)
    assert [(j.target, j.donor, j.start) for j in jobs] == [
        ("d10", "d14", 0), ("d10", "d14", 150), ("d10", "d14", 300), ("d14", "d10", 0),
        ("d9", "d19", 0), ("d9", "d19", 150), ("d19", "d9", 0)]
    assert [j.degradation for j in jobs] == [DEGRADATIONS[k % 4].name for k in range(len(jobs))]
    rows = [j.row() for j in jobs]
    assert {(r.label, r.method) for r in rows} == {("fake", "learned_swap")}
    assert [r.group for r in rows] == ["g1"] * 4 + ["g3"] * 3
    assert rows[0].source == "d10<-d14" and rows[0].path == "d10_s00000_learned_d14_crf23.mp4"
    assert len({r.path for r in rows}) == len(rows)
    # built pair by pair, the rotation goes on where the pairs before left it
    second = plan_swaps(pairs[1:], segments, first_index=4)
    assert [j.degradation for j in second] == [j.degradation for j in jobs[4:]]


def test_cli_refuses_a_cross_group_pair_with_one_line(shared_data, tmp_path, capsys):
    assert main([str(tmp_path / "out"), "--data", str(shared_data), "--pairs", "d10:d6"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "footage groups" in err
    assert not (tmp_path / "out").exists()
