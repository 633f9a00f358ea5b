"""Market data: WebSocket clients for Kite and Dhan, per-instrument tick rings, DataFrames on demand."""
