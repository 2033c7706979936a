"""The wire layer: Pinpoint's REST-JSON protocol over ASGI (routing, bodies, errors, auth)."""
