"""A bounded load run on this machine (`temporal-executor load`): the scripted LLM and tool it
runs against (`scripted`), the load runner and percentiles (`runner`), the command itself
(`command`). Shared with the benchmarks (`benchmarks/`)."""
