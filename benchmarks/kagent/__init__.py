"""kagent-adk, the Python agent runtime of kagent, as B2's baseline: run from a virtualenv of
its own (it needs a2a-sdk 0.3), in memory, with the same scripted LLM and tool as ours."""
