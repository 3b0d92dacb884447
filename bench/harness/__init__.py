"""Benchmark harness: TraceForge's proxy against peer proxies, driven from separate processes."""
