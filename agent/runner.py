"""``borderpath agent run``: the agent's life under signals.

SIGTERM or SIGINT stop it within STOP_TIMEOUT_S, leaving its routes in place.
SIGHUP reloads the config file after the checks of ``agent check``: a file that fails
them (whatever it holds) is refused with one line and the running config keeps going;
a good one restarts the parts with it (routes are reconciled, so nothing changes in
the kernel that the new config does not change). If the new config cannot start,
the agent goes back to the one it ran: a reload never stops it.
"""

import asyncio
import logging
import signal
from pathlib import Path

from borderpath.agent.config import AgentConfig
from borderpath.agent.preflight import checked
from borderpath.agent.service import Agent
from borderpath.core.errors import ConfigError

STOP_TIMEOUT_S = 5.0
log = logging.getLogger("borderpath.agent")


async def run(config_path: Path, config: AgentConfig) -> int:
    """Run the agent on ``config`` (already checked) until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stopping, reloading = asyncio.Event(), asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, reloading.set)
    agent = Agent(config)
    await agent.start()
    while await _next_signal(stopping, reloading) == "reload":
        agent = await _reload(agent, config_path)
    log.info("stopping")
    await asyncio.wait_for(agent.stop(), STOP_TIMEOUT_S)
    return 0


async def _next_signal(stopping: asyncio.Event, reloading: asyncio.Event) -> str:
    waits = {
        asyncio.create_task(stopping.wait()): "stop",
        asyncio.create_task(reloading.wait()): "reload",
    }
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    reloading.clear()
    return "stop" if stopping.is_set() else waits[done.pop()]


async def _reload(agent: Agent, config_path: Path) -> Agent:
    try:
        config = await agent.netlink(checked, config_path, agent.config)
    except ConfigError as exc:
        log.error("reload refused, the running config stays: %s", exc)
        return agent
    except Exception as exc:  # a bug in a check: still no reason to stop steering
        log.error("reload refused, the running config stays: %s: %s", type(exc).__name__, exc)
        return agent
    await agent.stop()
    try:
        replacement = await _started(config)
    except Exception as exc:
        log.error("the new config could not start (%s); going back to the running one", exc)
        return await _started(agent.config)
    log.info("config reloaded from %s", config_path)
    return replacement


async def _started(config: AgentConfig) -> Agent:
    agent = Agent(config)
    await agent.start()
    return agent
