"""The paper exchange: one matching engine behind Kite v3 and Dhan v2 front ends, on loopback."""
