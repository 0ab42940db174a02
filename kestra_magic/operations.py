"""Operation descriptors: every Kestra operation the client performs, as data.

Each :class:`Operation` is named as in Kestra's generated SDKs (``"ExecutionsAPIService.KillExecution"``,
the keys of per-operation servers) and says its HTTP method, its path on each API generation, and
whether it creates something (never re-sent once it may have reached the server) or is safe to send
again. The transport reads these instead of per-call flags; ``kestra_magic.compat`` is the one place
that picks the path of the server's generation. Stdlib only: ``kestra_magic.config`` imports it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Operation", "OPERATIONS", "get"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class Operation:
    """One Kestra API operation.

    ``paths`` maps an API generation to a path template: relative to ``/api/v1/{tenant}/``, or
    absolute when it starts with ``/``. ``legacy`` holds pre-release variants of a generation's
    path (tried only when the current one answers 404). ``creates``: the request makes something
    (an execution, a flow); ``safe``: it may be sent again after a failure (idempotent, not a create).
    """
    name: str
    method: str
    paths: Mapping[int, str]
    creates: bool = False
    idempotent: bool | None = None        # None: from the method (GET/PUT/DELETE...)
    legacy: Mapping[int, str] = field(default_factory=dict)

    @property
    def safe(self) -> bool:
        """Whether a failed attempt may be sent again (never for a create)."""
        if self.creates:
            return False
        return self.idempotent if self.idempotent is not None else self.method in _IDEMPOTENT

    @property
    def varies(self) -> bool:
        """Whether the path depends on the server's generation (then it must be known first)."""
        return len(set(self.paths.values())) > 1 or len(self.paths) == 1

    @property
    def nickname(self) -> str:
        return self.name.rsplit(".", 1)[-1]


def _both(name: str, method: str, path: str, **kw) -> Operation:
    return Operation(name, method, {1: path, 2: path}, **kw)


def _actions(name: str, method: str, action: str, **kw) -> Operation:
    """2.x moved single-execution actions under ``actions/`` (kestra-api-2.md §3)."""
    return Operation(name, method, {1: f"executions/{{executionId}}/{action}",
                                    2: f"executions/{{executionId}}/actions/{action}"}, **kw)


_F, _E, _O, _L, _M, _P = ("FlowsAPIService.", "ExecutionsAPIService.", "OutputsAPIService.", "LogsAPIService.",
                          "MiscAPIService.", "PluginsAPIService.")
_N = "NamespacesAPIService."

OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    _both(_F + "CreateFlow", "POST", "flows", creates=True),
    _both(_F + "UpdateFlow", "PUT", "flows/{namespace}/{id}"),
    _both(_F + "GetFlow", "GET", "flows/{namespace}/{id}"),
    _both(_F + "DeleteFlow", "DELETE", "flows/{namespace}/{id}"),
    _both(_F + "SearchFlows", "GET", "flows/search"),
    _both(_F + "ListFlowsByNamespace", "GET", "flows/{namespace}"),
    _both(_F + "ValidateFlows", "POST", "flows/validate", idempotent=True),
    _both(_F + "ListFlowRevisions", "GET", "flows/{namespace}/{id}/revisions"),
    _both(_E + "CreateExecution", "POST", "executions/{namespace}/{id}", creates=True),
    _both(_E + "GetExecution", "GET", "executions/{executionId}"),
    _both(_E + "SearchExecutions", "GET", "executions/search"),
    _both(_E + "FollowExecution", "GET", "executions/{executionId}/follow"),
    _actions(_E + "KillExecution", "DELETE", "kill"),
    _actions(_E + "RestartExecution", "POST", "restart", creates=True),
    _actions(_E + "ResumeExecution", "POST", "resume"),
    _actions(_E + "ReplayExecution", "POST", "replay", creates=True),
    _actions(_E + "PauseExecution", "POST", "pause"),
    _both(_E + "DeleteExecution", "DELETE", "executions/{executionId}"),
    _both(_E + "DownloadFileFromExecution", "GET", "executions/{executionId}/file"),
    _both(_E + "GetFileMetadatasFromExecution", "GET", "executions/{executionId}/file/metas"),
    _both(_E + "PreviewFileFromExecution", "GET", "executions/{executionId}/file/preview"),
    # 2.x only: 1.x keeps outputs inside the execution (kestra-api-2.md §4.3, pre-release short paths)
    Operation(_O + "GetExecutionOutputs", "GET", {2: "outputs/executions/{executionId}"}),
    Operation(_O + "GetTaskOutputsInformation", "GET", {2: "outputs/tasks/{executionId}"},
              legacy={2: "outputs/{executionId}"}),
    Operation(_O + "GetTaskRunOutputs", "GET", {2: "outputs/tasks/{executionId}/{taskRunId}"},
              legacy={2: "outputs/{executionId}/{taskRunId}"}),
    _both(_L + "ListLogsFromExecution", "GET", "logs/{executionId}"),
    _both(_L + "DownloadLogsFromExecution", "GET", "logs/{executionId}/download"),
    _both(_L + "FollowLogsFromExecution", "GET", "logs/{executionId}/follow"),
    _both(_M + "GetConfiguration", "GET", "/api/v1/configs"),
    _both(_M + "GetLoginConfiguration", "GET", "/api/v1/configs/login"),
    # plugin documentation is instance-wide: no tenant segment on either generation (both specs)
    _both(_P + "ListPlugins", "GET", "/api/v1/plugins"),
    _both(_P + "GetPluginDocumentation", "GET", "/api/v1/plugins/{cls}"),
    _both(_P + "GetSchemasFromType", "GET", "/api/v1/plugins/schemas/{type}"),
    _both(_P + "GetAllInputTypes", "GET", "/api/v1/plugins/inputs"),
    _both(_F + "GenerateFlowGraph", "GET", "flows/{namespace}/{id}/graph"),
    # namespace files: same routes on both generations (both specs); an upload of the same bytes
    # again only adds an identical revision, so it may be re-sent
    _both(_N + "CreateNamespaceFile", "POST", "namespaces/{namespace}/files", idempotent=True),
    _both(_N + "GetFileContent", "GET", "namespaces/{namespace}/files"),
    _both(_N + "GetFileMetadatas", "GET", "namespaces/{namespace}/files/stats"),
    _both(_N + "ListNamespaceDirectoryFiles", "GET", "namespaces/{namespace}/files/directory"),
    _both(_N + "DeleteFileDirectory", "DELETE", "namespaces/{namespace}/files"),
    # the kestra-magic sandbox only: a signed read-only page link (Kestra answers 404; the UI link is used)
    _both("SandboxAPIService.CreateUiLink", "POST", "sandbox/ui-links", idempotent=True),
)}


def get(name: str) -> Operation:
    """The descriptor of an operation key (``KeyError`` for an unknown one: a bug in the caller)."""
    return OPERATIONS[name]
