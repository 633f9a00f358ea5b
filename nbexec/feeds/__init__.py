"""Market data, broker-neutral: the WebSocket, the reconnecting connection, the client base that
each broker's market-feed client (`brokers/<broker>/market_feed.py`) builds on, per-instrument
tick rings, and `Feed` with DataFrames on demand. Nothing here imports a broker."""
