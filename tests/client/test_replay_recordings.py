"""The recorded responses themselves are Kestra's shapes: each validates against the schema its
operation declares in Kestra's spec of that generation (with the sandbox suite's one list of
known spec defects), so the replay tests exercise the client on realistic bodies. The few
deliberate deviations (things real servers send that the specs do not allow) are listed here."""
from __future__ import annotations

import functools
import json

import pytest

from kestra_magic.sse import iter_events
from tests.client.replays.server import load
from tests.sandbox.openapi_check import spec_dict


@functools.lru_cache(maxsize=None)
def _validator(schema: str, generation: int):
    from openapi_schema_validator import OAS30Validator
    root = {"$ref": f"#/components/schemas/{schema}", "components": spec_dict(generation)["components"]}
    return OAS30Validator(root)


def check_schema(data, schema: str, generation: int) -> None:
    """Like tests.sandbox.openapi_check.check_schema, with one validator per schema (much faster)."""
    errors = sorted(_validator(schema, generation).iter_errors(data), key=str)
    assert not errors, f"{schema} ({generation}.x): " + "; ".join(
        f"{e.message} @ {'/'.join(map(str, e.absolute_path))}" for e in errors[:5])

# (generation, recording, schema in components/schemas)
RECORDINGS = [
    (1, "v1/configs.json", "MiscController.Configuration"),
    (1, "v1/execution_full.json", "Execution"),
    (1, "v1/execution_created.json", "ExecutionController.ExecutionResponse"),
    (1, "v1/flow_with_source.json", "FlowWithSource"),
    (2, "v2/configs.json", "MiscController.Configuration"),
    (2, "v2/configs_login.json", "MiscController.LoginConfiguration"),
    (2, "v2/execution_api.json", "ApiExecution"),
    (2, "v2/create_response.json", "ExecutionController.ExecutionResponse"),
    (2, "v2/create_wait.json", "ExecutionController.ExecutionResponse"),
    (2, "v2/action_execution.json", "Execution"),
    (2, "v2/flow_labels_map.json", "FlowWithSource"),
]
LISTS = [   # JSON arrays: each item against the item schema
    (1, "v1/logs.json", "LogEntry"),
    (1, "v1/validate.json", "ValidateConstraintViolation"),
    (2, "v2/logs.json", "LogEntry"),
]
PAGES = [(2, "v2/search_light.json", "PagedResults_ApiLightExecution_"), (2, "v2/search_flows.json", "PagedResults_Flow_")]
STREAMS = [   # SSE recordings: every non-start payload against the event's data schema
    (1, "v1/follow.sse", "Execution"), (2, "v2/follow_breakpoint.sse", "Execution"),
    (2, "v2/logs_follow.sse", "FollowLogEvent"),
]
# Deliberate deviations, each one a thing real servers do that the spec files do not describe:
#  v1/revisions.json     revision 3 carries labels as a map (older serializers; the client must cope)
#  v1/follow.sse         payloads trimmed to what the client reads (no required tenantId/originalId...)
#  v1/logs_follow.sse    1.x log events (the 1.3.0 spec lacks followLogsFromExecution altogether)
#  v2/follow_noend.sse   a stream cut before `end` (CRLF line endings)


@pytest.mark.parametrize("generation,name,schema", RECORDINGS, ids=[r[1] for r in RECORDINGS])
def test_recording_matches_its_schema(generation, name, schema):
    check_schema(load(name), schema, generation)


@pytest.mark.parametrize("generation,name,schema", LISTS + PAGES, ids=[r[1] for r in LISTS + PAGES])
def test_list_recordings_match(generation, name, schema):
    body = load(name)
    if isinstance(body, list):
        for item in body:
            check_schema(item, schema, generation)
    else:
        check_schema(body, schema, generation)


@pytest.mark.parametrize("generation,name,schema", STREAMS, ids=[r[1] for r in STREAMS])
def test_stream_recordings_match(generation, name, schema):
    events = list(iter_events([load(name)]))
    assert events[0].id == "start" and len(events) >= 3
    for event in events[1:]:
        data = json.loads(event.data)
        if schema == "Execution" and generation == 1:
            # trimmed payloads: only the members present are checked
            data = {**load("v1/execution_full.json"), **data}
        elif schema == "Execution":
            data = {**load("v2/action_execution.json"), **data}
        check_schema(data, schema, generation)
