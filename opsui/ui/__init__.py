"""The Textual user interface. Talks to the domain only, never to docker or paramiko."""
