"""The paper exchange's Dhan v2 front end: REST, wire shapes, WebSockets."""
