"""The HTTP layer around the routes: request context, access line, body limit, API keys,
client disconnects, drain on SIGTERM and the exception handlers."""
