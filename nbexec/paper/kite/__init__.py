"""The paper exchange's Kite Connect v3 front end: REST, rendering, ticker."""
