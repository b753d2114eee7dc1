"""eval/tracks.py and eval/mot.py: TrackEval-based metrics checked against hand-computed
figures and an independent IDF1 (global id matching with scipy), MOT reading/writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from linewatch.eval.mot import MotFrame, from_array, parse_mot, read_mot, write_mot
from linewatch.eval.tracks import box_iou, evaluate_tracks, format_table, points_to_mot
from linewatch.records import ObjectClass, TrackPoint

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GT = SHARED / "data" / "pets09-s2l1" / "gt.txt"


def rows(*tracks: tuple[int, list[int], float, float]) -> np.ndarray:
    """MOT rows of walkers: (id, frames, x0, dx per frame), 20x40 boxes, conf 1."""
    out = []
    for tid, frames, x0, dx in tracks:
        for f in frames:
            out.append([f, tid, x0 + dx * f, 100, 20, 40, 1])
    return np.asarray(out, dtype=np.float64)


def reference_idf1(gt: dict[int, MotFrame], pred: dict[int, MotFrame]) -> float:
    """IDF1 from its definition (Ristani et al. 2016), written independently of TrackEval:
    count, for every (gt id, pred id) pair, the frames where their boxes overlap with
    IoU >= 0.5; the best one-to-one id matching maximises the total; IDF1 = 2 IDTP /
    (gt boxes + predicted boxes)."""
    gids = sorted({int(i) for f in gt.values() for i in f.ids})
    pids = sorted({int(i) for f in pred.values() for i in f.ids})
    overlap = np.zeros((len(gids), len(pids)))
    for frame, g in gt.items():
        p = pred.get(frame)
        if p is None:
            continue
        for a, gi in enumerate(g.ids):
            for b, pi in enumerate(p.ids):
                x1 = max(g.xyxy[a, 0], p.xyxy[b, 0])
                y1 = max(g.xyxy[a, 1], p.xyxy[b, 1])
                x2 = min(g.xyxy[a, 2], p.xyxy[b, 2])
                y2 = min(g.xyxy[a, 3], p.xyxy[b, 3])
                inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
                area_g = np.prod(g.xyxy[a, 2:] - g.xyxy[a, :2])
                area_p = np.prod(p.xyxy[b, 2:] - p.xyxy[b, :2])
                if inter / (area_g + area_p - inter) >= 0.5:
                    overlap[gids.index(int(gi)), pids.index(int(pi))] += 1
    r, c = linear_sum_assignment(-overlap)
    idtp = overlap[r, c].sum()
    n_gt = sum(len(f) for f in gt.values())
    n_pred = sum(len(f) for f in pred.values())
    return float(2 * idtp / (n_gt + n_pred))


def test_perfect_tracking_scores_one() -> None:
    gt = from_array(rows((1, list(range(1, 30)), 10, 3), (2, list(range(5, 25)), 300, -4)))
    m = evaluate_tracks(gt, gt)
    assert (m.hota, m.idf1, m.mota, m.motp) == pytest.approx((1, 1, 1, 1))
    assert m.id_switches == 0 and m.gt_ids == 2 and m.gt_dets == 29 + 20


def test_hand_computed_switch_and_misses() -> None:
    """One walker over frames 1-20; the prediction has id 7 on 1-10, id 8 on 11-20 (one
    switch), misses frames 19-20 and adds one false box: figures computed by hand."""
    gt = from_array(rows((1, list(range(1, 21)), 10, 3)))
    pred_rows = np.concatenate(
        [
            rows((7, list(range(1, 11)), 10, 3)),
            rows((8, list(range(11, 19)), 10, 3)),
            [[5, 9, 400, 300, 20, 40, 1]],
        ]
    )
    m = evaluate_tracks(gt, pred_rows)
    assert m.id_switches == 1
    assert m.false_negatives == 2 and m.false_positives == 1
    assert m.mota == pytest.approx(1 - (2 + 1 + 1) / 20)
    # IDF1: best id (7) covers 10 of 20 gt boxes, 19 predicted boxes -> 2*10/(20+19)
    assert m.idf1 == pytest.approx(20 / 39)
    assert m.idp == pytest.approx(10 / 19) and m.idr == pytest.approx(10 / 20)


def test_idf1_agrees_with_an_independent_implementation() -> None:
    rng = np.random.default_rng(7)
    gt = from_array(
        rows(
            (1, list(range(1, 60)), 10, 4),
            (2, list(range(10, 70)), 500, -5),
            (3, list(range(30, 80)), 50, 2),
        )
    )
    # corrupt: swap ids 1 and 2 after frame 35, drop 10 % of the boxes, jitter, add clutter
    pr = []
    for f, fr in gt.items():
        for tid, box in zip(fr.ids, fr.xyxy, strict=True):
            if rng.random() < 0.1:
                continue
            new = {1: 2, 2: 1}.get(int(tid), int(tid)) if f > 35 else int(tid)
            b = box + rng.normal(0, 2.0, 4)
            pr.append([f, new + 10, b[0], b[1], b[2] - b[0], b[3] - b[1], 1])
        if rng.random() < 0.2:
            pr.append([f, 99, 600, 50, 20, 40, 1])
    pred = from_array(np.asarray(pr))
    m = evaluate_tracks(gt, pred)
    assert 0.3 < m.idf1 < 0.95  # a case where the matching matters
    assert m.idf1 == pytest.approx(reference_idf1(gt, pred), abs=1e-9)


@pytest.mark.shared
@pytest.mark.skipif(not GT.is_file(), reason=f"PETS09 ground truth not found at {GT}")
def test_idf1_agrees_with_reference_on_pets09_with_switches() -> None:
    gt_all = read_mot(GT)
    gt = {
        f: MotFrame(
            fr.ids[fr.conf > 0], fr.xyxy[fr.conf > 0], fr.conf[fr.conf > 0], fr.extra[fr.conf > 0]
        )
        for f, fr in gt_all.items()
    }
    # the gt itself with every id cut in two at frame 400 and boxes shifted a little
    pred = {
        f: MotFrame(np.where(f > 400, fr.ids + 100, fr.ids), fr.xyxy + 3.0, fr.conf, fr.extra)
        for f, fr in gt.items()
    }
    m = evaluate_tracks(GT, pred)
    assert m.idf1 == pytest.approx(reference_idf1(gt, pred), abs=1e-9)
    assert m.idf1 < 0.95 and m.id_switches >= 3 and m.mota > 0.95


def test_zero_conf_gt_rows_are_not_evaluated() -> None:
    gt = from_array(
        np.concatenate(
            [rows((1, list(range(1, 11)), 10, 3)), rows((2, list(range(1, 11)), 300, 0))]
        )
    )
    gt = {
        f: MotFrame(fr.ids, fr.xyxy, np.where(fr.ids == 2, 0.0, 1.0), fr.extra)
        for f, fr in gt.items()
    }
    pred = rows((5, list(range(1, 11)), 10, 3), (6, list(range(1, 11)), 300, 0))
    ignored = evaluate_tracks(gt, pred)  # tracking the ignored person costs nothing
    assert ignored.gt_ids == 1 and ignored.false_positives == 0 and ignored.idf1 == pytest.approx(1)
    counted = evaluate_tracks(gt, pred, zero_conf="drop_gt")  # TrackEval's MOT15 setting
    assert counted.false_positives == 10 and counted.idf1 == pytest.approx(20 / 30)


def test_track_points_and_files_as_input(tmp_path: Path) -> None:
    pts = [
        TrackPoint("cam", 3, k / 7, k, (10.0 + k, 20.0, 30.0 + k, 60.0), ObjectClass.PERSON, 0.9)
        for k in range(5)
    ]
    mot = points_to_mot(pts)  # frame index k -> MOT frame k + 1
    assert sorted(mot) == [1, 2, 3, 4, 5]
    assert mot[1].xyxy[0].tolist() == pytest.approx([10, 20, 30, 60])
    path = write_mot(tmp_path / "pred.txt", [(f, 3, mot[f].xyxy[0], 0.9) for f in mot])
    back = read_mot(path)
    assert sorted(back) == sorted(mot)
    for f in mot:
        np.testing.assert_allclose(back[f].xyxy, mot[f].xyxy, atol=0.01)
    m_pts, m_file = evaluate_tracks(path, pts), evaluate_tracks(path, path)
    assert m_pts.to_dict() == m_file.to_dict()
    assert m_pts.idf1 == pytest.approx(1.0)


def test_parse_mot_rejects_bad_rows_and_reads_whitespace() -> None:
    with pytest.raises(ValueError, match="MOT"):
        parse_mot("1,2,3\n")
    with pytest.raises(ValueError, match="MOT"):
        parse_mot("1,2,a,b,c,d\n")
    assert parse_mot("") == {}
    f = parse_mot("2 5 1 2 3 4\n")  # six whitespace-separated columns: conf defaults to 1
    assert f[2].ids.tolist() == [5] and f[2].conf.tolist() == [1.0]
    assert f[2].xyxy.tolist() == [[1, 2, 4, 6]]


def test_box_iou() -> None:
    a = np.array([[0, 0, 10, 10]], dtype=float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], dtype=float)
    np.testing.assert_allclose(box_iou(a, b), [[1 / 3, 0.0, 1.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_table_and_json() -> None:
    gt = from_array(rows((1, list(range(1, 11)), 10, 3)))
    m = evaluate_tracks(gt, gt)
    table = format_table({"mine": m}, {"mine": {"frames/s": "123"}})
    lines = table.splitlines()
    assert lines[0].startswith("| tracker | HOTA") and "frames/s" in lines[0]
    assert lines[2].startswith("| mine | 100.0") and lines[2].endswith("| 123 |")
    d = json.loads(m.to_json())
    assert d["idf1"] == pytest.approx(1.0) and d["id_switches"] == 0
