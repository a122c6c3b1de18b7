"""Progress bars outside fit (#10 item 11): shown on long phases, never under -q."""

from __future__ import annotations

from gentk import progress


def test_a_long_phase_shows_a_bar_and_quiet_hides_it(monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    with progress.task("scoring", total=3, unit="users") as advance:
        for _ in range(3):
            advance()
    assert "scoring" in capsys.readouterr().err
    with progress.quiet(), progress.task("scoring quietly", total=3) as advance:
        advance(3)
    assert "scoring quietly" not in capsys.readouterr().err


def test_a_short_phase_prints_nothing(capsys):
    with progress.task("quick", total=2) as advance:
        advance(2)
    assert capsys.readouterr().err == ""
