"""Seeds beyond the plan, for ``--target``: one endless sequence, the same for the same seed.

Round ``r`` (1, 2, ...) holds, in this order:

- new walks: seeded random walks over the diagram, one step longer each round up to twice
  ``walk.max_path_length``, that visit a part of it (a set of entities and relationships) no
  earlier context visits, each with ``s_factor`` draws per seed direction;
- new draws: every context known before the round, once more per seed direction and ``s_factor``
  (the jobs a larger ``s_factor`` would plan, so raising ``--s-factor`` later reuses them).

The engine takes a prefix of this sequence, as much as the target needs; a rerun with the same
``--seed`` walks the same sequence, so the jobs it already finished are found in the journal.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

from janus_core.plan.graph import SeedContext, build_graph, by_random_walk, describe
from janus_core.plan.jobs import Job, Plan


def signature(context: SeedContext) -> tuple[frozenset, frozenset]:
    """What part of the diagram a context visits, whatever walk found it."""
    return frozenset(context.entities), frozenset(context.edges)


class Extension:
    """Further seed jobs for a plan (none for a plan of given records: those only grow)."""

    def __init__(self, plan: Plan, walks_per_round: int | None = None):
        self.plan = plan
        self.graph = build_graph(plan.spec.diagram)
        #: walks tried per round: as many as the plan has contexts, at least 8
        self.walks_per_round = walks_per_round or max(8, len(plan.contexts))
        #: contexts found by further walks so far, and whether the last round found any
        self.walked = 0
        self.last_round_walks = 0
        self.rounds = 0

    @property
    def possible(self) -> bool:
        return not self.plan.given and bool(self.plan.seed_directions) and self.plan.setup.s_factor > 0

    def _walks(self, round_no: int, seen: set) -> list[SeedContext]:
        w = self.plan.setup.walk
        seed = random.Random(f"{self.plan.seed}|walks|{round_no}").randrange(2**63)
        found = []
        length = min(w.max_path_length + round_no, 2 * w.max_path_length)
        for ctx in by_random_walk(self.graph, random_walks=self.walks_per_round, max_path_length=length, seed=seed):
            sig = signature(ctx)
            if sig in seen:
                continue
            seen.add(sig)
            edges = tuple(dict.fromkeys(ctx.edges))  # a walk may go back along a relationship
            found.append(replace(ctx, id=f"walk{round_no}" + ctx.id.removeprefix("random"), edges=edges,
                                 description=describe(self.graph, ctx.entities, edges)))
        return found

    def jobs(self) -> Iterator[Job]:
        """The further seed jobs, round after round, without end (the engine bounds them)."""
        if not self.possible:
            return
        plan = self.plan
        s = plan.setup.s_factor
        # each context with the round it joined: round 0 is the plan's own
        known: list[tuple[SeedContext, int]] = [(ctx, 0) for ctx in plan.contexts]
        seen = {signature(ctx) for ctx in plan.contexts}
        round_no = 0
        while True:
            round_no += 1
            walks = self._walks(round_no, seen)
            self.rounds, self.last_round_walks = round_no, len(walks)
            self.walked += len(walks)
            for ctx in walks:
                for d in plan.seed_directions:
                    for i in range(s):
                        yield Job(f"seed|{ctx.id}|{d.name}|{i}", ctx, d)
            for ctx, joined in known:
                draw = (round_no - joined) * s
                for d in plan.seed_directions:
                    for i in range(draw, draw + s):
                        yield Job(f"seed|{ctx.id}|{d.name}|{i}", ctx, d)
            known += [(ctx, round_no) for ctx in walks]
