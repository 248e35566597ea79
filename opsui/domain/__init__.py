"""Plain-Python core: models, ports, safety and the sanitiser. No UI or I/O libraries."""
