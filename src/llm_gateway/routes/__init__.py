"""HTTP routes: thin doors that parse, call the gateway core and render."""
