"""Parameter schemas: the scales' presets, their precedence, and validation with one clear line.

Precedence (lowest first): the scale's preset < ``notebooks/params/<paper>.<scale>.yaml`` <
``-f file.yaml`` < ``-p name value`` (or a value set in the notebook's parameters cell).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import yaml

from .device import DEVICES
from .paths import repo_root

if TYPE_CHECKING:
    import torch

    from .record import Run

SCALES = ("smoke", "cpu", "full")
#: Names IPython puts in a notebook's namespace; never parameters.
KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


class ParameterError(ValueError):
    """A bad parameter: the message is one line naming the parameter and what it accepts."""


@dataclass(frozen=True)
class Param:
    """One knob: its type, a preset per scale (or one value for all), and what values are sane.

    ``path=True`` means an existing folder is required when the value is not ``None``.
    """

    name: str
    type: type
    preset: Any
    help: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    path: bool = False
    optional: bool = False  # None is a legal resolved value (e.g. "use the built-in miniature")
    weights: bool = False  # names pretrained weights (a path or hub id) that `paperlib doctor` looks for

    def preset_for(self, scale: str) -> Any:
        if isinstance(self.preset, Mapping):
            return self.preset[scale]
        return self.preset

    def expected(self) -> str:
        if self.choices is not None:
            what = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            what = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
                    list: "a list"}.get(self.type, self.type.__name__)
            if self.low is not None and self.high is not None:
                what += f" in [{self.low}, {self.high}]"
            elif self.low is not None:
                what += f" >= {self.low}"
            elif self.high is not None:
                what += f" <= {self.high}"
            if self.path:
                what = "an existing folder"
        if self.optional:
            what += " (or null)"
        return what

    def check(self, value: Any, paper: str) -> Any:
        """Return the value coerced to the declared type, or raise ``ParameterError``."""
        if value is None:
            if self.optional:
                return None
            raise self._error(paper, value)
        value = self._coerce(value, paper)
        if self.choices is not None and value not in self.choices:
            raise self._error(paper, value)
        if self.type in (int, float):
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise self._error(paper, value)
        if self.path and not Path(value).expanduser().is_dir():
            raise ParameterError(f"{paper}: parameter '{self.name}': expected an existing folder, "
                                 f"but {str(value)!r} does not exist or is not a folder")
        return value

    def _coerce(self, value: Any, paper: str) -> Any:
        if self.type is bool:
            if isinstance(value, bool):
                return value
        elif self.type is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
        elif self.type is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
        elif self.type is str:
            if isinstance(value, (str, Path)):
                return str(value)
        elif self.type is list:
            if isinstance(value, (list, tuple)):
                return list(value)
        raise self._error(paper, value)

    def _error(self, paper: str, value: Any) -> ParameterError:
        return ParameterError(f"{paper}: parameter '{self.name}': expected {self.expected()}, got {value!r}")


@dataclass(frozen=True)
class Check:
    """A cross-field rule declared on a schema: ``problem(params)`` returns None or the one-line problem
    (without the paper's name); ``example`` is a combination of ``-p`` values it refuses (the CLI tests
    run it for every chapter)."""

    problem: Callable[["Params"], str | None]
    example: Mapping[str, Any]

    def __call__(self, params: "Params") -> str | None:
        return self.problem(params)


class Params(Mapping):
    """The resolved, validated parameters of one run; read them as attributes (``p.steps``)."""

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str] | None = None):
        self._values = MappingProxyType(dict(values))
        self.sources = MappingProxyType(dict(sources or {}))  # name -> where its value came from

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Params(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"

    def markdown(self) -> str:
        """The resolved parameters as a compact table; values set for this run (not the scale's preset) in
        bold, with where they came from."""
        from .format import fmt_number

        rows = ["| parameter | value | from |", "|---|---|---|"]
        for name, value in self._values.items():
            source = self.sources.get(name, "preset")
            shown = f"`{fmt_number(value)}`"
            rows.append(f"| {name} | {shown if source == 'preset' else f'**{shown}**'} | {source} |")
        return "\n".join(rows)


def _common() -> tuple[Param, ...]:
    return (
        Param("scale", str, "cpu", "smoke (seconds, tests), cpu (the book), full (the paper, on GPUs)",
              choices=SCALES),
        Param("device", str, "auto", "where it runs: auto picks CUDA when present", choices=DEVICES),
        Param("seed", int, 0, "base random seed", low=0),
    )


@dataclass(frozen=True)
class Schema:
    """A paper's parameters. ``resolve`` applies the precedence and validates everything."""

    paper: str
    params: tuple[Param, ...]
    description: str = ""
    gpus_full: int = 1  # GPUs the full-scale run is written for (checked by `paperlib doctor`)
    time_full: str = "unknown"  # estimated wall time of the full-scale run, for `paperlib doctor`
    #: Cross-field checks, run by ``resolve`` (so ``paperlib run`` refuses a bad combination before launching).
    checks: tuple[Check, ...] = ()
    by_name: Mapping[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        all_params = _common() + tuple(self.params)
        names = [p.name for p in all_params]
        duplicated = {n for n in names if names.count(n) > 1}
        if duplicated:
            raise ValueError(f"{self.paper}: parameters declared twice: {sorted(duplicated)}")
        hidden = sorted(n for n in names if n == "sources" or hasattr(Params, n))
        if hidden:
            raise ValueError(f"{self.paper}: parameter names {hidden} are attributes of Params (p.{hidden[0]} would "
                             f"not read the parameter): rename them")
        object.__setattr__(self, "by_name", MappingProxyType({p.name: p for p in all_params}))

    def params_file(self, scale: str) -> Path:
        return repo_root() / "notebooks" / "params" / f"{self.paper}.{scale}.yaml"

    def read_file(self, path: str | Path) -> dict[str, Any]:
        path = Path(path)
        if not path.is_file():
            raise ParameterError(f"{self.paper}: parameter file {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ParameterError(f"{self.paper}: parameter file {str(path)!r} is not valid YAML: "
                                 f"{str(err).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ParameterError(f"{self.paper}: parameter file {str(path)!r} must hold a mapping "
                                 f"name: value, got {type(data).__name__}")
        return data

    def resolve(self, scale: str = "cpu", device: str = "auto", *, file: str | Path | None = None,
                **given: Any) -> Params:
        """Validated parameters for one run. ``None`` in ``given`` means "the scale's preset"."""
        self._reject_unknown(given, "")
        scale = self.by_name["scale"].check(scale, self.paper)
        layers: list[tuple[str, dict[str, Any]]] = []
        if self.params_file(scale).is_file():
            layers.append((f"notebooks/params/{self.params_file(scale).name}", self.read_file(self.params_file(scale))))
        if file is not None:
            layers.append((str(file), self.read_file(file)))
        layers.append(("set", {"device": device, **{k: v for k, v in given.items() if v is not None}}))
        values = {p.name: p.preset_for(scale) for p in self.by_name.values()}
        values["scale"] = scale
        sources = {"scale": "set"} if scale != "cpu" else {}
        for source, layer in layers:
            self._reject_unknown(layer, "" if source == "set" else " in a parameter file")
            if layer.get("scale", scale) != scale:
                raise ParameterError(f"{self.paper}: parameter 'scale': a file says {layer['scale']!r} "
                                     f"but the run is {scale!r}")
            values.update(layer)
            sources.update({k: source for k, v in layer.items() if v != self.by_name[k].preset_for(scale)})
        params = Params({name: self.by_name[name].check(value, self.paper) for name, value in values.items()},
                        sources)
        for check in self.checks:
            problem = check(params)
            if problem:
                raise ParameterError(f"{self.paper}: {problem}")
        return params

    def start(self, namespace: Mapping[str, Any]) -> tuple[Params, "Run", "torch.device"]:
        """The chapter contract: one call after the parameters cell.

        Resolves the schema's names found in ``namespace`` (the notebook's ``globals()``: its parameters
        cell and whatever papermill injected) plus its ``overrides`` dict, refuses any other plain value
        there as an unknown parameter, then sets torch's threads (``$PAPERLIB_THREADS``, default 1 on a
        CPU), the seeds and the plot style, opens the :class:`~paperlib.core.record.Run` and shows the
        resolved parameters. Returns ``(params, run, device)``.
        """
        import os

        import torch

        from .device import pick_device
        from .plotting import use_style
        from .record import Run
        from .seeding import seed_everything

        given, overrides = self.given_in(namespace)
        params = self.resolve(**{**given, **overrides})
        device = pick_device(params.device)
        if device.type == "cpu":
            torch.set_num_threads(int(os.environ.get("PAPERLIB_THREADS", "1")))
        seed_everything(params.seed)
        use_style()
        run = Run(self.paper, params)
        _show_markdown(params.markdown())
        return params, run, device

    def given_in(self, namespace: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The schema's values in a notebook namespace and its ``overrides``; any other plain value there
        (a name papermill injected that the schema does not know) is an unknown parameter."""
        overrides = namespace.get("overrides") or {}
        if isinstance(overrides, str):  # `papermill -p overrides '{"lr": 0.5}'` passes text
            try:
                overrides = yaml.safe_load(overrides) or {}
            except yaml.YAMLError:
                pass
        if not isinstance(overrides, Mapping):
            raise ParameterError(f"{self.paper}: parameter 'overrides': expected a mapping name: value, "
                                 f"got {overrides!r}")
        self._reject_unknown(overrides, " in overrides")
        given = {}
        for name, value in namespace.items():
            if name in self.by_name:
                given[name] = value
            elif not (name.startswith("_") or name == "overrides" or name in KERNEL_NAMES) and _plain(value) \
                    and not _imported(name, value):
                self._reject_unknown({name: value}, "")
        return given, dict(overrides)

    def coerce_cli(self, name: str, text: str) -> Any:
        """Parse a ``-p name value`` string for the declared type (``3`` -> int, ``1e-3`` -> float);
        text that does not parse is passed on as-is so that validation names the parameter."""
        self._reject_unknown({name: None}, "")
        kind = self.by_name[name].type
        if text.strip().lower() in ("null", "none", "~"):
            return None
        if kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                try:
                    return kind(float(text)) if kind is int and float(text).is_integer() else text
                except ValueError:
                    return text
        if kind is str:
            return text
        return yaml.safe_load(text)

    def _reject_unknown(self, values: Mapping[str, Any], where: str) -> None:
        for name in values:
            if name not in self.by_name:
                known = ", ".join(self.by_name)
                raise ParameterError(f"{self.paper}: unknown parameter '{name}'{where}; known: {known}")


def _plain(value: Any) -> bool:
    """A value a parameters cell or papermill could have assigned (not a module, function or class)."""
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict))


def _imported(name: str, value: Any) -> bool:
    """Whether ``name`` was imported (``from paperlib.core import METHOD_COLOR``): a loaded module holds the
    very same object under that name."""
    import sys

    return any(vars(module).get(name, _MISSING) is value for module in list(sys.modules.values())
               if module is not None and getattr(module, "__name__", "") != "__main__")


_MISSING = object()


def _show_markdown(text: str) -> None:
    """Display Markdown inside a kernel; print it elsewhere."""
    import sys

    if "ipykernel" in sys.modules:
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text)


def recipe(cls: type, params: Mapping[str, Any], prefix: str = "", **extra: Any):
    """Build the frozen dataclass ``cls`` from ``params``: field ``f`` reads ``extra[f]``, else
    ``params[prefix + f]``, else ``params[f]``, else its default (experiment code then depends on the
    recipe, not on the chapter's knob names)."""
    import dataclasses

    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"recipe: expected a dataclass type, got {cls!r}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in extra:
            values[f.name] = extra.pop(f.name)
        elif prefix + f.name in params:
            values[f.name] = params[prefix + f.name]
        elif f.name in params:
            values[f.name] = params[f.name]
    if extra:
        raise TypeError(f"recipe: {cls.__name__} has no field(s) {sorted(extra)}")
    try:
        return cls(**values)
    except TypeError as err:
        raise TypeError(f"recipe: {cls.__name__} needs a value for a field that neither the parameters "
                        f"(prefix {prefix!r}) nor the keyword arguments give: {err}") from None
