"""The cap on the runs a command may plan (`--max-runs N`, default 100,000).

N bounds what this command could send: the runs left after `--tag`, `--scenario` and
`--shard` select (for `validate`, which selects nothing, each environment's whole suite).
It is counted before the work it guards, so that a typo planning millions of runs is
refused at once:

1. Before a scenario's cells are made (those of every scenario are, selected or not, to
   check that run keys are unique): its matrix may make at most N cells, or 100,000 when
   N is lower (`cell_limit`).
2. Once the scenarios are selected, before any run is made: their cells x repeat, exact,
   at most N; with `--shard I/S`, at most N x S (were they more, some shard of the S
   would plan more than N).
3. With `--shard`, once the shard's runs are made: at most N.
"""

from __future__ import annotations

from dataclasses import dataclass

from specrunner.errors import UsageError

DEFAULT_MAX_RUNS = 100_000
"""The most runs a plan may hold, unless --max-runs says."""


@dataclass(frozen=True, slots=True)
class RunCap:
    max_runs: int = DEFAULT_MAX_RUNS
    shards: int = 1
    """S of `--shard I/S` (1 without it)."""
    selecting: bool = True
    """The command takes `--tag`, `--scenario` and `--shard` (`validate` does not): the
    messages say to narrow them."""

    @property
    def before_shard(self) -> int:
        """The most runs the selected scenarios may plan before the shard is cut."""
        return self.max_runs * self.shards

    @property
    def cell_limit(self) -> int:
        """The most cells one scenario's matrix may make, selected or not: N, but never
        under the default, so that a low N (a cap on spending) refuses no scenario it does
        not run; and not N x S, so that no count of shards, however large, lets a typo
        through."""
        return max(self.max_runs, DEFAULT_MAX_RUNS)

    def scenario_over(self, count: int) -> str:
        return f"this scenario plans {count:,} runs (cells x repeat), {self._over()}"

    def total_over(self, total: int, *, selected: bool) -> str:
        what = "the selected scenarios plan" if selected else "the suite plans"
        scope = "" if selected else ", all scenarios"
        return f"with this scenario, {what} {total:,} runs (cells x repeat{scope}), {self._over()}"

    def too_many_cells(self, name: str, bound: int) -> str:
        return (
            f"scenario {name!r} makes up to {bound:,} cells, more than the "
            f"{self.cell_limit:,} a scenario may make: trim its matrix, or raise --max-runs"
        )

    def check_shard(self, runs: int, shard: tuple[int, int]) -> None:
        """Refuse a shard that plans more than N runs."""
        if runs <= self.max_runs:
            return
        index, count = shard
        raise UsageError(
            f"--shard {index}/{count} plans {runs:,} runs, {self._allowed(1)}: cut the plan "
            "into more shards, narrow the selection (--tag, --scenario) or raise --max-runs"
        )

    def _over(self) -> str:
        advice = (
            "narrow the selection (--tag, --scenario, --shard) or raise --max-runs"
            if self.selecting
            else "lower a repeat, trim a matrix, or raise --max-runs"
        )
        return f"{self._allowed(self.shards)}: {advice}"

    def _allowed(self, shards: int) -> str:
        default = " (its default)" if self.max_runs == DEFAULT_MAX_RUNS else ""
        if shards == 1:
            return f"more than the {self.max_runs:,} --max-runs allows{default}"
        return (
            f"more than the {self.max_runs * shards:,} --max-runs allows over {shards} shards "
            f"({self.max_runs:,} each{default and ', its default'})"
        )
