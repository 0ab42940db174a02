"""The ``%kestra_*`` magics: parse, call the Python API on the shared client, display.

``KestraMagic`` is both the Magics class and a traitlets Configurable (``%config KestraMagic``),
in the manner of jupysql's ``SqlMagic``. Magics never build HTTP requests themselves.
"""
from __future__ import annotations

import functools
import getpass
import os
import re
from typing import Any, Callable

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Int, Unicode, observe
from traitlets.config.configurable import Configurable

from kestra_magic.notebook import errors as _errors
from kestra_magic.notebook.errors import KestraMagicError
from kestra_magic.errors import KestraError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _km():
    import kestra_magic
    return kestra_magic


def shared_client():
    """The package's shared client (``kestra_magic.client()``)."""
    return _km().client()


def _handles_errors(fn: Callable) -> Callable:
    """Turn expected failures (KestraError, bad input) into a one-line, cell-failing error."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except KestraMagicError:
            raise
        except Exception as err:
            if not _errors.is_expected(err) or self.show_traceback:
                raise
            raise KestraMagicError(_errors.one_line(err), kind=type(err).__name__) from err
    return wrapper


@magics_class
class KestraMagic(Magics, Configurable):
    """Drive Kestra from a notebook. Settings: ``%config KestraMagic`` (no secrets are settings)."""

    url = Unicode(None, allow_none=True, help="Kestra server URL (default: $KESTRA_URL or "
                  "http://localhost:8080)").tag(config=True)
    tenant = Unicode(None, allow_none=True, help="Tenant id (default: $KESTRA_TENANT or main)").tag(config=True)
    username = Unicode(None, allow_none=True, help="Basic-auth user; the password comes from "
                       "$KESTRA_PASSWORD or a prompt, never from a setting").tag(config=True)
    token_env = Unicode(None, allow_none=True, help="Name of the environment variable holding an API "
                        "token (the token itself is never a setting)").tag(config=True)
    server_index = Int(None, allow_none=True, help="Index of the server to use among configured "
                       "servers").tag(config=True)
    insecure = Bool(False, help="Skip TLS certificate verification").tag(config=True)
    show_traceback = Bool(False, help="Show full tracebacks instead of one-line errors "
                          "(for debugging)").tag(config=True)
    widget = Enum(["auto", "on", "off"], "auto", help="Live ipywidgets view: auto (in a Jupyter "
                  "kernel), on, or off (text lines)").tag(config=True)
    poll_interval = Float(1.0, help="Seconds between polls when the event stream is unavailable"
                          ).tag(config=True)
    log_lines = Int(30, help="Log lines kept in the live view's tail").tag(config=True)
    max_updates_per_second = Float(10.0, help="Upper bound on front-end widget messages per "
                                   "second").tag(config=True)
    timeout = Float(None, allow_none=True, help="Default seconds %kestra_run waits (None: until "
                    "the end)").tag(config=True)

    _CLIENT_TRAITS = ("url", "tenant", "username", "token_env", "server_index", "insecure")

    def __init__(self, shell=None, **kwargs):
        self._ready = False
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)
        self.last_flow: tuple[str, str] | None = None
        self.last_execution: Any = None
        self._ready = True
        changes = {name: getattr(self, name) for name in self._CLIENT_TRAITS
                   if getattr(self, name) not in (None, False)}
        if changes:
            self._apply_settings(changes)

    # -- settings -> shared client --------------------------------------------------------------
    @observe(*_CLIENT_TRAITS)
    def _settings_changed(self, change) -> None:
        if getattr(self, "_ready", False):
            self._apply_settings({change["name"]: change["new"]})

    def _apply_settings(self, changes: dict) -> None:
        kw: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "url" and value:
                kw["url"] = value
            elif name == "tenant" and value:
                kw["tenant"] = value
            elif name == "username" and value:
                kw["username"] = value
                kw["password"] = _password_for(value)
            elif name == "token_env" and value:
                token = os.environ.get(value)
                if not token:
                    raise KestraMagicError(f"environment variable {value} is empty or not set; "
                                           f"export the API token in it first", kind="KestraConfigError")
                kw["token"] = token
            elif name == "server_index" and value is not None:
                kw["server_index"] = value
            elif name == "insecure":
                kw["verify_ssl"] = not value
        if kw:
            _km().configure(**kw)

    def _client(self):
        return shared_client()

    def _display(self, obj: Any) -> Any:
        from IPython.display import display
        return display(obj, display_id=True)

    def _out(self, text: str) -> None:
        print(text)

    # -- %kestra_config -------------------------------------------------------------------------
    @magic_arguments()
    @argument("--url", help="Kestra server URL, e.g. http://localhost:8080")
    @argument("--tenant", help="tenant id (open source Kestra: main)")
    @argument("--username", help="basic-auth user; password from $KESTRA_PASSWORD or a prompt")
    @argument("--token-env", metavar="VAR", help="environment variable holding an API token")
    @argument("--server-index", type=int, metavar="N", help="which configured server to use")
    @argument("--var", action="append", default=[], metavar="NAME=VALUE",
              help="server variable (repeatable), for servers with {variables}")
    @argument("--insecure", action="store_true", help="skip TLS certificate verification")
    @argument("--sandbox", action="store_true",
              help="start the embedded Kestra-compatible sandbox in the background and use it")
    @argument("--api", type=int, choices=[1, 2], default=2,
              help="with --sandbox: which Kestra API generation the sandbox speaks (default 2)")
    @argument("--sandbox-dir", metavar="DIR",
              help="with --sandbox: keep the sandbox's flows, executions and files in DIR across "
                   "kernel restarts (implies --sandbox)")
    @no_var_expand
    @line_magic
    @_handles_errors
    def kestra_config(self, line: str = ""):
        """Show the active Kestra configuration (secrets masked) or change it.

        Examples::

            %kestra_config
            %kestra_config --url http://localhost:8080 --tenant main
            %kestra_config --username admin@kestra.io      # password: $KESTRA_PASSWORD or prompt
            %kestra_config --token-env KESTRA_API_TOKEN
            %kestra_config --sandbox
            %kestra_config --sandbox --sandbox-dir ~/.kestra-sandbox   # state kept across restarts
        """
        args = parse_argstring(self.kestra_config, line)
        kw: dict[str, Any] = {}
        if args.sandbox or args.sandbox_dir:
            if args.url:
                raise KestraMagicError(f"{'--sandbox' if args.sandbox else '--sandbox-dir'} and --url both "
                                       f"choose the server; give only one", kind="UsageError")
            extra = {"data_dir": args.sandbox_dir} if args.sandbox_dir else {}
            _km().start_sandbox(api=args.api, **extra)   # also points the shared client at it
        if args.url:
            kw["url"] = args.url
        if args.tenant:
            kw["tenant"] = args.tenant
        if args.username:
            kw["username"] = args.username
            kw["password"] = _password_for(args.username)
        if args.token_env:
            token = os.environ.get(args.token_env)
            if not token:
                raise KestraMagicError(f"environment variable {args.token_env} is empty or not set; "
                                       f"export the API token in it first", kind="KestraConfigError")
            kw["token"] = token
        if args.server_index is not None:
            kw["server_index"] = args.server_index
        if args.var:
            kw["server_variables"] = dict(_split_pair(v, "=", "--var") for v in args.var)
        if args.insecure:
            kw["verify_ssl"] = False
        if kw:
            _km().configure(**kw)
        self._out(self._describe_config())

    def _describe_config(self) -> str:
        c = self._client()
        cfg = getattr(c, "config", None) or getattr(c, "configuration", None)
        url = _safe(lambda: cfg.resolve_base_url(), getattr(cfg, "url", "?"))
        tenant = getattr(cfg, "tenant", "main")
        kind = getattr(cfg, "auth_kind", None)
        if kind == "basic":
            auth = f"basic (user {cfg.username}, password ****)"
        elif kind == "bearer":
            auth = "API token (****)"
        else:
            auth = "none"
        lines = [f"Kestra server: {url}", f"tenant: {tenant}", f"auth: {auth}"]
        if getattr(cfg, "verify_ssl", True) is False:
            lines.append("TLS verification: off (--insecure)")
        try:
            lines.append(f"server: Kestra {c.server_version or '(version not reported)'} (API generation {c.generation})")
        except Exception as err:
            lines.append(f"server: not reachable ({_errors.one_line(err)})")
        sb = _km()._sandbox
        if sb is not None and url.startswith(sb.url):
            lines.append("(embedded sandbox)")
        return "\n".join(lines)

    # -- %%kestra_flow ----------------------------------------------------------------------------
    @magic_arguments()
    @argument("var", nargs="?", help="store the resulting Flow in this notebook variable")
    @argument("--validate-only", action="store_true", help="check the flow on the server, save nothing")
    @argument("--namespace", metavar="NS", help="set the flow's namespace (replaces the YAML's)")
    @argument("--no-update", action="store_true",
              help="only create: fail if the flow already exists instead of updating it")
    @argument("--no-topology", action="store_true", help="do not draw the flow's topology under the cell")
    @no_var_expand
    @cell_magic
    @_handles_errors
    def kestra_flow(self, line: str, cell: str):
        """Create or update the flow whose YAML is the cell body (sent verbatim).

        The YAML is checked locally (syntax errors point at the cell line), validated by the server,
        then created, or updated to a new revision. Pebble ``{{ ... }}`` and ``$`` are never touched.
        The summary links to the flow's page and draws its topology (static SVG, kept in the saved
        notebook) from the server's graph.
        """
        from kestra_magic.errors import KestraConflict, KestraValidationError
        from kestra_magic.notebook import completion
        from kestra_magic.notebook.flowcell import FlowSummary, check_yaml, set_namespace, type_hint
        from kestra_magic.notebook.topology import Topology, flow_topology
        args = parse_argstring(self.kestra_flow, line)
        _check_var(args.var)
        source = cell
        if args.namespace:
            source = set_namespace(source, args.namespace)
        doc = check_yaml(source)
        c = self._client()
        warnings: list[str] = []
        for report in c.flows.validate_flows(source) or []:
            if report.get("constraints"):
                text = _errors.one_line(report["constraints"])
                raise KestraMagicError(f"the server rejected the flow: {text}{type_hint(text)}",
                                       kind="KestraValidationError")
            warnings += [str(w) for w in report.get("warnings") or []]
            warnings += [f"deprecated: {p}" for p in report.get("deprecationPaths") or []]
        ns, flow_id = str(doc.get("namespace")), str(doc.get("id"))
        picture = None if args.no_topology else Topology
        if args.validate_only:
            self._display(FlowSummary(ns, flow_id, None, "valid", len(doc.get("tasks") or []), None, warnings,
                                      topology=picture(doc) if picture else None))
            return None
        try:
            if args.no_update:
                try:
                    flow, status = c.flows.create_flow(source), "created"
                except KestraConflict as err:
                    raise KestraMagicError(f"flow {ns}.{flow_id} already exists and --no-update was given; "
                                           f"drop --no-update to update it", kind="KestraConflict") from err
            else:
                flow, status = c.flows.upsert_flow(source)
        except KestraValidationError as err:
            hint = type_hint(str(err))
            if not hint:
                raise
            raise KestraMagicError(f"{_errors.one_line(err)}{hint}", kind="KestraValidationError") from err
        completion.invalidate()          # the new flow, its inputs and namespace complete at once
        c.know_flow(flow)                # %kestra_run can name an unknown input before any request
        self.last_flow = (flow.namespace or ns, flow.id or flow_id)
        # the flow is saved: a link or a picture the server cannot give now must not fail the cell
        link = _extra(lambda: c.ui_link(f"flows/edit/{self.last_flow[0]}/{self.last_flow[1]}"))
        topology = _extra(lambda: flow_topology(c, *self.last_flow, source=source)) if picture else None
        self._display(FlowSummary(self.last_flow[0], self.last_flow[1], flow.revision, status,
                                  len(flow.tasks or doc.get("tasks") or []), link, warnings, topology=topology))
        if args.var:
            self.shell.user_ns[args.var] = flow
        return None

    # -- %kestra_run / %%kestra_run ---------------------------------------------------------------
    @magic_arguments()
    @argument("target", nargs="*", metavar="[VAR] [NAMESPACE.FLOW_ID | NAMESPACE FLOW_ID]",
              help="optional variable for the execution handle, then the flow (default: the flow "
                   "the last %%%%kestra_flow cell posted)")
    @argument("--input", "-i", action="append", default=[], metavar="KEY=VALUE",
              help="flow input (repeatable): KEY=text, KEY=$var (a notebook variable; a DataFrame is "
                   "uploaded as a FILE input), KEY=@path (a file)")
    @argument("--inputs", metavar="$DICT", help="a notebook dict of inputs, e.g. --inputs $params")
    @argument("--label", "-l", action="append", default=[], metavar="KEY:VALUE",
              help="execution label (repeatable)")
    @argument("--revision", type=int, metavar="N", help="run this flow revision")
    @argument("--schedule-date", metavar="ISO", help="start at this ISO-8601 date-time")
    @argument("--breakpoints", metavar="A,B", help="pause before these task ids (comma-separated)")
    @argument("--kind", choices=["NORMAL", "TEST", "PLAYGROUND"], help="execution kind")
    @argument("--no-wait", action="store_true", help="return at once; the live view keeps updating")
    @argument("--timeout", type=float, metavar="S", help="stop waiting after S seconds")
    @argument("--kill-on-interrupt", action="store_true",
              help="Ctrl-C kills the execution instead of detaching from it")
    @argument("--sweep", metavar="$ROWS",
              help="run once per row of a notebook DataFrame (or list of dicts): columns are input ids, "
                   "other inputs are shared; returns a DataFrame of inputs, states, outputs, execution ids")
    @argument("--max-workers", type=int, default=8, metavar="N",
              help="with --sweep: at most N executions running at once (default 8)")
    @no_var_expand
    @line_cell_magic
    @_handles_errors
    def kestra_run(self, line: str, cell: str | None = None):
        """Run a flow and follow it live; returns the execution handle (``ex = %kestra_run ns.flow``).

        With a cell body (``%%kestra_run ns.flow``) the body is a YAML mapping of inputs.
        A FAILED or KILLED execution fails the cell after showing it (the handle is still stored in VAR).
        A run that pauses (Pause task, breakpoint) returns at once with the view still live: resume
        it with its Resume button or %kestra_resume. Ctrl-C stops waiting within a second (the run
        goes on; --kill-on-interrupt kills it).
        """
        from kestra_magic.notebook.inputs import parse_cell_inputs, resolve_inputs
        args = parse_argstring(self.kestra_run, line)
        if args.timeout is not None and not args.timeout > 0:
            raise KestraMagicError(f"--timeout must be a positive number of seconds, not {args.timeout:g}",
                                   kind="UsageError")
        var, ns, flow_id = self._run_target(args.target)
        inputs, files = resolve_inputs(self.shell.user_ns, args.input, args.inputs,
                                       parse_cell_inputs(cell) if cell is not None else None)
        labels = dict(_split_pair(x, ":", "--label") for x in args.label) if args.label else None
        breakpoints = [b.strip() for b in args.breakpoints.split(",") if b.strip()] if args.breakpoints else None
        c = self._client()
        if args.sweep is not None:
            return self._sweep(c, args, var, ns, flow_id, {**inputs, **files} or None, labels)
        handle = c.run(f"{ns}.{flow_id}", inputs=inputs or None, files=files or None, labels=labels,
                       revision=args.revision, schedule_date=args.schedule_date, breakpoints=breakpoints,
                       kind=args.kind, wait=False)
        self.last_execution = handle
        if var:
            self.shell.user_ns[var] = handle
        self._follow(handle, wait=not args.no_wait,
                     timeout=args.timeout if args.timeout is not None else self.timeout,
                     kill_on_interrupt=args.kill_on_interrupt, var=var)
        if var:
            return None
        handle._shown_in = self.shell.execution_count  # already shown live: no duplicate Out[]
        return handle

    def _follow(self, handle, *, wait: bool, timeout: float | None, kill_on_interrupt: bool,
                var: str | None) -> None:
        from kestra_magic.notebook.widget import Monitor
        widget = {"auto": None, "on": True, "off": False}[self.widget]
        mon = Monitor(handle, widget=widget, max_messages_per_second=self.max_updates_per_second,
                      poll_interval=self.poll_interval, log_lines=self.log_lines, out=self._out,
                      display=self._display)
        handle._monitor = mon
        mon.start()
        if not wait:
            if not mon.use_widget:
                self._out(f"started {handle.namespace}.{handle.flow_id} execution {handle.id} "
                          f"({handle.state}); wait for it with {var or 'ex'}.wait()")
                mon.stop()
            return
        outcome = mon.block(timeout)
        name = var or "ex"
        if outcome == "paused":
            paused = [t.task_id for t in handle.execution.task_runs if t.state.is_paused]
            where = f" at task {paused[-1]}" if paused else ""
            mon.detach(f"{handle.state}{where}: resume with the Resume button, {name}.resume() or "
                       f"%kestra_resume {handle.id}; then {name}.wait()", while_state=handle.state)
            return
        if outcome in ("interrupted", "timeout"):
            what = "interrupted" if outcome == "interrupted" else f"still running after {timeout:g} s"
            if outcome == "interrupted" and kill_on_interrupt:
                handle.kill()
                mon.detach(f"kill requested for {handle.id} (Ctrl-C with --kill-on-interrupt)")
                raise KestraMagicError(f"interrupted: kill requested for execution {handle.id}",
                                       kind="KeyboardInterrupt")
            hint = (f"detached from execution {handle.id} ({handle.namespace}.{handle.flow_id}, "
                    f"{what}); re-attach with {name}.wait() or kill it with %kestra_kill {handle.id}")
            mon.detach(hint)
            raise KestraMagicError(hint, kind="KeyboardInterrupt" if outcome == "interrupted" else "KestraTimeout")
        handle.execution = mon.follower.latest
        if mon.follower.lost:
            raise KestraMagicError(f"lost contact with the server while following execution {handle.id} "
                                   f"({_errors.one_line(mon.follower.error)}); check the server, then "
                                   f"{name}.wait()", kind="KestraConnectionError")
        from kestra_magic.runs import ExecutionFailed
        reach = f"`{var}` holds the run" if var else "get the run with `import kestra_magic as km; ex = km.last_run()`"
        try:
            handle.raise_for_outcome(reach)   # the one outcome policy (kestra_magic.models.OUTCOMES)
        except ExecutionFailed as err:
            raise KestraMagicError(err.message, kind="ExecutionFailed") from err

    def _sweep(self, c, args, var: str | None, ns: str, flow_id: str, shared: dict, labels):
        """``--sweep $rows``: one execution per row, shared inputs under each row, progress shown live."""
        from kestra_magic.notebook.inputs import _variable
        from kestra_magic.notebook.sweep_widget import SweepView
        unsupported = [flag for flag, given in (("--no-wait", args.no_wait), ("--breakpoints", args.breakpoints),
                                                ("--schedule-date", args.schedule_date), ("--kind", args.kind))
                       if given]
        if unsupported:
            raise KestraMagicError(f"{', '.join(unsupported)} cannot be combined with --sweep; "
                                   f"run single executions for that", kind="UsageError")
        if not args.sweep.startswith("$") or args.sweep.startswith("$$") or len(args.sweep) < 2:
            raise KestraMagicError(f"--sweep takes a notebook DataFrame or list of dicts as $name, "
                                   f"not {args.sweep!r}", kind="UsageError")
        if args.max_workers < 1:
            raise KestraMagicError(f"--max-workers must be at least 1, not {args.max_workers}", kind="UsageError")
        rows = _variable(self.shell.user_ns, args.sweep[1:], "--sweep")
        widget = {"auto": None, "on": True, "off": False}[self.widget]
        view = SweepView(widget=widget, out=self._out, display=self._display)
        timeout = args.timeout if args.timeout is not None else self.timeout
        try:
            frame = c.sweep(f"{ns}.{flow_id}", rows, max_workers=args.max_workers, labels=labels,
                            revision=args.revision, timeout=timeout, on_progress=view, shared=shared)
        except (TypeError, ValueError) as err:
            raise KestraMagicError(f"--sweep {args.sweep}: {err}", kind="TypeError") from None
        if var:
            self.shell.user_ns[var] = frame
            return None
        return frame

    def _run_target(self, tokens: list[str]) -> tuple[str | None, str, str]:
        """Split ``[VAR] [NS.FLOW | NS FLOW]`` (see %kestra_run?)."""
        var = None
        toks = list(tokens)
        if len(toks) == 3 or (toks and (len(toks) == 2 and "." in toks[1]
                                        or len(toks) == 1 and "." not in toks[0])):
            var = toks.pop(0)
        _check_var(var)
        if not toks:
            if self.last_flow is None:
                raise KestraMagicError("no flow given and no %%kestra_flow cell has run yet; "
                                       "use %kestra_run NAMESPACE.FLOW_ID", kind="UsageError")
            return var, *self.last_flow
        if len(toks) == 1:
            ns, dot, flow_id = toks[0].rpartition(".")
            if not dot or not ns or not flow_id:
                raise KestraMagicError(f"flow {toks[0]!r} is not NAMESPACE.FLOW_ID; write e.g. "
                                       f"company.team.hello or 'company.team hello'", kind="UsageError")
            return var, ns, flow_id
        if len(toks) == 2:
            return var, toks[0], toks[1]
        raise KestraMagicError(f"too many arguments {' '.join(tokens)!r}; expected [VAR] NAMESPACE.FLOW_ID",
                               kind="UsageError")

    def _execution(self, execution_id: str | None):
        if execution_id:
            return self._client().attach(execution_id)
        if self.last_execution is None:
            raise KestraMagicError("no execution id given and no %kestra_run has run yet; "
                                   "pass EXECUTION_ID", kind="UsageError")
        return self.last_execution

    # -- %%kestra_file --------------------------------------------------------------------------------
    @magic_arguments()
    @argument("namespace", help="the namespace the file belongs to, e.g. company.team")
    @argument("path", help="the file's path in the namespace, e.g. scripts/clean.py")
    @no_var_expand
    @cell_magic
    @_handles_errors
    def kestra_file(self, line: str, cell: str):
        """Upload the cell body (verbatim, UTF-8) as a namespace file; a new revision if it exists.

        A flow's script task reads it with ``namespaceFiles: enabled: true`` (then
        ``python scripts/clean.py``), so a script can be written and tried in a notebook cell::

            %%kestra_file company.team scripts/clean.py
            import pandas as pd
            ...
        """
        from kestra_magic.api.namespaces import file_path
        args = parse_argstring(self.kestra_file, line)
        if not cell.strip():
            raise KestraMagicError("the cell is empty; write the file's content below %%kestra_file "
                                   "NAMESPACE PATH", kind="UsageError")
        try:
            path = file_path(args.path)
        except ValueError as err:
            raise KestraMagicError(str(err), kind="UsageError") from None
        written = self._client().namespaces.upload_file(args.namespace, path, cell)
        size = len(cell.encode("utf-8"))
        self._out(f"namespace file {args.namespace}:{written} saved ({size} bytes); a flow's script task "
                  f"sees it with namespaceFiles: enabled: true")
        return None

    # -- listings -----------------------------------------------------------------------------------
    @magic_arguments()
    @argument("execution_id", nargs="?", help="execution id (default: the last run)")
    @argument("--level", choices=["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], help="minimum level")
    @argument("--task", metavar="T", help="only the logs of this task id")
    @no_var_expand
    @line_magic
    @_handles_errors
    def kestra_logs(self, line: str = ""):
        """The logs of an execution as a DataFrame."""
        from kestra_magic import frames
        args = parse_argstring(self.kestra_logs, line)
        ex_id = args.execution_id or self._execution(None).id
        return frames.logs_frame(self._client().logs.list_logs(ex_id, min_level=args.level, task_id=args.task))

    #: what %kestra_executions shows by default (plus the user's labels); --all shows every column
    EXECUTION_COLUMNS = ("id", "namespace", "flowId", "state", "startDate", "duration")

    @magic_arguments()
    @argument("target", nargs="?", metavar="NS[.FLOW]", help="a namespace, or NAMESPACE.FLOW_ID")
    @argument("--state", action="append", metavar="S", help="only executions in this state (repeatable)")
    @argument("--label", action="append", default=[], metavar="K:V", help="label filter (repeatable)")
    @argument("--limit", type=int, default=25, metavar="N", help="at most N executions (default 25)")
    @argument("--all", action="store_true",
              help="every column (revision, end date, parent, Kestra's system labels...), not the short set")
    @no_var_expand
    @line_magic
    @_handles_errors
    def kestra_executions(self, line: str = ""):
        """Recent executions as a DataFrame, newest first: id, namespace, flowId, state, startDate,
        duration and your labels (``--all``: every column, Kestra's ``labels.system.*`` included)."""
        from kestra_magic import frames
        from kestra_magic.errors import KestraNotFound
        args = parse_argstring(self.kestra_executions, line)
        if args.limit < 1:
            raise KestraMagicError("--limit must be a positive number", kind="UsageError")
        c = self._client()
        ns = flow_id = None
        if args.target:
            ns = args.target
            head, dot, tail = args.target.rpartition(".")
            if dot:
                try:
                    c.flows.get_flow(head, tail, source=False)
                    ns, flow_id = head, tail
                except KestraNotFound:
                    pass
        labels = dict(_split_pair(x, ":", "--label") for x in args.label) if args.label else None
        state = args.state[0] if args.state and len(args.state) == 1 else args.state
        page = c.executions.search_executions(namespace=ns, flow_id=flow_id, state=state, labels=labels,
                                              size=args.limit, sort="state.startDate:desc")
        frame = frames.executions_frame(list(page.results)[: args.limit])
        if args.all:
            return frame
        keep = [col for col in frame.columns if col in self.EXECUTION_COLUMNS
                or (col.startswith("labels.") and not col.startswith("labels.system."))]
        return frame[keep]

    @magic_arguments()
    @argument("namespace", nargs="?", help="only flows of this namespace")
    @no_var_expand
    @line_magic
    @_handles_errors
    def kestra_flows(self, line: str = ""):
        """Flows as a DataFrame (of one namespace, or all)."""
        from kestra_magic import frames
        args = parse_argstring(self.kestra_flows, line)
        c = self._client()
        if args.namespace:
            items = c.flows.list_flows_by_namespace(args.namespace)
        else:
            items = list(c.flows.search_flows(size=100).results)
        return frames.flows_frame(items)

    # -- actions --------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("execution_id", nargs="?", help="execution id (default: the last run)")
    @no_var_expand
    @line_magic
    @_handles_errors
    def kestra_kill(self, line: str = ""):
        """Kill an execution (default: the last run)."""
        args = parse_argstring(self.kestra_kill, line)
        h = self._execution(args.execution_id).kill()
        self._out(f"kill requested for execution {h.id}")

    @magic_arguments()
    @argument("execution_id", nargs="?", help="execution id (default: the last run)")
    @argument("--input", "-i", action="append", default=[], metavar="KEY=VALUE",
              help="an onResume input of the Pause task (repeatable; $var and @path as in %%kestra_run)")
    @no_var_expand
    @line_magic
    @_handles_errors
    def kestra_resume(self, line: str = ""):
        """Resume a PAUSED execution (default: the last run)."""
        from kestra_magic.notebook.inputs import resolve_inputs
        args = parse_argstring(self.kestra_resume, line)
        inputs, files = resolve_inputs(self.shell.user_ns, args.input, None, None)
        inputs.update(files)
        h = self._execution(args.execution_id).resume(inputs or None)
        self._out(f"resumed execution {h.id}")

    @magic_arguments()
    @argument("execution_id", nargs="?", help="execution id (default: the last run)")
    @argument("--revision", type=int, metavar="N", help="restart on this flow revision (a new execution)")
    @no_var_expand
    @line_magic
    @_handles_errors
    def kestra_restart(self, line: str = ""):
        """Restart a finished execution (default: the last run); returns its handle."""
        args = parse_argstring(self.kestra_restart, line)
        h = self._execution(args.execution_id).restart(revision=args.revision)
        self.last_execution = h
        self._out(f"restarted execution {h.id} ({h.state})")
        return h


def _check_var(var: str | None) -> None:
    if var is not None and not _IDENT.match(var):
        raise KestraMagicError(f"{var!r} is not a valid Python variable name", kind="UsageError")


def _split_pair(text: str, sep: str, option: str) -> tuple[str, str]:
    key, found, value = text.partition(sep)
    if not found or not key.strip():
        raise KestraMagicError(f"{option} {text!r} is not KEY{sep}VALUE", kind="UsageError")
    return key.strip(), value.strip()


def _password_for(username: str) -> str:
    """The password from $KESTRA_PASSWORD or a hidden prompt (never typed into a cell)."""
    pw = os.environ.get("KESTRA_PASSWORD")
    if pw:
        return pw
    pw = getpass.getpass(f"Kestra password for {username}: ")
    if not pw:
        raise KestraMagicError("no password: set KESTRA_PASSWORD or type it at the prompt",
                               kind="KestraConfigError")
    return pw


def _extra(fn: Callable[[], Any]) -> Any:
    """An extra of a summary (a link, a picture) after the main work succeeded: None when the
    server cannot give it (a KestraError), any other exception is a bug and propagates."""
    try:
        return fn()
    except KestraError:
        return None


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception:
        return default


def load_ipython_extension(ip) -> None:
    """Register the magics and the ``KestraMagic`` configurable on a shell."""
    from kestra_magic.notebook import completion
    from kestra_magic.notebook.display import register_frame_display
    magic = KestraMagic(shell=ip)
    ip.register_magics(magic)
    if magic not in ip.configurables:
        ip.configurables.append(magic)
    completion.register(ip)      # Tab completion and Shift+Tab help in Kestra cells
    register_frame_display(ip)   # durations in the package's frames read as `2.0 s`, dtype unchanged


def unload_ipython_extension(ip) -> None:
    """Remove the magics, the configurable and completion (so a later load starts fresh)."""
    from kestra_magic.notebook import completion
    from kestra_magic.notebook.display import unregister_frame_display
    completion.unregister(ip)
    unregister_frame_display(ip)
    mm = ip.magics_manager
    for kind in ("line", "cell"):
        for name in list(mm.magics[kind]):
            if name.startswith("kestra_"):
                del mm.magics[kind][name]
    mm.registry.pop("KestraMagic", None)
    ip.configurables[:] = [c for c in ip.configurables if not isinstance(c, KestraMagic)]
