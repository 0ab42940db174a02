"""Helpers for the replay tests: clients pointed at a ReplayServer, multipart decoding."""
from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP

from kestra_magic.runs import KestraClient
from kestra_magic.config import Configuration

EXEC_V1 = "4Jd9Rk8mAfnXQ2wKZ7oP1c"
EXEC_V2 = "7Mg2Un1pDiqaT5zNC0rS4f"
API = "/api/v1/main"


def make_client(rs, generation: int | None, **kw) -> KestraClient:
    settings = dict(url=rs.url, api_generation=generation, retries=0, backoff=0.01, not_found_grace=0.0,
                    username="admin@kestra.io", password="Repl4y-Secret-pw")
    settings.update(kw)
    return KestraClient(Configuration(**settings))


def multipart_parts(seen) -> list[tuple[str, str | None, bytes]]:
    """(name, filename, content) of each part of a recorded multipart/form-data request."""
    assert seen.ctype.startswith("multipart/form-data"), seen.ctype
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {seen.ctype}\r\n\r\n".encode() + seen.body)
    out = []
    for part in msg.iter_parts():
        out.append((part.get_param("name", header="content-disposition"), part.get_filename(),
                    part.get_payload(decode=True) or b""))
    return out
