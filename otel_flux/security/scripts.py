"""The Lua scripts in ``lua/`` and how they are run.

Redis runs a script as one chunk, so the shared helpers in ``common.lua`` (and
``ratelimit.lua`` for the check script) are put in front of each script's body
when it is loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

_LUA = resources.files("otel_flux.security").joinpath("lua")


class LuaScript:
    """A script run with EVALSHA; after a NOSCRIPT reply it is sent once with EVAL.

    EVAL also caches the script, so a Redis restart or ``SCRIPT FLUSH`` costs one
    extra round trip on the next call and none after it. There is no
    ``SCRIPT EXISTS`` check per call.
    """

    def __init__(self, *parts: str) -> None:
        self.source = "\n".join(_LUA.joinpath(f"{part}.lua").read_text() for part in parts)
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    async def run(self, redis: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)


CHECK = LuaScript("common", "ratelimit", "check")
RECORD_FAILURE = LuaScript("common", "record_failure")
