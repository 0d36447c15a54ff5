"""The README's exception tree is the code's: one module defines every class, each under
the parent the README draws, and nothing the module defines is left out of the picture."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import bot
import bot.agent.errors
import escalation.config
import escalation.notifier
import escalation.pagerduty
from store import errors

README = Path(__file__).parents[1] / "README.md"
BRANCH = re.compile(r"^(?P<indent>[│ ]*)[├└]── (?P<names>\w+(?: / \w+)*)")


def readme_tree() -> dict[str, str]:
    """``name → parent`` as the README draws it."""
    text = README.read_text()
    block = text[text.index("```\nSignoffError\n") + 4:]
    block = block[:block.index("```")]
    parents: dict[str, str] = {}
    stack = ["SignoffError"]
    for line in block.splitlines()[1:]:
        match = BRANCH.match(line)
        assert match, f"unreadable line in the README's tree: {line!r}"
        depth = len(match["indent"]) // 4
        del stack[depth + 1:]
        names = match["names"].split(" / ")
        for name in names:
            parents[name] = stack[depth]
        stack.append(names[-1])
    return parents


def test_every_class_sits_where_the_readme_draws_it() -> None:
    tree = readme_tree()
    assert len(tree) >= 25
    for name, parent in tree.items():
        cls = getattr(errors, name)
        assert cls.__module__ == "store.errors", name
        assert cls.__bases__ == (getattr(errors, parent),), (name, parent)


def test_the_readme_draws_every_class_the_module_defines() -> None:
    defined = {name for name, cls in vars(errors).items()
               if inspect.isclass(cls) and issubclass(cls, errors.SignoffError)
               and cls.__module__ == "store.errors"}
    assert defined - {"SignoffError"} == set(readme_tree())


def test_the_old_homes_hand_on_the_same_classes() -> None:
    assert bot.ApprovalRejected is bot.agent.errors.ApprovalRejected is errors.ApprovalRejected
    assert escalation.config.ConfigInvalid is errors.ConfigInvalid
    assert escalation.notifier.DeliveryError is errors.DeliveryError
    assert escalation.pagerduty.ImportProblem is errors.ImportProblem
