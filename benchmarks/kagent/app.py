"""kagent-adk 0.10.4 serving one agent on 127.0.0.1, in memory: run with the interpreter of
its own virtualenv (`benchmarks/versus.py` `kagent_python` makes it).

`kagent-adk static` always wires sessions and tasks to a kagent controller, so this builds
the app as `static` does but with `KAgentApp.build(local=True)`, its in-memory mode (sessions
and tasks in memory). kagent takes tools only from MCP servers: the tool is `weather_mcp.py`,
an MCP server in front of the scripted tool. No kagent code is changed. Its card is A2A 0.3's
(kagent 0.10 speaks JSON-RPC 0.3 only), with the RPC `url`.

    python app.py --port P --llm-url http://127.0.0.1:L/v1 --mcp-url http://127.0.0.1:M/mcp
    python app.py --port P --name NAME --config agent-config.json   # any AgentConfig (tests)
"""

import argparse
import json
import os

import uvicorn

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--llm-url")
parser.add_argument("--mcp-url")
parser.add_argument("--name", default="weather_agent")
parser.add_argument("--config", help="an AgentConfig as JSON, instead of the benchmark's agent")
args = parser.parse_args()

# kagent configures logging when it is imported, from LOG_LEVEL (INFO by default).
os.environ["LOG_LEVEL"] = "WARNING"
# Its OpenAI model has no api_key field: the SDK reads the environment.
os.environ.setdefault("OPENAI_API_KEY", "sk-bench")

from a2a.types import AgentCapabilities, AgentCard, AgentSkill  # noqa: E402
from kagent.adk import AgentConfig, KAgentApp  # noqa: E402

if args.config:
    with open(args.config, encoding="utf-8") as file:
        definition = json.load(file)
else:
    definition = {
        "model": {"type": "openai", "model": "gpt-4o-mini", "base_url": args.llm_url},
        "description": "Weather agent (benchmark)",
        "instruction": "You are a weather assistant.",
        "http_tools": [
            {"params": {"url": args.mcp_url, "timeout": 10.0}, "tools": ["get_weather"]}
        ],
        "stream": False,
    }
config = AgentConfig.model_validate(definition)
card = AgentCard(
    name=args.name,
    description=config.description,
    url=f"http://127.0.0.1:{args.port}/",
    version="0.1.0",
    protocol_version="0.3.0",
    capabilities=AgentCapabilities(streaming=True),
    default_input_modes=["text"],
    default_output_modes=["text"],
    skills=[AgentSkill(id="weather", name="weather", description="weather", tags=["weather"])],
)
app = KAgentApp(
    lambda: config.to_agent(args.name),
    card,
    "http://127.0.0.1:9",  # the controller's URL: unused in local mode
    f"bench__NS__{args.name}",
    stream=False,
    agent_config=config,
).build(local=True)

uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
