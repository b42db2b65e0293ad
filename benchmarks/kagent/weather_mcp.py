"""The scripted tool as an MCP server (streamable HTTP, stateless, JSON answers): kagent-adk
takes tools only from MCP servers. Run with the kagent virtualenv's interpreter (mcp 1.x).

    python weather_mcp.py --port M --tool-url http://127.0.0.1:L/weather
"""

import argparse

import httpx
from mcp.server.fastmcp import FastMCP

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--tool-url", required=True)
args = parser.parse_args()

server = FastMCP(
    "weather", host="127.0.0.1", port=args.port, log_level="WARNING",
    stateless_http=True, json_response=True,
)  # fmt: skip
client = httpx.AsyncClient(timeout=10)


@server.tool()
async def get_weather(query: str) -> str:
    """Get the weather for a location."""
    response = await client.post(args.tool_url, json={"query": query})
    response.raise_for_status()
    return response.text


server.run(transport="streamable-http")
