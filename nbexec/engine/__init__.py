"""The OMS: accounts, signals, sizing, fan-out, routing, reconciliation."""
