"""Log and internal-storage file routes: list/download/follow logs, /file, /file/metas, /file/preview."""
from __future__ import annotations

from pathlib import Path

from typing import Callable

from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from kestra_magic.sandbox import files as filesmod
from kestra_magic.sandbox import shapes, sse, states
from kestra_magic.sandbox.backend import OtherExecution
from kestra_magic.sandbox.http import (Handlers, Redirect, attachment as _attachment, empty as _empty,
                                       json_response as _json)
from kestra_magic.sandbox.problems import bad_request, illegal_argument
from kestra_magic.sandbox.query import (LOG_FIELDS, LOG_FILTERS, Filter, int_param, legacy_filters, matches,
                                        parse_filters, sort_and_page)


class LogFileHandlers(Handlers):
    """/logs and the files of an execution."""

    # -- logs -------------------------------------------------------------------------------
    def _log_filter(self, request) -> Callable[[dict], bool]:
        args = request.args
        if self.gen == 2:
            filters = parse_filters(args, LOG_FILTERS)
            return lambda entry: matches(entry, filters, LOG_FIELDS)
        min_level = (args.get("minLevel") or "").upper() or None
        if min_level is not None and min_level not in shapes.LEVELS:
            raise bad_request(f"Failed to convert argument [minLevel] for value [{args.get('minLevel')}]: "
                              f"use one of {', '.join(shapes.LEVELS)}")
        task_id, task_run_id = args.get("taskId"), args.get("taskRunId")
        attempt = int_param(args, "attempt", 0, minimum=0) if args.get("attempt") else None
        floor = shapes.LEVELS.index(min_level) if min_level else 0

        def keep(entry: dict) -> bool:
            level = entry.get("level")
            return ((level not in shapes.LEVELS or shapes.LEVELS.index(level) >= floor)
                    and (task_id is None or entry.get("taskId") == task_id)
                    and (task_run_id is None or entry.get("taskRunId") == task_run_id)
                    and (attempt is None or entry.get("attemptNumber") == attempt))
        return keep

    def h_logs_list(self, request, tenant, execution_id):
        keep = self._log_filter(request)
        return _json([shapes.log_entry(e, self.gen) for e in self.backend.logs(execution_id) if keep(e)])

    def h_logs_download(self, request, tenant, execution_id):
        keep = self._log_filter(request)
        lines = [f"{e.get('timestamp')} {e.get('level')} {e.get('message')}"
                 for e in self.backend.logs(execution_id) if keep(e)]
        resp = Response("\n".join(lines), content_type="text/plain")
        resp.headers["Content-Disposition"] = _attachment(f"{execution_id}.log", quoted=False)
        ex = self.backend.find_execution(execution_id)
        if ex is not None and not states.is_terminal(ex["state"]["current"]):
            resp.headers["Cache-Control"] = "no-cache"
        return resp

    def h_logs_follow(self, request, tenant, execution_id):
        keep = self._log_filter(request)
        stream = sse.follow_logs(self.backend, execution_id, self.gen, keep, self.ctx.is_stopping,
                                 self.ctx.faults.take_sse_limit())
        return self.sse(stream)

    def h_logs_search(self, request, tenant):
        """All executions' logs, filtered and paged (2.x adds ``type``/``nextCursor`` and ``cursor``)."""
        args = request.args
        filters = parse_filters(args, LOG_FILTERS)
        if not filters and self.gen == 1:
            filters = legacy_filters(args, {"q": "CONTAINS", "namespace": "PREFIX", "flowId": "EQUALS"})
            min_level = (args.get("minLevel") or "").upper()
            if min_level:
                if min_level not in shapes.LEVELS:
                    raise bad_request(f"Failed to convert argument [minLevel] for value [{args.get('minLevel')}]: "
                                      f"use one of {', '.join(shapes.LEVELS)}")
                filters.append(Filter("level", "GREATER_THAN_OR_EQUAL_TO", min_level))
        entries = [e for e in self.backend.all_logs() if matches(e, filters, LOG_FIELDS)]
        cursor = args.get("cursor")
        if self.gen == 2 and cursor:
            # a CURSOR page: the offset after the previous page, opaque to the client
            try:
                offset = int(cursor, 16)
            except ValueError:
                raise bad_request(f"Invalid cursor '{cursor}': pass back the nextCursor of the previous page",
                                  slug="invalid-query-parameter") from None
            size = int_param(args, "size", 10)
            from werkzeug.datastructures import MultiDict
            ordered, _ = sort_and_page(entries, MultiDict([("sort", s) for s in args.getlist("sort")
                                                           or ["timestamp:desc"]] + [("size", str(len(entries) or 1))]),
                                       LOG_FIELDS)
            page = ordered[offset:offset + size]
            body = {"results": [shapes.log_entry(e, self.gen) for e in page], "type": "CURSOR"}
            if offset + size < len(ordered):
                body["nextCursor"] = format(offset + size, "x")
            return _json(body)
        page, total = sort_and_page(entries, args, LOG_FIELDS, default_sort="timestamp:desc")
        body = {"results": [shapes.log_entry(e, self.gen) for e in page], "total": total}
        if self.gen == 2:
            body["type"] = "OFFSET"
        return _json(body)

    def h_logs_delete(self, request, tenant, execution_id):
        self.backend.delete_logs(execution_id, self._log_filter(request))
        return _empty(200)

    def h_logs_delete_flow(self, request, tenant, namespace, flow_id):
        self.backend.delete_flow_logs(namespace, flow_id, request.args.get("triggerId"))
        return _empty(200)

    # -- files ------------------------------------------------------------------------------
    def _file(self, request, execution_id: str) -> tuple[str, Path]:
        self.execution(execution_id)
        uri = request.args.get("path")
        if not uri:
            raise bad_request("Required QueryValue [path] not specified", slug="invalid-query-parameter")
        try:
            return self.backend.execution_file(execution_id, uri)
        except OtherExecution as other:    # Kestra redirects (301) to that execution's endpoint
            raise Redirect(request.url.replace(f"/executions/{execution_id}/",
                                               f"/executions/{other.execution_id}/", 1)) from None

    def h_file_download(self, request, tenant, execution_id):
        uri, path = self._file(request, execution_id)
        name = uri.rsplit("/", 1)[-1]
        fmt = (request.args.get("format") or "RAW").upper()
        if self.gen == 2 and fmt not in ("RAW", "JSONL"):
            raise bad_request(f"Failed to convert argument [format] for value [{request.args.get('format')}]: "
                              f"use RAW or JSONL", slug="invalid-query-parameter")
        if self.gen == 2 and fmt == "JSONL" and filesmod.extension(uri) == "ion":
            try:
                data = filesmod.to_jsonl(path.read_bytes())
            except Exception as exc:
                raise illegal_argument(f"Unable to convert {name} to JSONL: {exc}") from None
            resp = Response(data, content_type="application/x-ndjson")
            resp.headers["Content-Disposition"] = _attachment(f'{name.rsplit(".", 1)[0]}.jsonl')
            return resp
        # streamed from disk (Content-Length set), never loaded whole into memory
        resp = send_file(path, request.environ, mimetype="application/octet-stream", conditional=False, etag=False)
        resp.headers["Content-Disposition"] = _attachment(name)
        return resp

    def h_file_metas(self, request, tenant, execution_id):
        uri, path = self._file(request, execution_id)
        return _json({"size": path.stat().st_size})

    def h_file_preview(self, request, tenant, execution_id):
        uri, path = self._file(request, execution_id)
        data = path.read_bytes()
        max_rows = int_param(request.args, "maxRows", filesmod.PREVIEW_INITIAL_ROWS)
        encoding = request.args.get("encoding")
        try:
            return _json(filesmod.preview(uri, data, max_rows, encoding))
        except LookupError:
            raise illegal_argument(f"Unable to preview using encoding '{encoding}'") from None
        except Exception as exc:
            raise illegal_argument(f"Unable to preview {uri}: {exc}") from None
