"""Asking before a run that may spend much: `specrunner run` on a terminal.

Cekura bills voice minutes. When the runs a run could send may make more than
`ASK_ABOVE_CALLS` calls, or take more than `ASK_ABOVE_CALL_TIME` of call time at most (the
sum of their timeouts, see `specrunner.spend`), the run asks first, default No, once the
configuration is known to work and before anything is made or sent. A resumed run counts
the runs it may still send.

Who asks is the caller's `Ask`: the CLI gives one only when stdin and stderr are both a
terminal, and neither with `--yes` nor with `--emulator` (which costs nothing). Without
one, nothing is asked: CI, pipes and `specrunner.run` go ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from specrunner.errors import NotConfirmed
from specrunner.models import PlannedRun
from specrunner.spend import Spend

ASK_ABOVE_CALLS = 100
"""Above the tens of calls of a smoke or CI suite, below what a mistyped repeat or matrix
plans."""
ASK_ABOVE_CALL_TIME = 50 * 3600.0
"""50 hours: what 100 calls can take at the default timeout (30 minutes), so that a plan
of fewer calls with long timeouts asks as well."""

Ask = Callable[[str], bool]
"""Puts a yes/no question to the user; True for yes."""

DECLINED = "not confirmed: nothing was sent (--yes sends without asking)"


def needs_asking(spend: Spend) -> bool:
    return spend.calls > ASK_ABOVE_CALLS or spend.call_seconds > ASK_ABOVE_CALL_TIME


def question(spend: Spend, *, planned: int | None = None) -> str:
    """`This run may make 240 calls, taking up to 120h of call time (...).`, then `Send
    them?` on a line of its own;
    `planned`: the runs of a resumed run's plan, of which `spend` counts those unsent."""
    if planned is None:
        plural = "s" if spend.calls != 1 else ""
        opening = f"This run may make {spend.calls:,} call{plural}"
    else:
        opening = f"This run may still make {spend.calls:,} of its {planned:,} planned calls"
    bound = f"taking up to {spend.call_time} of call time (the sum of their timeouts)"
    return f"{opening}, {bound}.\nSend them?"


def confirm(
    runs: Iterable[PlannedRun],
    ask: Ask | None,
    *,
    planned: int | None = None,
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Go ahead, or raise NotConfirmed when `ask` is given, `runs` may spend more than the
    thresholds, and the answer is not yes. `ready` runs before the question and raises
    what would stop the run anyway, so that no one answers for nothing."""
    if ask is None:
        return
    spend = Spend.of(runs)
    if not needs_asking(spend):
        return
    ready()
    if not ask(question(spend, planned=planned)):
        raise NotConfirmed(DECLINED)
