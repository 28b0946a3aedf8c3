"""The one error type users see: what is wrong, where, and what was expected."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "InputError",
    "Problem",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    Parameters
    ----------
    message : what is wrong, in words an analyst can act on.
    file : the file (or upload) it came from.
    feature : the feature's id or 0-based row number.
    field : the column (or ``"geometry"``).
    expected : what a valid value looks like.
    """

    message: str
    file: str | None = None
    feature: str | int | None = None
    field: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.feature is not None:
            where.append(f"feature {self.feature}")
        if self.field:
            where.append(f"field '{self.field}'")
        text = ", ".join(where)
        text = f"{text}: {self.message}" if text else self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return text


class InputError(ValueError):
    """Bad input, described well enough to fix it.

    Carries one or more :class:`Problem` s. ``str(err)`` lists them (the first
    ``MAX_SHOWN``, then a count of the rest), so a UI can show it as is.
    """

    MAX_SHOWN = 10

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        feature: str | int | None = None,
        field: str | None = None,
        expected: str | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        probs = list(problems or [])
        if message is not None:
            probs.insert(0, Problem(message, file, feature, field, expected))
        if not probs:
            probs = [Problem("invalid input", file)]
        self.problems: list[Problem] = probs
        super().__init__(self._render())

    # Convenience accessors for the first (usually only) problem.
    @property
    def file(self) -> str | None:
        return self.problems[0].file

    @property
    def feature(self) -> str | int | None:
        return self.problems[0].feature

    @property
    def field(self) -> str | None:
        return self.problems[0].field

    @property
    def expected(self) -> str | None:
        return self.problems[0].expected

    def _render(self) -> str:
        shown = [str(p) for p in self.problems[: self.MAX_SHOWN]]
        rest = len(self.problems) - len(shown)
        if rest > 0:
            shown.append(f"... and {rest} more problem(s)")
        if len(shown) == 1:
            return shown[0]
        return f"{len(self.problems)} problems:\n" + "\n".join(f"- {s}" for s in shown)
