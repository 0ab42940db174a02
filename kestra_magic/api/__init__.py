"""One class per Kestra resource, one method per operation (names as in Kestra's generated SDKs).

``client.flows`` (:class:`~kestra_magic.api.flows.FlowsApi`), ``client.executions``
(:class:`~kestra_magic.api.executions.ExecutionsApi`) and ``client.logs``
(:class:`~kestra_magic.api.logs.LogsApi`) all send through the client's one transport.
"""
