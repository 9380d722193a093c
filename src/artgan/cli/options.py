"""Command-line options built from the config dataclasses, so each option is defined once.

A config field becomes an option when its ``metadata`` carries a ``cli`` entry (made with
:func:`artgan.config.cli_option`): the flag is the field name with dashes (``r1_gamma`` ->
``--r1-gamma``), the help text and choices come from the metadata, and the default shown
is the field's own. Options default to ``None`` in the parsed namespace, so
:func:`config_kwargs` passes on only what the user typed and the dataclass keeps its defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

# Option groups in the order `-h` shows them.
GROUPS = {
    "essential": "essential",
    "budget": "budget and output",
    "data": "training data",
    "advanced": "advanced",
    "experimental": "experimental (shown by --help-all)",
}

# The environment variable that shows experimental options in every -h.
EXPERIMENTAL_ENV = "ARTGAN_EXPERIMENTAL"


def show_all(argv: list[str]) -> bool:
    """True when experimental options should be listed (``--help-all`` or the env var)."""
    return "--help-all" in argv or os.environ.get(EXPERIMENTAL_ENV, "") not in ("", "0")


class Groups:
    """The argument groups of one subcommand, created on first use so empty ones never show."""

    def __init__(self, parser: argparse.ArgumentParser, show_experimental: bool) -> None:
        self.parser = parser
        self.show_experimental = show_experimental
        self._groups: dict[str, argparse._ArgumentGroup] = {}
        # Create the groups in display order (argparse lists them in creation order).
        for key in GROUPS:
            if key != "experimental" or show_experimental:
                self[key]

    def __getitem__(self, key: str) -> argparse._ArgumentGroup:
        if key not in self._groups:
            self._groups[key] = self.parser.add_argument_group(GROUPS[key])
        return self._groups[key]

    def hidden(self, key: str) -> bool:
        return key == "experimental" and not self.show_experimental


def _comma_list(text: str) -> tuple[str, ...]:
    """``"a,b"`` -> ("a", "b"); ``"none"`` -> ()."""
    if text.strip().lower() == "none":
        return ()
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _kind(f: dataclasses.Field) -> str:
    """The option's value kind from the field's annotation (a string under future annotations)."""
    ann = str(f.type).replace(" ", "")
    for kind in ("bool", "int", "float", "tuple", "str"):
        if ann.startswith(kind) or ann.startswith(f"Optional[{kind}"):
            return kind
    raise TypeError(f"no command-line kind for field {f.name} ({f.type})")


def _shown_default(f: dataclasses.Field, spec: dict[str, Any]) -> str:
    if spec.get("default_text"):
        return spec["default_text"]
    value = f.default if f.default is not dataclasses.MISSING else None
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_config_options(groups: Groups, cls: type, *, only: tuple[str, ...] | None = None) -> list[str]:
    """Add an option for each ``cli``-tagged field of dataclass ``cls`` to its group.

    Returns the destination names added (the field names). ``only`` restricts to those fields.
    """
    added = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("cli")
        if spec is None or (only is not None and f.name not in only):
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = _kind(f)
        group = spec.get("group", "advanced")
        text = f"{spec['help']} (default: {_shown_default(f, spec)})"
        kw: dict[str, Any] = {"dest": f.name, "default": None}
        kw["help"] = argparse.SUPPRESS if groups.hidden(group) else text.replace("%", "%%")
        if kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = {"int": int, "float": float, "tuple": _comma_list, "str": str}[kind]
            if spec.get("choices"):
                kw["choices"] = spec["choices"]
            kw["metavar"] = spec.get("metavar") or (
                "{" + ",".join(spec["choices"]) + "}" if spec.get("choices") else kind.upper()
            )
        groups[group].add_argument(flag, **kw)
        added.append(f.name)
    return added


def config_kwargs(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """{field: value} for the ``cli``-tagged fields of ``cls`` the user gave on the command line."""
    out = {}
    for f in dataclasses.fields(cls):
        if "cli" in f.metadata and getattr(args, f.name, None) is not None:
            out[f.name] = getattr(args, f.name)
    return out


def budget_config(args: argparse.Namespace, cls: type) -> Any:
    """``cls(**options the user gave).validate()`` for a minutes-or-steps recipe: ``--steps``
    alone sets a step budget (``minutes`` None), not steps on top of the default minutes."""
    kw = config_kwargs(args, cls)
    if kw.get("steps") is not None and "minutes" not in kw:
        kw["minutes"] = None
    return cls(**kw).validate()


def given_options(args: argparse.Namespace, names: list[str]) -> list[str]:
    """The flags among ``names`` (destinations) that the user set, as ``--flag`` strings."""
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) not in (None, False)]
