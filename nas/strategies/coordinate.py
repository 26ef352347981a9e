"""X3D coordinate expansion: forward expansion one axis at a time, then backward contraction.

Each step trains one candidate per expansion operation of the current model
(each about 2x its compute) and keeps the best by the selection rule.  When
the winning candidate passes the compute target, it is contracted along its
own operation by less than one step, to the largest point that fits (X3D-S is
XS expanded to 16 frames, contracted to 13).

We train the overshooting step and contract its *winner*, as the paper does,
rather than contracting every candidate before training it: the candidates of
one step then all cost about 2x, so the accuracy comparison between axes is
fair, and only one extra model (the contraction) is trained.

A proxy accuracy is a noisy estimate, so every step also asks whether its
winner and runner-up are separated: a *tie* when their difference is within
``tie_sigmas`` standard errors of that difference.  The tie rule then decides,
and the path records the margin, the noise, the rule and its outcome:

- ``reseed`` (default): train the tied candidates under more seeds, up to
  ``tie_max_runs`` runs each, and decide on their means; still tied then, take
  the cheapest tied candidate (the one-standard-error rule of Breiman et al.'s
  CART: the simplest model within one standard error of the best), and among
  equally cheap ones the higher mean;
- ``cheaper``: take the cheapest tied candidate at once (equally cheap: the higher mean);
- ``best``: take the higher mean anyway, but still mark the step a tie.

Records without a measured error (a table lookup) are never tied.

Every candidate names its ``parent``, the step's current model, so a search with inherited weights
(``--inherit``) can start it from the parent's trained weights.  A contraction lies between the step's current
model and the overshooting winner on one axis: it too names the current model, from which it grows by a smaller
step of the same operation (shrinking the winner instead would narrow or drop layers, which cannot keep what the
network computes).

The strategy is stateless: ``propose`` replays the whole search over the
trial history each time, so a killed search resumes from the ledger alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from spaces import Point, SearchSpace
from spaces.errors import NasError

from .base import COMPLETE, RUNNING, Proposal, Strategy, TrialRecord, noise_of

SELECTION_RULES = ("accuracy", "gain_per_compute")
#: The options ``nas search`` passes to coordinate expansion (and its variants) and the study stores.
COORDINATE_OPTIONS = ("selection", "tie_rule", "tie_sigmas", "tie_max_runs", "seed_spread")
TIE_RULES = ("reseed", "cheaper", "best")
DEFAULT_TIE_SIGMAS, DEFAULT_TIE_MAX_RUNS = 1.0, 3


@dataclass(frozen=True)
class Decision:
    """How a step chose its winner: the margin over the runner-up, its noise, and what the tie rule did."""

    operation: str | None
    margin: float | None = None  # winner's score minus the runner-up's (before the tie rule)
    noise: float | None = None  # standard error of that difference
    tied: tuple[str, ...] = ()  # operations within tie_sigmas noise of the best (the best included), if a tie
    rule: str = ""
    outcome: str = ""  # "separated", "more seeds", "cheaper of tied", "best of tied"
    more_runs: tuple[Proposal, ...] = ()  # seeds still to train before the step can be decided
    waiting: bool = False  # seeds in training (other workers): decide later

    @property
    def tie(self) -> bool:
        """The runner-up was within the noise of the winner (the tie rule decided)."""
        return bool(self.tied)

    def as_dict(self) -> dict:
        return {
            "margin": self.margin,
            "noise": self.noise,
            "tie": self.tie,
            "tied": list(self.tied),
            "rule": self.rule,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class PathStep:
    """One point of the expansion path, with the candidates its step compared."""

    step: int
    operation: str | None  # None for the base
    point: Point
    role: str  # "base", "expansion", "overshoot" (passed the target) or "contraction"
    candidates: Mapping[str, Point] = field(default_factory=dict)
    decision: Decision | None = None


@dataclass
class _Replay:
    path: list[PathStep]
    proposals: list[Proposal]
    finished: bool
    current: Point | None = None


#: The least growth per step a plan assumes, so a cost that barely grows still plans a finite search.
MIN_GROWTH_PER_STEP = 1.1


class CoordinateExpansion(Strategy):
    name = "coordinate"
    overshoots = True  # the step that crosses the target is trained, then contracted back onto it
    worker_invariant = True  # a step's candidates are all settled before the next step is proposed
    names_parents = True  # every candidate grows from the step's current model (--inherit starts it there)
    own_options = COORDINATE_OPTIONS

    def __init__(
        self,
        space: SearchSpace,
        *,
        target: int,
        seed: int = 0,
        cost: Callable[[Point], int] | None = None,
        selection: str = "accuracy",
        tie_rule: str = "reseed",
        tie_sigmas: float = DEFAULT_TIE_SIGMAS,
        tie_max_runs: int = DEFAULT_TIE_MAX_RUNS,
        seed_spread: float = 0.0,
    ) -> None:
        super().__init__(space, target=target, seed=seed, cost=cost)
        self._cost_doubles = cost is None  # MACs: every X3D expansion about doubles them, by design of the axes
        if selection not in SELECTION_RULES:
            raise NasError(f"unknown selection rule {selection!r}; choose one of: {', '.join(SELECTION_RULES)}")
        if tie_rule not in TIE_RULES:
            raise NasError(f"unknown tie rule {tie_rule!r}; choose one of: {', '.join(TIE_RULES)}")
        if isinstance(tie_sigmas, bool) or not isinstance(tie_sigmas, (int, float)) or not 0 <= tie_sigmas <= 10:
            raise NasError(f"--tie-sigmas must be a number from 0 to 10 standard errors, got {tie_sigmas!r}")
        if isinstance(tie_max_runs, bool) or not isinstance(tie_max_runs, int) or not 1 <= tie_max_runs <= 20:
            raise NasError(f"--tie-max-runs must be a whole number of runs from 1 to 20, got {tie_max_runs!r}")
        if isinstance(seed_spread, bool) or not isinstance(seed_spread, (int, float)) or not 0 <= seed_spread <= 1:
            raise NasError(f"--seed-spread must be a standard deviation of top-1 from 0 to 1, got {seed_spread!r}")
        self.selection = selection
        self.tie_rule, self.tie_sigmas, self.tie_max_runs = tie_rule, float(tie_sigmas), tie_max_runs
        self.seed_spread = float(seed_spread)

    # -- the public questions ------------------------------------------------------
    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        return self._replay(history).proposals[:n]

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return self._replay(history).finished

    def expansion_path(self, history: Sequence[TrialRecord]) -> list[PathStep]:
        return self._replay(history).path

    def planned_costs(self, history: Sequence[TrialRecord]) -> list[int]:
        """Pending candidates, then about 2x compute per further step and one contraction at the target."""
        replay = self._replay(history)
        if replay.finished:
            return []
        costs = [self.cost(p.point) for p in replay.proposals]
        if (
            replay.current is not None
        ):  # mid-step: the pending candidates cost about one step more than the current model
            growth = self._growth_per_step(replay.current)
            step_cost = growth * self.cost(replay.current)
        elif replay.proposals and replay.proposals[0].attrs.get("role") == "base":
            growth = self._growth_per_step(self.space.base)
            step_cost = self.cost(self.space.base)
        else:
            return costs  # a contraction: the last training
        operations = len(self.space.operations)
        while step_cost <= self.target:
            step_cost *= growth
            costs += [step_cost] * operations
        costs.append(self.target)
        return costs

    def _growth_per_step(self, point: Point) -> float:
        """What one step multiplies the cost by: 2 for MACs; for another cost (latency), the candidates' median ratio.

        Latency grows far less than MACs per expansion (per-layer overhead does
        not double), so assuming 2x would plan too few steps and, through the
        plan, give open-ended strategies too small a default budget.
        """
        if self._cost_doubles:
            return 2.0
        here = self.cost_of(point)
        ratios = sorted(
            self.cost_of(self.space.expand(point, op)) / here
            for op in self.space.operations
            if self.space.can_expand(point, op)
        )
        return max(MIN_GROWTH_PER_STEP, ratios[len(ratios) // 2]) if ratios else 2.0

    def chosen(self, history: Sequence[TrialRecord]) -> Point | None:
        """The model the search ends on: the contraction, or the last expansion within the target.

        A path point whose training failed (a diverged base network) is no model: None then.
        """
        complete = {record.point for record in history if record.state == COMPLETE}
        within = [s for s in self._replay(history).path if s.role != "overshoot" and s.point in complete]
        return within[-1].point if within else None

    # -- replaying the search ---------------------------------------------------------
    def _replay(self, history: Sequence[TrialRecord]) -> _Replay:
        settled = {record.point: record for record in history if record.settled}
        running = {record.point for record in history if record.state == RUNNING}

        def need(point: Point, attrs: dict) -> list[Proposal]:
            return [] if point in running else [Proposal(point, attrs)]

        base = self.space.base
        if base not in settled:
            return _Replay([], need(base, {"step": 0, "role": "base"}), False)
        path = [PathStep(0, None, base, "base")]
        if settled[base].state != COMPLETE:
            return _Replay(path, [], True)  # the base itself failed: nothing to expand from
        current, step = base, 0
        while True:
            candidates = self.space.expansions(current)
            if not candidates:
                return _Replay(path, [], True)  # every ladder is at its end
            step += 1
            missing = [(op, point) for op, point in candidates.items() if point not in settled]
            if missing:
                attrs = lambda op: {"step": step, "role": "candidate", "operation": op, "parent": current.key}  # noqa: E731
                return _Replay(path, [p for op, point in missing for p in need(point, attrs(op))], False, current)
            decision = self._decide(current, candidates, settled)
            if decision.more_runs or decision.waiting:
                return _Replay(path, list(decision.more_runs), False, current)  # seeds in training: wait for them
            operation = decision.operation
            if operation is None:
                return _Replay(path, [], True)  # every candidate failed
            winner = candidates[operation]
            if self.cost(winner) <= self.target:
                path.append(PathStep(step, operation, winner, "expansion", candidates, decision))
                current = winner
                continue
            path.append(PathStep(step, operation, winner, "overshoot", candidates, decision))
            fitting = next(
                (p for p in self.space.contractions(winner, operation) if self.cost(p) <= self.target), current
            )
            if fitting == current:
                return _Replay(path, [], True)  # no point between the two fits: keep the current model
            if fitting not in settled:
                return _Replay(
                    path,
                    need(fitting, {"step": step, "role": "contraction", "operation": operation, "parent": current.key}),
                    False,
                )  # grows, as a smaller step
            path.append(PathStep(step, operation, fitting, "contraction"))
            return _Replay(path, [], True)

    def _scores(
        self, current: Point, candidates: Mapping[str, Point], settled: Mapping[Point, TrialRecord]
    ) -> list[tuple[float, float | None, str]]:
        """(score, its standard error or None, operation) of every completed candidate."""
        base_record = settled[current]
        scored = []
        for op, point in candidates.items():
            record = settled[point]
            if record.state != COMPLETE or record.accuracy is None:
                continue
            se = noise_of(record, self.seed_spread)
            if self.selection == "accuracy":
                scored.append((record.accuracy, se, op))
            else:
                added = max(record.cost - base_record.cost, 1)
                base_se = noise_of(base_record, self.seed_spread)
                both = None if se is None or base_se is None else (se**2 + base_se**2) ** 0.5
                scored.append(
                    (
                        (record.accuracy - (base_record.accuracy or 0.0)) / added,
                        None if both is None else both / added,
                        op,
                    )
                )
        return scored

    def _decide(
        self, current: Point, candidates: Mapping[str, Point], settled: Mapping[Point, TrialRecord]
    ) -> Decision:
        """The step's winner: the best score, unless the runner-up is within the noise (then the tie rule)."""
        order = {op.name: i for i, op in enumerate(self.space.operations)}
        scored = self._scores(current, candidates, settled)
        if not scored:
            return Decision(None)

        def rank(item: tuple[float, float | None, str]) -> tuple:
            score, _, op = item
            return (score, -settled[candidates[op]].cost, -order.get(op, 0))

        scored.sort(key=rank, reverse=True)
        best = scored[0]
        if len(scored) == 1:
            return Decision(best[2], outcome="only candidate")
        runner_up = scored[1]
        margin = best[0] - runner_up[0]
        if best[1] is None or runner_up[1] is None:  # no measured error: the best score wins, as it always did
            return Decision(best[2], margin=margin, outcome="no error measured")
        noise = (best[1] ** 2 + runner_up[1] ** 2) ** 0.5
        tied = tuple(
            op
            for score, se, op in scored
            if se is not None and best[0] - score <= self.tie_sigmas * (best[1] ** 2 + se**2) ** 0.5
        )
        if len(tied) < 2:
            return Decision(best[2], margin=margin, noise=noise, rule=self.tie_rule, outcome="separated")
        if self.tie_rule == "reseed":
            more, waiting = self._more_runs(tied, candidates, settled)
            if more or waiting:
                return Decision(None, margin, noise, tied, self.tie_rule, "more seeds", tuple(more), waiting)
        if self.tie_rule == "best":
            return Decision(best[2], margin, noise, tied, self.tie_rule, "best of tied")
        score_of = {op: score for score, _, op in scored}
        cheapest = min(tied, key=lambda op: (settled[candidates[op]].cost, -score_of[op], order.get(op, 0)))
        return Decision(cheapest, margin, noise, tied, self.tie_rule, "cheaper of tied")

    def _more_runs(
        self, tied: Sequence[str], candidates: Mapping[str, Point], settled: Mapping[Point, TrialRecord]
    ) -> tuple[list[Proposal], bool]:
        """The next seed of every tied candidate below ``tie_max_runs`` runs; and whether seeds are still training."""
        more, waiting = [], False
        for op in tied:
            record = settled[candidates[op]]
            pending = tuple(record.attrs.get("pending_repeats", ()))
            waiting = waiting or bool(pending)
            done = list(record.attrs.get("repeats_done", [0]))
            if len(done) + len(pending) >= self.tie_max_runs:
                continue
            repeat = max([*done, *pending]) + 1
            more.append(
                Proposal(
                    candidates[op],
                    {
                        "step": record.attrs.get("step"),
                        "role": "candidate",
                        "operation": op,
                        "repeat": repeat,
                        "tie_break": True,
                        **({"parent": record.attrs["parent"]} if "parent" in record.attrs else {}),
                    },
                )
            )
        return more, waiting
