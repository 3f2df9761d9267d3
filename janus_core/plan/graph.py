"""Diagram -> networkx graph, and walks over it that become seed contexts.

Entities are nodes; relationships are edges of a ``MultiDiGraph`` (left -> right) keyed by their
index in the diagram. A walk strategy picks a sub-graph; each pick is a ``SeedContext`` carrying
the sub-graph in plain words. The default plan covers every entity and relationship.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from janus_core.spec.diagram import Diagram, cardinality_phrase
from janus_core.spec.model import DEFAULT_STRATEGIES

if TYPE_CHECKING:
    from janus_core.spec.model import Spec

Edge = tuple[str, str, int]


def edge_label(edge: Edge) -> str:
    """A relationship as records name it in ``walk.relationships``: ``LEFT->RIGHT#INDEX``."""
    u, v, k = edge
    return f"{u}->{v}#{k}"


def edge_labels(graph: nx.MultiDiGraph) -> list[str]:
    return [edge_label(e) for e in graph.edges(keys=True)]


@dataclass(frozen=True)
class Fact:
    """One fact of a walk, for the side of a conversation that should know it.

    ``kind``: ``attribute`` (an attribute's note), ``detail`` (a ``%% Key: Value`` comment), ``note``
    (a ``%%`` comment without a key), ``relationship`` (a labelled link), ``name`` (an attribute with no
    note). ``topic`` is what someone would ask about ("the renewals of a loan"); ``owner`` the entity
    the fact belongs to (the relationship's left entity for a link)."""

    kind: str
    owner: str
    topic: str
    text: str

    @property
    def strong(self) -> bool:
        """A fact with content of its own (a note, a detail), not only a name."""
        return self.kind in ("attribute", "detail", "note")


@dataclass(frozen=True)
class SeedContext:
    """A walked part of the graph, ready to be rendered into a seed prompt."""

    id: str
    strategy: str
    entities: tuple[str, ...]
    edges: tuple[Edge, ...]
    description: str
    #: the walk's facts one by one, for prompts that give each side what it should know
    facts: tuple[Fact, ...] = ()

    def provenance(self) -> dict:
        return {"id": self.id, "strategy": self.strategy, "entities": list(self.entities),
                "relationships": [edge_label(e) for e in self.edges]}


def build_graph(diagram: Diagram) -> nx.MultiDiGraph:
    """Entities as nodes (with attributes, details, notes); relationships as keyed edges."""
    graph = nx.MultiDiGraph(title=diagram.title)
    for e in diagram.entities.values():
        graph.add_node(e.name, alias=e.alias, attributes=e.attributes, details=e.details, notes=e.notes)
    for i, r in enumerate(diagram.relationships):
        graph.add_edge(r.left, r.right, key=i, label=r.label, identifying=r.identifying,
                       left_cardinality=r.left_cardinality, right_cardinality=r.right_cardinality,
                       details=r.details, notes=r.notes)
    return graph


# --- plain words -------------------------------------------------------------------------------

def _label(graph: nx.MultiDiGraph, node: str) -> str:
    alias = graph.nodes[node].get("alias")
    return f"{alias} ({node})" if alias else node


def _extras(details: dict[str, str], notes: list[str]) -> str:
    parts = [f"{k}: {v}" for k, v in details.items()] + list(notes)
    return "; ".join(parts)


def describe_entity(graph: nx.MultiDiGraph, node: str) -> str:
    data = graph.nodes[node]
    text = f"- {_label(graph, node)}"
    attrs = []
    for a in data.get("attributes", []):
        keys = {"PK": "primary key", "FK": "foreign key", "UK": "unique"}
        bits = [a.type] + [keys.get(k, k) for k in a.keys]
        attrs.append(f"{a.name} ({', '.join(bits)})" + (f": {a.comment}" if a.comment else ""))
    if attrs:
        text += " has " + "; ".join(attrs)
    extras = _extras(data.get("details", {}), data.get("notes", []))
    if extras:
        text += f". Details: {extras}"
    return text


def describe_edge(graph: nx.MultiDiGraph, edge: Edge) -> str:
    u, v, k = edge
    d = graph.edges[u, v, k]
    verb = d["label"] or "is related to"
    text = (f"- {u} {verb} {v}: each {u} is linked to {cardinality_phrase(d['right_cardinality'])} "
            f"{v}, and each {v} to {cardinality_phrase(d['left_cardinality'])} {u}")
    if not d["identifying"]:
        text += " (a loose, non-identifying link)"
    extras = _extras(d.get("details", {}), d.get("notes", []))
    if extras:
        text += f". Details: {extras}"
    return text


def describe(graph: nx.MultiDiGraph, entities: tuple[str, ...], edges: tuple[Edge, ...],
             focus: str | None = None) -> str:
    lines = [f"Seen from {_label(graph, focus)}: its situation and everything it relates to."] if focus else []
    lines += ["Entities:"] + [describe_entity(graph, n) for n in entities]
    if edges:
        lines += ["Relationships:"] + [describe_edge(graph, e) for e in edges]
    return "\n".join(lines)


def plain(name: str) -> str:
    """An entity or attribute name in plain words: MEDICATION_ORDER -> medication order, HomeVisit ->
    home visit, due_date -> due date."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.replace("_", " ").replace("-", " "))
    return " ".join(spaced.lower().split())


def plural(noun: str) -> str:
    """A plain English plural, enough for entity names: loan -> loans, policy -> policies."""
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def _counted(cardinality: str, noun: str) -> str:
    phrase = cardinality_phrase(cardinality)
    return f"{phrase} {plural(noun) if 'more' in phrase else noun}"


def _detail_topic(key: str, subject: str) -> str:
    """What a ``%% Key: value`` detail is about: its key, with its subject when the key is one word
    ("the channel for appointments"; "junior members" as it is)."""
    key = plain(key)
    return key if " " in key else f"the {key} for {plural(subject)}"


def _sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def facts_of(graph: nx.MultiDiGraph, nodes: tuple[str, ...], edges: tuple[Edge, ...]) -> tuple[Fact, ...]:
    """The facts of a walk, one sentence each: every walked entity's attribute notes, ``%%`` details
    and notes, then the walked relationships with theirs, then attributes that have only a name."""
    found: list[Fact] = []
    names: list[Fact] = []
    for node in nodes:
        data = graph.nodes[node]
        owner = plain(node)
        for a in data.get("attributes", []):
            attr = plain(a.name)
            topic = f"the {attr} of a {owner}"
            if a.comment:
                found.append(Fact("attribute", node, topic, _sentence(f"The {attr} of a {owner}: {a.comment}")))
            elif not set(a.keys) & {"PK", "FK"}:
                names.append(Fact("name", node, topic, _sentence(f"A {owner} has a {attr}")))
        for key, value in data.get("details", {}).items():
            found.append(Fact("detail", node, _detail_topic(key, owner), _sentence(f"{key}: {value}")))
        for note in data.get("notes", []):
            found.append(Fact("note", node, plural(owner), _sentence(note)))
    for u, v, k in edges:
        d = graph.edges[u, v, k]
        verb = d["label"] or "is related to"
        found.append(Fact("relationship", u, f"{plain(u)} and {plain(v)}",
                          _sentence(f"A {plain(u)} {verb} {_counted(d['right_cardinality'], plain(v))}, and each "
                                    f"{plain(v)} has {_counted(d['left_cardinality'], plain(u))}")))
        for key, value in d.get("details", {}).items():
            found.append(Fact("detail", u, _detail_topic(key, plain(v)), _sentence(f"{key}: {value}")))
        for note in d.get("notes", []):
            found.append(Fact("note", u, f"{plain(u)} and {plain(v)}", _sentence(note)))
    return tuple(found + names)


def _context(graph: nx.MultiDiGraph, cid: str, strategy: str, nodes, edges, focus: str | None = None) -> SeedContext:
    nodes = tuple(dict.fromkeys(nodes))
    edges = tuple(edges)
    return SeedContext(cid, strategy, nodes, edges, describe(graph, nodes, edges, focus),
                       facts_of(graph, nodes, edges))


# --- strategies --------------------------------------------------------------------------------

def _incident(graph: nx.MultiDiGraph, node: str) -> list[Edge]:
    out = [(node, v, k) for _, v, k in graph.out_edges(node, keys=True)]
    inc = [(u, node, k) for u, _, k in graph.in_edges(node, keys=True) if u != node]
    return sorted(out + inc, key=lambda e: e[2])


def _other(edge: Edge, node: str) -> str:
    return edge[1] if edge[0] == node else edge[0]


def by_relationship(graph: nx.MultiDiGraph, **_: object) -> Iterator[SeedContext]:
    for u, v, k in sorted(graph.edges(keys=True), key=lambda e: e[2]):
        yield _context(graph, f"relationship:{u}->{v}#{k}", "relationship", (u, v), [(u, v, k)])


def by_neighbourhood(graph: nx.MultiDiGraph, **_: object) -> Iterator[SeedContext]:
    for node in graph.nodes:
        edges = _incident(graph, node)
        yield _context(graph, f"neighbourhood:{node}", "neighbourhood",
                       [node] + [_other(e, node) for e in edges], edges, focus=node)


def by_path(graph: nx.MultiDiGraph, max_path_length: int = 3, max_contexts: int = 200,
            **_: object) -> Iterator[SeedContext]:
    """Simple paths of 2..max_path_length relationships, ignoring direction, each once."""
    seen: set[tuple] = set()
    count = 0

    def extend(nodes: list[str], edges: list[Edge]) -> Iterator[tuple[list[str], list[Edge]]]:
        if len(edges) >= 2:
            yield nodes, edges
        if len(edges) == max_path_length:
            return
        for e in _incident(graph, nodes[-1]):
            nxt = _other(e, nodes[-1])
            if nxt not in nodes:
                yield from extend([*nodes, nxt], [*edges, e])

    for start in graph.nodes:
        for nodes, edges in extend([start], []):
            key = tuple(e[2] for e in edges)
            if key[::-1] in seen:
                continue
            seen.add(key)
            yield _context(graph, "path:" + ">".join(nodes), "path", nodes, edges)
            count += 1
            if count >= max_contexts:
                return


def by_random_walk(graph: nx.MultiDiGraph, random_walks: int = 0, max_path_length: int = 3,
                   seed: int = 0, **_: object) -> Iterator[SeedContext]:
    """``random_walks`` seeded walks of up to ``max_path_length`` steps."""
    rng = random.Random(seed)
    nodes = list(graph.nodes)
    for i in range(random_walks):
        walk = [rng.choice(nodes)]
        edges: list[Edge] = []
        for _ in range(max_path_length):
            choices = _incident(graph, walk[-1])
            if not choices:
                break
            e = rng.choice(choices)
            edges.append(e)
            walk.append(_other(e, walk[-1]))
        yield _context(graph, f"random:{i}:" + ">".join(walk), "random", walk, edges)


WALKERS: dict[str, Callable[..., Iterator[SeedContext]]] = {
    "relationship": by_relationship,
    "neighbourhood": by_neighbourhood,
    "path": by_path,
    "random": by_random_walk,
}


def plan(graph: nx.MultiDiGraph, strategies: tuple[str, ...] | list[str] = DEFAULT_STRATEGIES,
         max_path_length: int = 3, random_walks: int = 0, seed: int = 0,
         cover: bool = True) -> list[SeedContext]:
    """Seed contexts from the chosen strategies; with ``cover``, add what they left unvisited."""
    contexts: list[SeedContext] = []
    for name in strategies:
        contexts += WALKERS[name](graph, max_path_length=max_path_length,
                                  random_walks=random_walks, seed=seed)
    if cover:
        seen_nodes = {n for c in contexts for n in c.entities}
        seen_edges = {e for c in contexts for e in c.edges}
        contexts += [c for c in by_relationship(graph) if c.edges[0] not in seen_edges]
        seen_nodes |= {n for c in contexts for n in c.entities}
        contexts += [c for c in by_neighbourhood(graph) if c.entities[0] not in seen_nodes]
    unique = {c.id: c for c in contexts}
    return list(unique.values())


def seed_contexts(spec: Spec, seed: int = 0, graph: nx.MultiDiGraph | None = None) -> list[SeedContext]:
    """The seed contexts of a spec: its diagram walked as setup.yaml's ``walk:`` says, with ``seed``
    for random walks (``graph``: the spec's graph when the caller has built it already)."""
    w = spec.setup.walk
    graph = build_graph(spec.diagram) if graph is None else graph
    return plan(graph, w.strategies, w.max_path_length, w.random_walks, seed, w.cover)


def coverage(graph: nx.MultiDiGraph, contexts: list[SeedContext]) -> tuple[set[str], set[Edge]]:
    """Entities and relationships no context visits."""
    nodes = set(graph.nodes) - {n for c in contexts for n in c.entities}
    edges = set(graph.edges(keys=True)) - {e for c in contexts for e in c.edges}
    return nodes, edges


def layout(graph: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    """Node positions that keep entities apart: Kamada-Kawai (graph distances become drawing
    distances) on a spring start, scaled so the closest two nodes are 1.5 apart."""
    if graph.number_of_nodes() == 0:
        return {}
    if graph.number_of_nodes() == 1:
        return {next(iter(graph.nodes)): (0.0, 0.0)}
    simple = nx.Graph(graph.to_undirected())
    start = nx.spring_layout(simple, seed=7, k=2.0 / max(graph.number_of_nodes(), 1) ** 0.5)
    try:
        pos = nx.kamada_kawai_layout(simple, pos=start)
    except (ImportError, nx.NetworkXException):  # kamada_kawai needs scipy
        pos = start
    points = {n: (float(x), float(y)) for n, (x, y) in pos.items()}
    nearest = min(((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 for i, (ax, ay) in enumerate(points.values())
                  for (bx, by) in list(points.values())[i + 1:])
    scale = 1.5 / max(nearest, 1e-6)
    return {n: (x * scale, y * scale) for n, (x, y) in points.items()}


def figure(graph: nx.MultiDiGraph) -> object:
    """A matplotlib figure of the graph: entities as labelled boxes, each relationship as its own
    arrow (parallel ones curved apart) with its full label and cardinalities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    pos = layout(graph)
    xs, ys = [p[0] for p in pos.values()] or [0.0], [p[1] for p in pos.values()] or [0.0]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    # 1.6 inches per unit on both axes: arc3 bends in display space, so it must scale like data space
    fig, ax = plt.subplots(figsize=(1.6 * (width + 2.4), 1.6 * (height + 2.0) + 0.5))
    ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.set_aspect("equal", adjustable="box")
    box = {"boxstyle": "round,pad=0.5", "facecolor": "#cfe3ff", "edgecolor": "#335"}
    nodes = {n: ax.text(x, y, n, ha="center", va="center", fontsize=9, bbox=box, zorder=3, gid=f"node:{n}")
             for n, (x, y) in pos.items()}
    pairs: dict[frozenset[str], int] = {}
    for u, v, _k, d in graph.edges(keys=True, data=True):
        pair = frozenset((u, v))
        nth = pairs[pair] = pairs.get(pair, -1) + 1
        (x1, y1), (x2, y2) = pos[u], pos[v]
        if u == v:  # a loop above the entity, each further one larger
            rad = -1.6 - 0.5 * nth
            (x1, y1), (x2, y2) = (x1 - 0.25, y1 + 0.15), (x1 + 0.25, y1 + 0.15)
            ends = {}
        else:  # parallel relationships bend apart, on alternate sides of the pair's line
            rad = 0.0 if nth == 0 else (0.4 * ((nth + 1) // 2)) * (1 if nth % 2 else -1)
            rad = rad if u < v else -rad  # the same side whichever way an edge points
            ends = {"patchA": nodes[u].get_bbox_patch(), "patchB": nodes[v].get_bbox_patch()}
        arrow = FancyArrowPatch((x1, y1), (x2, y2), connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                mutation_scale=14, color="#555", linestyle="-" if d["identifying"] else "--",
                                zorder=1, **ends)
        ax.add_patch(arrow)
        # the label sits on the curve's middle: arc3 bends by rad times the chord, at right angles to it
        mx, my = (x1 + x2) / 2 + rad / 2 * (y2 - y1), (y1 + y2) / 2 - rad / 2 * (x2 - x1)
        text = f"{d['label']}\n({cardinality_phrase(d['left_cardinality'])} to " \
               f"{cardinality_phrase(d['right_cardinality'])})"
        ax.text(mx, my, text, ha="center", va="center", fontsize=7, zorder=2, gid=f"edge:{u}->{v}#{_k}",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    ax.set_title(graph.graph.get("title") or "Janus diagram")
    ax.axis("off")
    fig.tight_layout()
    return fig


def draw_png(graph: nx.MultiDiGraph, path: str) -> None:
    """Draw the graph to a PNG with matplotlib (the 'plot' extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        from janus_core.sdk.errors import JanusError

        raise JanusError("--png needs matplotlib: pip install 'janus-data[plot]'") from exc
    import matplotlib.pyplot as plt

    fig = figure(graph)
    fig.savefig(path, dpi=120)
    plt.close(fig)
