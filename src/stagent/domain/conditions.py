"""Step conditions: a small expression language a workflow step's ``condition`` is written in.

A condition is read, never evaluated as code (no ``eval``). Grammar::

    condition  := any ("or" any)*
    any        := all ("and" all)*            -- "and" binds tighter than "or"
    all        := "not" all | "(" condition ")" | comparison
    comparison := ref OP value
    ref        := "previous." FIELD | "steps." STEP_ID "." FIELD
    FIELD      := "output" | "status"
    OP         := "==" | "!=" | "contains" | "not contains"
    value      := "double-quoted" | 'single-quoted' | bare_word   (letters, digits, - and _)

``previous`` is the step that ended just before this one started (in a sequence, the step
before it); ``steps.<id>`` names any step of the workflow. A step that has not run has status
``pending`` and an empty output; before the first step, ``previous.status`` is ``none``.
``contains`` ignores case; ``==`` and ``!=`` compare exactly (outputs with surrounding blank
space trimmed). Statuses are ``completed``, ``failed``, ``skipped``, ``blocked``, ``pending``.

Examples::

    previous.output contains "LGTM"
    steps.review.status == completed and not steps.review.output contains "blocker"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FIELDS = ("output", "status")
OPERATORS = ("==", "!=", "contains", "not contains")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z0-9_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)
MAX_LENGTH = 2000


class ConditionError(ValueError):
    """A condition that does not parse; the message says where and what is expected."""


@dataclass(frozen=True, slots=True)
class Ref:
    """``previous.<field>`` (step None) or ``steps.<id>.<field>``."""

    step: str | None
    field: str

    def text(self) -> str:
        """As written."""
        return f"previous.{self.field}" if self.step is None else f"steps.{self.step}.{self.field}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """``ref OP value``."""

    ref: Ref
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    """``not <node>``."""

    node: Node


@dataclass(frozen=True, slots=True)
class Bool:
    """``and``/``or`` over two or more nodes."""

    op: str
    nodes: tuple[Node, ...]


Node = Comparison | Not | Bool


@dataclass(frozen=True, slots=True)
class StepFacts:
    """What a condition can read about one step."""

    status: str
    output: str = ""


NO_STEP = StepFacts("none")
NOT_RUN = StepFacts("pending")


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition."""

    text: str
    root: Node

    def steps(self) -> set[str]:
        """The step ids it names (``steps.<id>``)."""
        found: set[str] = set()

        def walk(node: Node) -> None:
            if isinstance(node, Comparison):
                if node.ref.step is not None:
                    found.add(node.ref.step)
            elif isinstance(node, Not):
                walk(node.node)
            else:
                for child in node.nodes:
                    walk(child)

        walk(self.root)
        return found

    def holds(self, previous: StepFacts | None, steps: Mapping[str, StepFacts]) -> bool:
        """Evaluate against the facts of the run so far."""

        def fact(ref: Ref) -> str:
            facts = (previous or NO_STEP) if ref.step is None else steps.get(ref.step, NOT_RUN)
            return facts.status if ref.field == "status" else (facts.output or "")

        return _evaluate(self.root, fact)

    def explain(self, previous: StepFacts | None, steps: Mapping[str, StepFacts]) -> str:
        """Why it does not hold: the condition and the values it read."""
        refs: dict[str, str] = {}

        def collect(node: Node) -> None:
            if isinstance(node, Comparison):
                facts = (
                    (previous or NO_STEP)
                    if node.ref.step is None
                    else steps.get(node.ref.step, NOT_RUN)
                )
                value = facts.status if node.ref.field == "status" else (facts.output or "")
                shown = value if len(value) <= 60 else value[:59] + "…"
                refs[node.ref.text()] = shown
            elif isinstance(node, Not):
                collect(node.node)
            else:
                for child in node.nodes:
                    collect(child)

        collect(self.root)
        values = ", ".join(f"{k} = {v!r}" for k, v in refs.items())
        return f"condition `{self.text}` is false ({values})"


def _evaluate(node: Node, fact: Callable[[Ref], str]) -> bool:
    if isinstance(node, Comparison):
        actual = fact(node.ref)
        if node.op == "contains":
            return node.value.casefold() in actual.casefold()
        if node.op == "not contains":
            return node.value.casefold() not in actual.casefold()
        same = actual.strip() == node.value.strip()
        return same if node.op == "==" else not same
    if isinstance(node, Not):
        return not _evaluate(node.node, fact)
    results = (_evaluate(child, fact) for child in node.nodes)
    return all(results) if node.op == "and" else any(results)


def parse_condition(text: str) -> Condition:
    """Parse a condition; raises `ConditionError` naming the position and what was expected."""
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"is longer than {MAX_LENGTH} characters")
    tokens = _tokenize(text)
    if not tokens:
        raise ConditionError('is empty; write e.g. previous.output contains "done"')
    parser = _Parser(tokens)
    root = parser.disjunction()
    if parser.pos < len(tokens):
        raise ConditionError(f"unexpected {tokens[parser.pos][1]!r} after a complete condition")
    return Condition(text, root)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            bad = text[pos:].lstrip()[:1]
            raise ConditionError(
                f"cannot read {bad!r} at character {len(text) - len(text[pos:].lstrip()) + 1}"
            )
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def disjunction(self) -> Node:
        nodes = [self.conjunction()]
        while self.keyword("or"):
            nodes.append(self.conjunction())
        return nodes[0] if len(nodes) == 1 else Bool("or", tuple(nodes))

    def conjunction(self) -> Node:
        nodes = [self.negation()]
        while self.keyword("and"):
            nodes.append(self.negation())
        return nodes[0] if len(nodes) == 1 else Bool("and", tuple(nodes))

    def negation(self) -> Node:
        if self.keyword("not"):
            return Not(self.negation())
        token = self.peek()
        if token == ("paren", "("):
            self.pos += 1
            node = self.disjunction()
            if self.peek() != ("paren", ")"):
                raise ConditionError("a '(' is never closed; add ')'")
            self.pos += 1
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        ref = self.ref()
        op = self.operator()
        token = self.peek()
        if token is None or token[0] not in ("string", "word"):
            raise ConditionError(f"`{ref.text()} {op}` needs a value: a quoted text or a word")
        self.pos += 1
        return Comparison(ref, op, token[1])

    def ref(self) -> Ref:
        token = self.peek()
        if token is None or token[0] != "word":
            shown = "the end" if token is None else repr(token[1])
            raise ConditionError(
                f"expected previous.output, previous.status, steps.<id>.output or "
                f"steps.<id>.status, found {shown}"
            )
        self.pos += 1
        parts = token[1].split(".")
        if len(parts) == 2 and parts[0] == "previous" and parts[1] in FIELDS:
            return Ref(None, parts[1])
        if len(parts) == 3 and parts[0] == "steps" and parts[2] in FIELDS and parts[1]:
            return Ref(parts[1], parts[2])
        raise ConditionError(
            f"{token[1]!r} is not something a condition can read; use previous.output, "
            "previous.status, steps.<id>.output or steps.<id>.status"
        )

    def operator(self) -> str:
        token = self.peek()
        if token is not None and token[0] == "op":
            self.pos += 1
            return token[1]
        if self.keyword("contains"):
            return "contains"
        if self.keyword("not"):
            if self.keyword("contains"):
                return "not contains"
            raise ConditionError("after 'not' a comparison expects 'contains'")
        shown = "the end" if token is None else repr(token[1])
        raise ConditionError(f"expected ==, !=, contains or not contains, found {shown}")
