"""Generate ``docs/plugin_api.md``, the reference of what a plugin is handed and returns.

Usage::

    python -m hean_framework.apidoc > docs/plugin_api.md

The page is generated from the code: dataclass fields (type and default from
:func:`dataclasses.fields`), pydantic models (fields, bounds and descriptions), docstrings,
Protocol methods (signature and docstring via :mod:`inspect`) and the declared facts.  A
field's description is its ``#:`` comment in the source (on the line above the field, or at
the end of its line); the few classes whose modules carry no such comments get theirs from
:data:`NOTES`.  What a table cannot say (which pipeline stage reads which ``Signal`` field) is
written here, in :data:`SIGNAL_READERS`.

``tests/test_api_docs.py`` regenerates the page and fails when ``docs/plugin_api.md`` differs
or when a public field or method of a documented class has no description.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, NamedTuple

from pydantic import BaseModel

from . import context, facts, groups, kinds, market, models, ports
from .facts import FactKey

#: modules that declare the kernel's facts (``hean_framework.facts.declare``)
FACT_MODULES = (
    "hean_framework.facts",
    "hean_framework.risk.governor",
    "hean_framework.risk.inflight",
    "hean_framework.risk.capital_plan",
)

#: descriptions of members whose module has no ``#:`` comment for them
NOTES: dict[str, str] = {
    # ports.StrategyInfo
    "StrategyInfo.name": "the strategy instance name (its key under `strategies:`)",
    "StrategyInfo.plugin": "the registered strategy it was built from (its `plugin:` key)",
    "StrategyInfo.symbols": "the symbols it listens to",
    "StrategyInfo.weight": "its share of capital when no allocator publishes budgets",
    "StrategyInfo.executor": "the executor instance of its orders (None: the first "
                             "configured)",
    "StrategyInfo.min_rr": "the reward:risk the `risk_limits` gate requires of its signals",
    # ports.RunPort
    "RunPort.run_id": "the run's name (`run.name` in the YAML; default `run`)",
    "RunPort.mode": "`backtest`, `paper` or `live`",
    "RunPort.config_path": "the run's YAML file (`<dict>` for a config given as a dict)",
    "RunPort.base_dir": "the directory relative paths of the config resolve against",
    "RunPort.strategies": "strategy instance name -> `StrategyInfo`, in YAML order",
    # groups
    "OrderGroup.legs": "the signals decided and sent together (one strategy; no exits)",
    "OrderGroup.kind": "`all_or_none` (every leg or none) or `quote` (a bid and an ask)",
    "OrderGroup.policy": "what to do when the group is not complete in time",
    "OrderGroup.group_id": "set by the pipeline when it decides the group (leave 0)",
    "LegPolicy.action": "`unwind` (close what filled, by taker), `hedge` (complete the "
                        "missing legs by taker) or `none`",
    "LegPolicy.after_ms": "how long after sending the group the policy applies, ms (> 0)",
    # facts
    "FactKey.name": "the fact's name (unique in a process)",
    "FactKey.type": "the runtime type(s) a value must be an instance of",
    "FactKey.owner": "who publishes it (a component, or a kind such as `analyzers`)",
    "FactKey.default": "what `get` returns while nobody published a value",
    "FactKey.doc": "what the fact means",
    # kinds
    "Kind.name": "the kind's name (`strategy`, `filter`, ...)",
    "Kind.base": "the base class a registered component of this kind must subclass",
    "Kind.hook": "the registration hook of the kind",
    "Kind.common": "the model of the kernel's keys in this kind's sections",
}

#: the run context's attributes: (attribute, type, what for)
CTX: tuple[tuple[str, str, str], ...] = (
    ("orders", "OrderPort", "executors: submit / cancel / amend orders, open orders; anyone: "
     "`propose` a signal or order group (from a timer)"),
    ("budgets", "BudgetPort", "sizers: the capital a strategy may risk from"),
    ("clock", "ClockPort", "`now`, timers (`schedule`, `cancel`)"),
    ("run", "RunPort", "run id, mode, paths, the strategies of the run, plugin-owned YAML "
     "sections"),
    ("sink", "ExecutionSink", "venues: report fills and order status changes"),
    ("facts", "Facts", "typed facts components publish for each other"),
    ("market", "MarketState", "per-symbol market state: `ctx.market[symbol]` is a "
     "`SymbolState`"),
    ("instruments", "Instruments", "exchange rules: tick and lot size, minimums, fees"),
    ("portfolio", "Portfolio", "positions, cash and PnL (read it)"),
    ("now", "int", "the current time, ms (the data's clock in a backtest)"),
)


class Reader(NamedTuple):
    """One consumer of ``Signal`` fields."""

    stage: str
    where: tuple[str, ...]  # source files, relative to the repository root
    fields: tuple[str, ...]
    what: str


#: which stage of a run reads which ``Signal`` field, in the order a signal meets them
SIGNAL_READERS: tuple[Reader, ...] = (
    Reader("order router", ("hean_framework/router.py",), ("ts", "cause_seq"),
           "sets `ts` (when 0) to `ctx.now` and `cause_seq` to the `seq` of the market event "
           "whose callback returned the signal"),
    Reader("validation", ("hean_framework/pipeline.py",),
           ("strategy_id", "symbol", "side", "entry_price", "size", "stop_loss",
            "take_profit", "limit_price", "order_type", "size_multiplier", "max_hold_ms",
            "reduce_only"),
           "`malformed`: types and ranges (`BLOCK INVALID_SIGNAL` naming the field); "
           "`Pipeline._validate`: the symbol has instrument rules, the decision price is "
           "`entry_price` (else the market's), `stop_loss` is on the loss side and required "
           "without a `size` (`MISSING_STOP_LOSS`), open-position rules; `reduce_only` "
           "signals take the exit path (no filters, sizers or gates)"),
    Reader("filters", ("hean_framework/execution/market_filters.py",),
           ("symbol", "side", "size"),
           "market-quality checks of the symbol; `thin_book` compares the depth on the side "
           "the order takes with `size` (else the exchange minimum)"),
    Reader("sizers", ("hean_framework/builtin/pipeline.py", "hean_framework/risk/sizer.py"),
           ("strategy_id", "size", "stop_loss", "size_multiplier"),
           "budget of the strategy; an explicit `size` wins (`respect_signal_size`); else "
           "risk / `stop_loss` distance; scaled by `size_multiplier`"),
    Reader("exchange rounding", ("hean_framework/pipeline.py",), ("stop_loss",),
           "`risk_amount` of the quantity rounded to the lot size"),
    Reader("gate `trade_gate`", ("hean_framework/execution/trade_gate.py",
                                 "hean_framework/execution/costs.py"),
           ("edge_bps", "take_profit", "entry_price", "order_type", "prefer_maker",
            "max_hold_ms"),
           "edge = `edge_bps`, else estimated from the entry -> `take_profit` move and the "
           "spread; taker or maker cost from `order_type`/`prefer_maker` (sets "
           "`prefer_maker` when it converts a taker request); funding over `max_hold_ms`"),
    Reader("gate `risk_limits`", ("hean_framework/risk/limits.py",),
           ("take_profit", "stop_loss"),
           "reward:risk >= the strategy's `min_rr` (`require_take_profit`)"),
    Reader("executor `plain`", ("hean_framework/builtin/pipeline.py",),
           ("order_type", "limit_price", "prefer_maker", "reduce_only"),
           "a limit at `limit_price` (post-only with `prefer_maker`); else `prefer_maker`: "
           "post-only at the touch; else a market order"),
    Reader("executor `maker_chase`", ("hean_framework/execution/maker_chase.py",),
           ("order_type", "limit_price", "edge_bps", "take_profit", "confidence", "urgency",
            "tag", "reduce_only"),
           "post-only at the touch or `limit_price`, chased; taker fallback when the edge "
           "(`edge_bps`, else `take_profit` distance x `confidence`) pays and `urgency` is "
           "high enough; exits go out as market orders"),
    Reader("order router", ("hean_framework/router.py",),
           ("reduce_only", "tag", "stop_loss", "take_profit", "max_hold_ms"),
           "`ctx.orders.submit`: the order's `reduce_only` and `tag`; an entry carrying a "
           "stop, target or time stop gets exits after its fills"),
    Reader("exits", ("hean_framework/exits.py",), ("stop_loss", "take_profit", "max_hold_ms"),
           "reduce-only `stop_market` at `stop_loss` and `limit` at `take_profit` for the "
           "whole position (one cancels the other); a market exit `max_hold_ms` after the "
           "first entry fill"),
)

_ROLE = re.compile(r":(?:class|meth|func|data|attr|mod|exc|obj):`~?([^`]+)`")


def _role(m: re.Match[str]) -> str:
    target = re.sub(r"\s+", "", m.group(1))
    if m.group(0).split("`", 1)[1].startswith("~"):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def md(text: str | None) -> str:
    """A docstring in the repository's reST dialect, as Markdown.

    Roles become code (``:class:`~a.B``` -> `` `B` ``), double backticks single ones,
    ``::`` literal blocks fenced code, ``:param x:`` lines a list.
    """
    if not text:
        return ""
    text = _ROLE.sub(_role, inspect.cleandoc(text)).replace("``", "`")
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.rstrip()
        if stripped.endswith("::"):
            head = stripped[:-2].rstrip()
            if head:
                out.append(head + ":")
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += ["", "```", *textwrap.dedent("\n".join(block)).strip("\n").splitlines(),
                    "```", ""]
            continue
        m = re.match(r":(param (\w+)|returns?):\s*(.*)", line)
        if m:
            name = f"`{m.group(2)}`" if m.group(2) else "returns"
            item = [m.group(3)]
            i += 1
            while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            out.append(f"- {name}: {' '.join(item)}")
            continue
        out.append(line)
        i += 1
    return "\n".join(out).strip()


def cell(text: str) -> str:
    """One Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def first_paragraph(text: str | None) -> str:
    """The docstring's first paragraph."""
    return inspect.cleandoc(text or "").split("\n\n", 1)[0]


# ---------------------------------------------------------------------- reading the code


def field_comments(cls: type) -> dict[str, str]:
    """``#:`` comments of a class's attributes: ``name: T  #: text`` (or the lines above it)
    in the class body, ``self.name = ...  #: text`` in its ``__init__``."""
    out: dict[str, str] = {}
    pending: list[str] = []
    attr = re.compile(r"^(?:    (\w+)\s*:|        self\.(\w+)\s*[:=])")
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        m = attr.match(line)
        if m:
            name = m.group(1) or m.group(2)
            text = list(pending)
            if "  #: " in line:
                text.append(line.split("  #: ", 1)[1].strip())
            if text and name not in out:
                out[name] = " ".join(text)
        pending = []
    return out


def description(cls: type, name: str, comments: dict[str, str]) -> str:
    """A member's description (Markdown): its ``#:`` comment, else its :data:`NOTES`
    entry."""
    return md(comments.get(name) or NOTES.get(f"{cls.__name__}.{name}", ""))


class _Ann:
    """An annotation kept as the source wrote it (``from __future__ import annotations``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _ann(a: Any) -> Any:
    return _Ann(a) if isinstance(a, str) else a


def signature(fn: Callable[..., Any], with_return: bool = True) -> str:
    """``(arg: T = default, ...) -> R`` as written in the source, without ``self``."""
    sig = inspect.signature(fn)
    params = [p.replace(annotation=_ann(p.annotation)) for p in sig.parameters.values()]
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    ret = _ann(sig.return_annotation) if with_return else inspect.Signature.empty
    return str(sig.replace(parameters=params, return_annotation=ret))


def returns(fn: Callable[..., Any]) -> str:
    """The return annotation as written in the source ('' when none)."""
    ret = inspect.signature(fn).return_annotation
    return "" if ret is inspect.Signature.empty else str(ret)


def public_callables(cls: type) -> Iterator[tuple[str, Any]]:
    """Public properties and methods defined by ``cls`` itself, in source order."""
    for name, obj in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(obj, property) or inspect.isfunction(obj):
            yield name, obj


def class_attributes(cls: type) -> list[str]:
    """Public data attributes of a plain class: its ``__slots__`` in ``__init__`` order."""
    slots = [s for s in getattr(cls, "__slots__", ()) if not s.startswith("_")]
    init = inspect.getsource(cls.__init__) if "__init__" in vars(cls) else ""  # type: ignore[misc]
    order = {m.group(1): m.start() for m in re.finditer(r"self\.(\w+)\s*[:=]", init)}
    return sorted(slots, key=lambda s: (order.get(s, len(init)), s))


def protocol_attributes(cls: type) -> list[str]:
    """Data attributes a Protocol declares (annotations without a value)."""
    return [n for n in vars(cls).get("__annotations__", {}) if not n.startswith("_")]


def fact_keys() -> list[tuple[str, str, FactKey[Any]]]:
    """``(module, name, key)`` of every fact the kernel declares, by fact name."""
    seen: dict[int, tuple[str, str, FactKey[Any]]] = {}
    for modname in FACT_MODULES:
        mod: ModuleType = importlib.import_module(modname)
        for name, value in vars(mod).items():
            if isinstance(value, FactKey) and id(value) not in seen:
                seen[id(value)] = (modname, name, value)
    return sorted(seen.values(), key=lambda t: t[2].name)


# ---------------------------------------------------------------------- rendering


def _type_name(t: Any) -> str:
    if isinstance(t, tuple):
        return " | ".join(_type_name(x) for x in t)
    if t is type(None):
        return "None"
    if isinstance(t, type):
        return t.__name__
    return str(t).replace("typing.", "")


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return f"`{f.default!r}`"
    factory = f.default_factory
    if factory is not dataclasses.MISSING:
        name = getattr(factory, "__name__", repr(factory))
        return "`{}`" if name == "dict" else "`[]`" if name == "list" else f"`{name}()`"
    return "required"


def _class_header(cls: type, what: str) -> list[str]:
    out = [f"### `{cls.__name__}`", "", f"`{cls.__module__}.{cls.__qualname__}` ({what})", ""]
    doc = md(cls.__doc__)
    if doc:
        out += [doc, ""]
    return out


def _callables_table(cls: type) -> list[str]:
    rows = []
    for name, obj in public_callables(cls):
        if isinstance(obj, property):
            assert obj.fget is not None
            head, ret, doc = f"`{name}`", returns(obj.fget), obj.fget.__doc__
            kind = "property"
        else:
            head, ret, doc = f"`{name}{signature(obj, False)}`", returns(obj), obj.__doc__
            kind = "method"
        ret = f"`{cell(ret)}`" if ret else ""
        rows.append(f"| {head} | {kind} | {ret} | {cell(md(doc))} |")
    if not rows:
        return []
    return ["| property / method | kind | returns | description |", "|---|---|---|---|",
            *rows, ""]


def render_dataclass(cls: type, readers: dict[str, list[str]] | None = None) -> list[str]:
    """A dataclass: docstring, fields (type, default, description), properties, methods."""
    comments = field_comments(cls)
    frozen = cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    out = _class_header(cls, "frozen dataclass" if frozen else "dataclass")
    extra = "read by | " if readers is not None else ""
    out += [f"| field | type | default | {extra}description |",
            "|---|---|---|---|" + ("---|" if readers is not None else "")]
    for f in dataclasses.fields(cls):
        read = ""
        if readers is not None:
            read = ", ".join(readers.get(f.name, [])) or "—"
            read += " | "
        out.append(f"| `{f.name}` | `{cell(str(f.type))}` | {_default(f)} | {read}"
                   f"{cell(description(cls, f.name, comments))} |")
    for name, ann in vars(cls).get("__annotations__", {}).items():
        if isinstance(ann, str) and ann.startswith("ClassVar"):
            read = "— | " if readers is not None else ""
            out.append(f"| `{name}` | `{cell(ann)}` | `{getattr(cls, name)!r}` | {read}"
                       f"{cell(description(cls, name, comments))} |")
    out.append("")
    return out + _callables_table(cls)


def render_plain(cls: type) -> list[str]:
    """A plain class: its slots (documented by ``#:`` comments) and its methods."""
    comments = field_comments(cls)
    out = _class_header(cls, "class")
    attrs = class_attributes(cls)
    if attrs:
        hints = {m.group(1): m.group(2).strip() for m in re.finditer(
            r"self\.(\w+)\s*:\s*([^=]+)=", inspect.getsource(cls))}
        out += ["| attribute | type | description |", "|---|---|---|"]
        init = cls.__init__  # type: ignore[misc]
        init_src, params = inspect.getsource(init), inspect.signature(init).parameters
        for name in attrs:
            typ = hints.get(name)
            if typ is None:  # unannotated: a literal, or an argument of __init__
                m = re.search(rf"self\.{name}\s*=\s*([^\s#]+)", init_src)
                value = m.group(1) if m else ""
                arg = params[value].annotation if value in params else None
                typ = "float" if re.fullmatch(r"-?\d+\.\d*", value) else \
                    "int" if re.fullmatch(r"-?\d+", value) else \
                    arg if isinstance(arg, str) else ""
            out.append(f"| `{name}` | {f'`{cell(typ)}`' if typ else ''} | "
                       f"{cell(description(cls, name, comments))} |")
        out.append("")
    return out + _callables_table(cls)


def render_protocol(cls: type, attr: str, what: str = "Protocol") -> list[str]:
    """A port: its attributes and one section per method (signature and docstring)."""
    out = _class_header(cls, f"{what}, `ctx.{attr}`")
    names = protocol_attributes(cls)
    if names:
        anns = vars(cls)["__annotations__"]
        out += ["| attribute | type | description |", "|---|---|---|"]
        out += [f"| `{n}` | `{cell(str(anns[n]))}` | {cell(description(cls, n, {}))} |"
                for n in names]
        out.append("")
    for name, obj in public_callables(cls):
        if isinstance(obj, property):
            assert obj.fget is not None
            out += [f"#### `{name} -> {returns(obj.fget)}` (property)", "", md(obj.fget.__doc__),
                    ""]
        else:
            out += [f"#### `{name}{signature(obj)}`", "", md(obj.__doc__), ""]
    return out


def render_model(model: type[BaseModel]) -> list[str]:
    """A pydantic model: every key with type, default, bounds and description."""
    out = _class_header(model, "pydantic model")
    out += ["| key | type | default | bounds | description |", "|---|---|---|---|---|"]
    for name, f in model.model_fields.items():
        bounds = []
        for m in f.metadata:
            for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
                v = getattr(m, attr, None)
                if v is not None:
                    bounds.append(f"{sym} {v}")
        default = "required" if f.is_required() else f"`{f.default!r}`"
        out.append(f"| `{name}` | `{cell(_type_name(f.annotation))}` | {default} | "
                   f"{', '.join(bounds)} | {cell(f.description or '')} |")
    return [*out, ""]


def render_signal_readers() -> list[str]:
    out = ["### Which stage reads which `Signal` field", "",
           "In the order a signal meets them (`hean_framework/pipeline.py` runs validation "
           "-> filters -> sizers -> exchange rounding -> gates -> executor).  The built-in "
           "components are named; a plugin filter, sizer, gate or executor reads what it "
           "needs.  `min_maker_edge_bps` and `metadata` are read by no built-in component: "
           "they carry information to plugin components.", "",
           "| stage | code | fields | what it does with them |", "|---|---|---|---|"]
    for r in SIGNAL_READERS:
        where = ", ".join(f"`{w}`" for w in r.where)
        fields = ", ".join(f"`{f}`" for f in r.fields)
        out.append(f"| {r.stage} | {where} | {fields} | {cell(r.what)} |")
    return [*out, ""]


def render_facts() -> list[str]:
    out = ["### Declared facts", "",
           "Every fact the kernel declares.  Plugins may declare more: "
           "`hean_framework.facts.declared()` returns every fact declared in the process.  "
           "Import a key from the module named here.", "",
           "| fact | type | owner | default | import | description |",
           "|---|---|---|---|---|---|"]
    for modname, name, key in fact_keys():
        out.append(f"| `{key.name}` | `{cell(_type_name(key.type))}` | `{key.owner}` | "
                   f"`{key.default!r}` | `from {modname} import {name}` | {cell(key.doc)} |")
    return [*out, ""]


def render_kinds() -> list[str]:
    out = ["### Component kinds", "",
           "A key of a component's YAML section that the kernel reads itself is reserved: a "
           "plugin's config model must not have a field of that name (refused at "
           "registration).", "",
           "| kind | base class | registration hook | YAML section | kernel keys (model) | "
           "contract suite | `hean plugins new` |", "|---|---|---|---|---|---|---|"]
    for k in kinds.KINDS.values():
        section = f"`{k.section}:`" if k.section else "own place (`venue:`, `data:`)"
        keys = ", ".join(f"`{r}`" for r in k.common.model_fields)
        out.append(f"| `{k.name}` | `{k.base.__name__}` | `{k.hook}` | {section} | {keys} "
                   f"(`{k.common.__name__}`) | {f'`{k.contract}`' if k.contract else '—'} | "
                   f"{'yes' if k.scaffold else 'no'} |")
    return [*out, ""]


def render() -> str:
    """The whole page (Markdown)."""
    out = [
        "# Plugin API reference",
        "",
        "<!-- Generated by `python -m hean_framework.apidoc > docs/plugin_api.md` from the "
        "code (hean_framework/apidoc.py); do not edit by hand: edit the docstrings and `#:` "
        "field comments, then regenerate.  tests/test_api_docs.py checks it. -->",
        "",
        "What a component is handed (`self.ctx`, market events, `ctx.market[symbol]`), what "
        "a strategy returns (`Signal`, `OrderGroup`) and the records the run makes of them "
        "(decisions, orders, fills, positions, closed trades), with every field.  How to "
        "write, package and test a plugin: [writing_plugins.md](writing_plugins.md); the "
        "hooks and component base classes: [plugin_hooks.md](plugin_hooks.md).",
        "",
        "Times are integer milliseconds since the Unix epoch (UTC); prices and money are in "
        "the quote currency; quantities in instrument units (contracts for a derivative).",
        "",
        "- [The run context](#the-run-context)",
        "- [Signal: what a strategy returns](#signal-what-a-strategy-returns)",
        "- [Order groups](#order-groups)",
        "- [Decisions, orders, fills, positions](#decisions-orders-fills-positions)",
        "- [Market events](#market-events)",
        "- [Market state](#market-state)",
        "- [Ports](#ports)",
        "- [Facts](#facts)",
        "- [Component kinds and reserved keys](#component-kinds-and-reserved-keys)",
        "",
        "## The run context",
        "",
        md(context.__doc__),
        "",
        "| attribute | type | what for |",
        "|---|---|---|",
        *(f"| `ctx.{a}` | `{t}` | {cell(w)} |" for a, t, w in CTX),
        "",
        "## Signal: what a strategy returns",
        "",
        "A market callback (`on_bar`, `on_trade`, ...) returns None, a `Signal`, an "
        "`OrderGroup` or a list of them; a timer proposes them with `ctx.orders.propose`.  "
        "Every signal ends in exactly one `OrderDecision`.",
        "",
        *render_dataclass(models.Signal, _readers_by_field()),
        *render_signal_readers(),
        "## Order groups",
        "",
        md(groups.__doc__),
        "",
        *render_dataclass(groups.OrderGroup),
        *render_dataclass(groups.LegPolicy),
        "## Decisions, orders, fills, positions",
        "",
        md(models.__doc__),
        "",
    ]
    records: tuple[type, ...] = (models.OrderDecision, models.Order, models.Fill,
                                 models.Position, models.ClosedTrade)
    for cls in records:
        out += render_dataclass(cls)
    out += ["## Market events", "",
            "The engine dispatches them in time order to the components that listen to their "
            "symbol (`on_bar`, `on_trade`, `on_quote`, `on_book`, `on_funding`, `on_mark`); "
            "`ctx.market[symbol]` already includes the event.", ""]
    for event in models.MARKET_EVENT_TYPES:
        out += render_dataclass(event)
    out += ["## Market state", "", md(market.__doc__), ""]
    out += render_plain(market.MarketState)
    out += render_plain(market.SymbolState)
    out += ["## Ports", "",
            "The typed interfaces of `hean_framework/ports.py`.  The engine implements them "
            "for a run, the testing kit's `make_context` for unit tests; one contract suite "
            "(`hean_framework.testing.ports.PortContract`) runs against both.", ""]
    port_classes: tuple[tuple[type, str], ...] = (
        (ports.OrderPort, "orders"), (ports.BudgetPort, "budgets"), (ports.ClockPort, "clock"),
        (ports.RunPort, "run"), (ports.ExecutionSink, "sink"))
    for port, attr in port_classes:
        out += render_protocol(port, attr)
    out += render_dataclass(ports.StrategyInfo)
    out += ["## Facts", "", md(facts.__doc__), ""]
    out += render_facts()
    out += render_dataclass(facts.FactKey)
    out += render_protocol(facts.Facts, "facts", "class")
    out += ["### Declaring a fact", "",
            f"#### `declare{signature(facts.declare)}`", "", md(facts.declare.__doc__), ""]
    out += ["## Component kinds and reserved keys", "", md(kinds.__doc__), ""]
    out += render_kinds()
    for model in (kinds.CommonKeys, kinds.ListenerKeys, kinds.StrategyKeys):
        out += render_model(model)
    out += render_dataclass(kinds.Kind)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def _readers_by_field() -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for r in SIGNAL_READERS:
        for f in r.fields:
            by.setdefault(f, []).append(r.stage)
    return by


def main() -> None:
    """Print the page."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
