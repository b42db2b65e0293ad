"""kagent-adk 0.10.4 serving the agent an `AgentConfig` describes, in memory, on 127.0.0.1:
run with the interpreter of kagent-adk's own virtualenv (`benchmarks/versus.py`
`kagent_python` makes it), as `benchmarks/kagent/app.py` does for the benchmark's agent.

    python adk_app.py --port P --name NAME --config agent-config.json

Its card is A2A 0.3's (kagent 0.10 speaks JSON-RPC 0.3 only), with the RPC `url`. No kagent
code is changed: `KAgentApp.build(local=True)` is its in-memory mode (sessions and tasks in
memory, no controller).
"""

import argparse
import json
import os

import uvicorn

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--name", required=True)
parser.add_argument("--config", required=True)
args = parser.parse_args()

os.environ.setdefault("LOG_LEVEL", "WARNING")  # kagent configures logging on import
os.environ.setdefault("OPENAI_API_KEY", "sk-test")  # its OpenAI model reads the environment

from a2a.types import AgentCapabilities, AgentCard  # noqa: E402
from kagent.adk import AgentConfig, KAgentApp  # noqa: E402

with open(args.config, encoding="utf-8") as file:
    config = AgentConfig.model_validate(json.load(file))
card = AgentCard(
    name=args.name,
    description=config.description,
    url=f"http://127.0.0.1:{args.port}/",
    version="0.1.0",
    protocol_version="0.3.0",
    capabilities=AgentCapabilities(streaming=True),
    default_input_modes=["text"],
    default_output_modes=["text"],
    skills=[],
)
app = KAgentApp(
    lambda: config.to_agent(args.name),
    card,
    "http://127.0.0.1:9",  # the controller's URL: unused in local mode
    f"test__NS__{args.name}",
    stream=False,
    agent_config=config,
).build(local=True)

uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
