"""Blocking I/O behind the domain ports: Docker SDK, paramiko, psutil, httpx."""
