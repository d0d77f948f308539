"""Translations between a client dialect and the core's requests and answers, for the doors
whose dialect is not the core's own (chat completions)."""
