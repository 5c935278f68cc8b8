"""The htmx UI: page routes, fragment and action routes, and the live SSE stream."""
